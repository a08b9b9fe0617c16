// SPDX-License-Identifier: MIT
/**
 * @module elements/twin-presence
 * `<twin-presence>`: who is here in a shared store, rendered from a `<template>`, one copy per
 * peer, like `<twin-list>` items; the page's own entry is marked with a `self` attribute.
 */
import { presence } from '../src/index.js';
import type { Peer } from '../src/index.js';
import { Signal } from '../src/index.js';
import type { Scope } from './internal.js';
import { define, DEV_MODE, ITEM, reportError, TwinElement, warn, watchValue } from './internal.js';

/** One rendered peer: its nodes and the signal its bindings read its state from. */
interface Shown {
  readonly state: InstanceType<typeof Signal.State<unknown>>;
  readonly nodes: readonly Node[];
}

/**
 * Renders the peers of `store` with its `<template>` child: one copy per peer, in the order of
 * `presence(store)` (this page first, once it published). Inside a copy, keys are relative to
 * the peer's state (`key="name"`; `key="."` is the state itself). Each top-level element of the
 * page's own copy carries a `self` attribute, for styling (`[self] { font-weight: bold }`).
 * A peer whose state changes updates only its own bindings.
 *
 * The page publishes its own state with `setPresence(store, state)`, or from markup with a
 * `<twin-bind presence>`: its key is then a key of the page's own presence state, and a form
 * control inside writes it (`<twin-bind store="chat_room" presence key="typing"><input
 * type="checkbox"></twin-bind>`).
 *
 * ```html
 * <ul><twin-presence store="chat_room">
 *   <template><li><twin-bind key="name"></twin-bind></li></template>
 * </twin-presence></ul>
 * ```
 *
 * @attr store - the shared store whose peers to show (`{param}` filled from the page's query)
 * @slot - the `<template>` of one peer, and the rendered peers
 */
export class TwinPresenceElement extends TwinElement {
  protected bind(scope: Scope): (() => void) | void {
    const template = [...this.children].find((el): el is HTMLTemplateElement => el instanceof HTMLTemplateElement);
    if (!template) {
      if (DEV_MODE) warn('template', '<twin-presence> needs a <template> child: the markup of one peer.');
      return;
    }
    let shown = new Map<string, Shown>();
    let order = '';
    const stop = watchValue(() => presence(scope.value() as object), (peers) => {
      const next = new Map<string, Shown>();
      for (const peer of peers) {
        let item = shown.get(peer.id);
        if (item) item.state.set(peer.state);
        else item = this.__create(template, peer, scope.store);
        for (const node of item.nodes) if (node instanceof Element) node.toggleAttribute('self', peer.self);
        next.set(peer.id, item);
      }
      for (const [id, item] of shown) if (!next.has(id)) for (const node of item.nodes) node.parentNode?.removeChild(node);
      const nextOrder = [...next.keys()].join(' ');
      const added = [...next.values()].some((item) => !item.nodes[0]?.parentNode);
      // Peers come and go far more often than they reorder: move nodes only when needed.
      if (added || nextOrder !== order) for (const item of next.values()) this.append(...item.nodes);
      shown = next;
      order = nextOrder;
    });
    return () => {
      stop();
      for (const item of shown.values()) for (const node of item.nodes) node.parentNode?.removeChild(node);
      shown = new Map();
      order = '';
    };
  }

  /** A peer's copy of the template: its nodes carry the peer's state as their scope (read-only). */
  private __create(template: HTMLTemplateElement, peer: Peer, store: string | undefined): Shown {
    const fragment = document.importNode(template.content, true);
    const state = new Signal.State<unknown>(peer.state);
    const nodes = [...fragment.childNodes];
    const scope: Scope = {
      store,
      value: () => state.get(),
      write: () => reportError(new TypeError(DEV_MODE ? '<twin-presence>: a peer\'s state is read-only; publish your own with <twin-bind presence> or setPresence().' : 'twin-presence'), store),
    };
    for (const node of nodes) (node as { [ITEM]?: Scope })[ITEM] = scope;
    return { state, nodes };
  }
}

define('twin-presence', TwinPresenceElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-presence': TwinPresenceElement;
  }
}
