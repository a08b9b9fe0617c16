// SPDX-License-Identifier: MIT
/**
 * @module render-html
 * Server-side rendering of the declarative twin elements in an HTML page, so the first paint
 * already shows current values, plus the hydration data the browser resumes from (ARCHITECTURE.md,
 * "The read path").
 *
 * The page is parsed with parse5 (a spec-compliant HTML parser, `html-tree.ts`), the twin
 * elements are filled in on the tree (each binding by `render-bindings.ts`, under the same
 * binding policy as the browser, `src/binding-policy.ts`), and the tree is serialized again,
 * so every value goes through parse5's own text and attribute escaping. The vocabulary rendered here is the one the browser runtime
 * implements; the two must agree, or the page would change on hydration.
 *
 * Every call works on its own tree and its own store data: nothing is cached between
 * requests, so one reader's state can never reach another reader's page.
 */
import { debuglog } from 'node:util';
import { defaultTreeAdapter, html as spec, serialize } from 'parse5';
import { fillStoreName } from '../src/store-name.js';
import type { Json } from '../src/json.js';
import type { TwinError } from '../src/errors.js';
import type { Document, DocumentFragment, Element, ParentNode } from './html-tree.js';
import { ASCII_WHITESPACE, cloneNode, getAttr, headOf, isElement, isHtml, isTemplate, parseInput, setAttr } from './html-tree.js';
import { renderBind, renderShow, valueAt } from './render-bindings.js';

/** The data of a shared store as the page is rendered: its value at version `v`. */
export interface SharedStoreData {
  kind: 'shared';
  value: Json;
  /** The store's version; the browser subscribes "since `v`" and gets only later changes. */
  v: number;
}

/** The initial value of a local (per-tab) store, and where the browser persists it. */
export interface LocalStoreData {
  kind: 'local';
  value: Json;
  persist?: 'local' | 'session';
  /** The browser mirrors the store to a cookie (`LocalOptions.cookie`). */
  cookie?: true;
}

/** What {@link PageData.store} returns for a store the reader may see. */
export type StoreData = SharedStoreData | LocalStoreData;

/** Everything {@link renderPage} needs to know about one request. */
export interface PageData {
  /** The request URL; `{name}` placeholders in store names are filled from its query parameters. */
  url: URL;
  /**
   * The data of a store by full name (e.g. `'chat_room'` or `'room/general'`); `undefined` if
   * there is no such store or the reader may not see it. Called once per distinct name, all
   * names in parallel. The value must not change after the promise resolves (return a
   * snapshot), since it is read after every store has been fetched.
   */
  store(name: string): Promise<StoreData | undefined>;
  /** Store names always put in the hydration data (the app's local stores), even if no element names them. */
  include?: readonly string[];
  /**
   * Hears each binding the binding policy refused (`TWIN_ERR_UNSAFE`: an `on*` attribute, a
   * `javascript:` URL...), which renders without it. Default: `NODE_DEBUG=twin:server` logs it.
   */
  onUnsafe?: (error: TwinError) => void;
}

const debug = debuglog('twin:server');

/** The id of the JSON script element the browser runtime hydrates from. */
const HYDRATION_ID = 'twin-hydration';
/** Marks list items rendered on the server, so the browser can replace them with live ones. */
const SSR_MARK = 'data-twin-ssr';
/** `<meta name="twin-stores" content="a b">` lists stores a page needs that no element names. */
const STORES_META = 'twin-stores';

/**
 * Renders the twin elements of `html` with current store values and adds the hydration data.
 *
 * - `<twin-bind>` gets the value as text, as an attribute (`attr`) or class (`toggle`) of its
 *   first element child, or as the current value of a form control it wraps; `prop` bindings
 *   are left to the browser.
 * - `<twin-show>` gets or loses `hidden`.
 * - `<twin-list>` gets one rendered copy of its `<template>` per array item, each top-level
 *   element marked `data-twin-ssr`; keys inside are relative to the item.
 * - One `<script type="application/json" id="twin-hydration">` holds `{shared, local}`, the
 *   data of every store the page uses; it goes at the end of `<head>`, or at the start when
 *   `html` is a fragment (no `<!doctype>`, `<html>`, `<head>` or `<body>` tag). A previous
 *   hydration script is replaced.
 *
 * Elements whose store is unknown, hidden from the reader, or named with a `{param}` the URL
 * lacks are left as they are. Errors from `data.store` reject the returned promise.
 *
 * @param html The page, a whole document or a fragment.
 * @param data The request's URL and store access.
 * @returns The rendered HTML.
 *
 * ```ts
 * const out = await renderPage('<p><twin-bind store="game" key="score"></twin-bind></p>', {
 *   url: new URL('http://localhost/'),
 *   store: async (name) => (name === 'game' ? { kind: 'shared', value: { score: 3 }, v: 7 } : undefined),
 * });
 * // <script type="application/json" id="twin-hydration">{"shared":{"game":{"value":{"score":3},"v":7}},"local":{}}</script>
 * // <p><twin-bind store="game" key="score">3</twin-bind></p>
 * ```
 */
export async function renderPage(html: string, data: PageData): Promise<string> {
  const root = parseInput(html);
  const params = data.url.searchParams;

  const found: Found = { names: new Set(), stale: [] };
  collect(root, params, found);
  for (const name of data.include ?? []) found.names.add(name);

  const fetched = await Promise.all([...found.names].map(async (name) => [name, await data.store(name)] as const));
  const stores = new Map<string, StoreData>();
  for (const [name, storeData] of fetched) if (storeData !== undefined) stores.set(name, storeData);

  const ctx: RenderContext = { params, stores, onUnsafe: data.onUnsafe ?? ((err) => debug('render: %s', err.message)) };
  for (const child of [...root.childNodes]) if (isElement(child)) renderElement(child, undefined, ctx);

  for (const old of found.stale) defaultTreeAdapter.detachNode(old);
  insertHydration(root, stores);
  return serialize(root);
}

