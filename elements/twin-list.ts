// SPDX-License-Identifier: MIT
/**
 * @module elements/twin-list
 * `<twin-list>`: an array of a store rendered from a `<template>`, one copy per item, kept in
 * step with the array by touching only the items that changed.
 */
import type { Json } from '../src/index.js';
import { Signal } from '../src/index.js';
import type { Path, Scope } from './internal.js';
import { define, DEV_MODE, ITEM, parseKey, TwinElement, untracked, valueAt, warn, watchValue, writeAt } from './internal.js';

/** Marks the items the server rendered; the live list replaces them. */
const SSR_MARK = 'data-twin-ssr';

/** One rendered item: its nodes, and the signal its bindings read it from. */
interface Item {
  readonly value: InstanceType<typeof Signal.State<unknown>>;
  readonly nodes: readonly Node[];
  readonly scope: Scope;
}

/** Writes `value` at `path` below `item` (`[]`: the item itself), wherever the item is now. */
type ItemWrite = (item: Item, path: Path, value: Json) => void;

/**
 * Renders the array at `key` with its `<template>` child: one copy of the template per item,
 * placed after the template. Inside a copy, keys are relative to the item (`key="."` or
 * `key=""` is the item itself), and elements without `store` read from the item.
 *
 * When the array changes, items are matched to the ones already rendered by identity (a store
 * object keeps its identity while it stays in the store), then, for those left, by equal
 * content (so a sorted or reversed list moves its DOM instead of rebuilding it). Only new items
 * are rendered, only removed ones are removed, and the fewest nodes are moved. A field changed
 * inside one item updates only that item's bindings: each watches its own key.
 *
 * Items rendered by the server (marked `data-twin-ssr`) are replaced on upgrade.
 *
 * ```html
 * <ul><twin-list store="chat_room" key="messages">
 *   <template><li><b><twin-bind key="author"></twin-bind></b> <twin-bind key="text"></twin-bind></li></template>
 * </twin-list></ul>
 * ```
 *
 * @slot - the `<template>` of one item, and the rendered items
 */
export class TwinListElement extends TwinElement {
  protected bind(scope: Scope): (() => void) | void {
    const template = [...this.children].find((el): el is HTMLTemplateElement => el instanceof HTMLTemplateElement);
    if (!template) {
      if (DEV_MODE) warn('template', '<twin-list> needs a <template> child: the markup of one item.');
      return;
    }
    if (this.querySelector(`:scope > [${SSR_MARK}]`)) {
      for (const node of [...this.childNodes]) if (node !== template) node.remove();
    }
    const path = parseKey(this.getAttribute('key'));
    let array: unknown;
    let items: Item[] = [];
    let shown: unknown[] = [];
    const read = () => {
      array = valueAt(scope.value(), path);
      return Array.isArray(array) ? Array.from(array as unknown[]) : [];
    };
    const update = (values: unknown[]) => {
      if (sameItems(shown, values)) return;
      shown = values;
      items = this.__update(items, values, template, write, scope.store);
    };
    /**
     * An item's write. The list first catches up with its array, as the effect will in a
     * microtask: a write in the same turn as a change of the array (an `unshift`, then an
     * input event) must reach the item where it is now, not where it was last rendered.
     */
    const write = (item: Item, itemPath: Path, value: Json) => {
      untracked(() => update(read()));
      const index = items.indexOf(item);
      if (index < 0) return; // the item left the array in the same turn
      if (itemPath.length) writeAt(item.value.get(), itemPath, value);
      else writeAt(array, [index], value);
    };
    const stop = watchValue(read, update, sameItems);
    return () => {
      stop();
      for (const item of items) for (const node of item.nodes) node.parentNode?.removeChild(node);
      items = [];
      shown = [];
    };
  }

  /** Makes the rendered items match `values`; returns the new items in order. */
  private __update(old: Item[], values: unknown[], template: HTMLTemplateElement, write: ItemWrite, store: string | undefined): Item[] {
    const next: (Item | undefined)[] = new Array(values.length);
    const byIdentity = new Map<unknown, Item>();
    for (const item of old) {
      const value = item.value.get();
      if (typeof value === 'object' && value !== null && !byIdentity.has(value)) byIdentity.set(value, item);
    }
    const unmatched: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const item = byIdentity.get(values[i]);
      if (item) {
        byIdentity.delete(values[i]);
        next[i] = item;
      } else {
        unmatched.push(i);
      }
    }
    const used = new Set(next);
    let leftover = old.filter((item) => !used.has(item));
    if (unmatched.length && leftover.length) {
      // Items that came back as copies (sort, reverse, a move): reuse their DOM by content.
      const byContent = new Map<string, Item[]>();
      for (const item of leftover) {
        const key = contentKey(item.value.get());
        const same = byContent.get(key);
        if (same) same.push(item);
        else byContent.set(key, [item]);
      }
      for (const i of unmatched) {
        const item = byContent.get(contentKey(values[i]))?.shift();
        if (!item) continue;
        next[i] = item;
        used.add(item);
        item.value.set(values[i]);
      }
      leftover = leftover.filter((item) => !used.has(item));
    }
    // A value changed in place (a field typed into, a primitive item rewritten): the item at
    // that position shows the new value, so the control being typed in stays where it is.
    for (const i of unmatched) {
      const item = old[i];
      if (next[i] || !item || used.has(item)) continue;
      next[i] = item;
      used.add(item);
      item.value.set(values[i]);
    }
    leftover = leftover.filter((item) => !used.has(item));
    for (const item of leftover) for (const node of item.nodes) node.parentNode?.removeChild(node);

    const oldIndex = new Map(old.map((item, i) => [item, i]));
    const order: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const item = next[i] ?? (next[i] = this.__create(template, values[i], write, store));
      order.push(oldIndex.get(item) ?? -1);
    }
    const items = next as Item[];
    // Items on the longest run already in order stay; every other one is inserted before its successor.
    const stay = longestIncreasing(order);
    let anchor: Node | null = null;
    for (let i = items.length - 1; i >= 0; i--) {
      const { nodes } = items[i]!;
      if (!stay.has(i)) for (const node of nodes) this.insertBefore(node, anchor);
      if (nodes.length) anchor = nodes[0]!;
    }
    return items;
  }

  /** A new item: a copy of the template whose nodes carry the item's scope. */
  private __create(template: HTMLTemplateElement, value: unknown, write: ItemWrite, store: string | undefined): Item {
    const fragment = document.importNode(template.content, true);
    const state = new Signal.State<unknown>(value);
    const item: Item = {
      value: state,
      nodes: [...fragment.childNodes],
      scope: { store, value: () => state.get(), write: (path, v) => write(item, path, v) },
    };
    for (const node of item.nodes) (node as { [ITEM]?: Scope })[ITEM] = item.scope;
    return item;
  }
}

function sameItems(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => Object.is(value, b[i]));
}

function contentKey(value: unknown): string {
  return String(JSON.stringify(value));
}

/** The indices of a longest strictly increasing run of `seq` (ignoring -1s). */
function longestIncreasing(seq: readonly number[]): Set<number> {
  const tails: number[] = [];
  const prev: number[] = new Array(seq.length).fill(-1);
  for (let i = 0; i < seq.length; i++) {
    const v = seq[i]!;
    if (v < 0) continue;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seq[tails[mid]!]! < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1]!;
    tails[lo] = i;
  }
  const keep = new Set<number>();
  for (let i = tails.length ? tails[tails.length - 1]! : -1; i >= 0; i = prev[i]!) keep.add(i);
  return keep;
}

define('twin-list', TwinListElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-list': TwinListElement;
  }
}