/** What the first pass finds: store names to fetch, and old hydration scripts to drop. */
interface Found {
  names: Set<string>;
  stale: Element[];
}

interface RenderContext {
  params: URLSearchParams;
  onUnsafe: (error: TwinError) => void;
  stores: ReadonlyMap<string, StoreData>;
}

/**
 * The value keys resolve against at some point of the tree: a store's value, or a list item.
 * `undefined` when it cannot be known (unknown store, missing `{param}`, no store at all);
 * elements that would read from it are then left unrendered. Wrapped so `null` stays a value.
 */
type Root = { readonly value: Json } | undefined;

//#region Parsing and collecting

/** Finds every store name used (elements' `store`, the stores meta) and old hydration scripts. */
function collect(parent: ParentNode, params: URLSearchParams, found: Found): void {
  for (const node of parent.childNodes) {
    if (!isElement(node)) continue;
    const store = getAttr(node, 'store');
    if (store !== undefined) addName(store, params, found.names);
    if (isHtml(node)) {
      if (node.tagName === 'meta' && getAttr(node, 'name') === STORES_META) {
        for (const name of (getAttr(node, 'content') ?? '').split(ASCII_WHITESPACE)) addName(name, params, found.names);
      } else if (node.tagName === 'script' && getAttr(node, 'id') === HYDRATION_ID) {
        found.stale.push(node);
      }
    }
    // List templates name stores too; other templates are included since the browser may use them.
    collect(isTemplate(node) ? node.content : node, params, found);
  }
}

function addName(raw: string, params: URLSearchParams, names: Set<string>): void {
  if (raw === '') return;
  const name = fillStoreName(raw, params);
  if (name !== undefined) names.add(name);
}

//#endregion Parsing and collecting

//#region Rendering

function renderElement(el: Element, inherited: Root, ctx: RenderContext): void {
  const root = rootOf(el, inherited, ctx);
  if (isHtml(el)) {
    switch (el.tagName) {
      case 'twin-bind':
        if (root) renderBind(el, valueAt(root.value, getAttr(el, 'key')), ctx.onUnsafe);
        break;
      case 'twin-show':
        if (root) renderShow(el, valueAt(root.value, getAttr(el, 'key')));
        break;
      case 'twin-list':
        // The list renders its own children (from the template); an unresolved one stays as it is.
        if (root) renderList(el, valueAt(root.value, getAttr(el, 'key')), ctx);
        return;
      case 'template':
        // Template content is inert; only a twin-list instantiates it.
        return;
    }
  }
  for (const child of [...el.childNodes]) if (isElement(child)) renderElement(child, root, ctx);
}

/** An element with `store` resolves against that store; any other inherits its parent's root. */
function rootOf(el: Element, inherited: Root, ctx: RenderContext): Root {
  const raw = getAttr(el, 'store');
  if (raw === undefined) return inherited;
  const name = fillStoreName(raw, ctx.params);
  const data = name === undefined ? undefined : ctx.stores.get(name);
  return data === undefined ? undefined : { value: data.value };
}

/**
 * Replaces the list's rendered items with one copy of its template per array item. A value
 * that is not an array renders no items, as the browser shows an empty list for it.
 */
function renderList(el: Element, value: Json | undefined, ctx: RenderContext): void {
  const template = el.childNodes.find(isTemplate);
  if (!template) return;
  for (const child of [...el.childNodes]) if (child !== template) defaultTreeAdapter.detachNode(child);
  if (!Array.isArray(value)) return;
  for (const item of value) {
    const itemRoot: Root = { value: item };
    for (const node of template.content.childNodes) {
      const copy = cloneNode(node);
      defaultTreeAdapter.appendChild(el, copy);
      if (!isElement(copy)) continue;
      setAttr(copy, SSR_MARK, '');
      renderElement(copy, itemRoot, ctx);
    }
  }
}

/** Adds the hydration script: end of `<head>` in a document, start of a fragment. */
function insertHydration(root: Document | DocumentFragment, stores: ReadonlyMap<string, StoreData>): void {
  const shared: [string, { value: Json; v: number }][] = [];
  const local: [string, Omit<LocalStoreData, 'kind'>][] = [];
  for (const [name, data] of stores) {
    if (data.kind === 'shared') shared.push([name, { value: data.value, v: data.v }]);
    else local.push([name, { value: data.value, ...(data.persist && { persist: data.persist }), ...(data.cookie && { cookie: true }) }]);
  }
  // fromEntries defines own properties, so a store named "__proto__" stays data.
  const json = JSON.stringify({ shared: Object.fromEntries(shared), local: Object.fromEntries(local) });
  const script = defaultTreeAdapter.createElement('script', spec.NS.HTML, [
    { name: 'type', value: 'application/json' },
    { name: 'id', value: HYDRATION_ID },
  ]);
  // Script text is serialized raw, so the JSON itself must not be able to close the element.
  defaultTreeAdapter.appendChild(script, defaultTreeAdapter.createTextNode(escapeScriptJson(json)));

  if (root.nodeName === '#document-fragment') {
    const first = root.childNodes[0];
    if (first) defaultTreeAdapter.insertBefore(root, script, first);
    else defaultTreeAdapter.appendChild(root, script);
    return;
  }
  defaultTreeAdapter.appendChild(headOf(root), script);
}

/**
 * JSON made safe as the text of a script element: `<` becomes `\u003c` (no `</script>` or
 * `<!--` can appear), and U+2028/U+2029 are escaped for parsers that predate ES2019.
 */
function escapeScriptJson(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

//#endregion Rendering
