// SPDX-License-Identifier: MIT
/**
 * @module render-html
 * Server-side rendering of the declarative twin elements in an HTML page, so the first paint
 * already shows current values, plus the hydration data the browser resumes from (DESIGN.md
 * §1 "Hydration that resumes instead of refetching").
 *
 * The page is parsed with parse5 (a spec-compliant HTML parser), the twin elements are filled
 * in on the tree, and the tree is serialized again, so every value goes through parse5's own
 * text and attribute escaping. The vocabulary rendered here is the one the browser runtime
 * implements; the two must agree, or the page would change on hydration.
 *
 * Every call works on its own tree and its own store data: nothing is cached between
 * requests, so one reader's state can never reach another reader's page.
 */
import { defaultTreeAdapter, html as spec, parse, parseFragment, serialize } from 'parse5';
import type { DefaultTreeAdapterMap } from 'parse5';
import { parsePath, valueText } from '../src/json.js';
import { fillStoreName } from '../src/store-name.js';
import type { Json } from '../src/json.js';

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
}

/** The id of the JSON script element the browser runtime hydrates from. */
const HYDRATION_ID = 'twin-hydration';
/** Marks list items rendered on the server, so the browser can replace them with live ones. */
const SSR_MARK = 'data-twin-ssr';
/** `<meta name="twin-stores" content="a b">` lists stores a page needs that no element names. */
const STORES_META = 'twin-stores';
/** Form controls a `<twin-bind>` binds two-way when no attr/toggle/prop is given. */
const TWO_WAY_TAGS: ReadonlySet<string> = new Set(['input', 'textarea', 'select']);
/**
 * Characters a DOM attribute name may not hold (DOM "valid attribute local name"), plus quotes
 * and `<`: parse5 writes attribute names unescaped, so such a name would break the markup.
 */
const INVALID_ATTR_NAME = /[\s\0/>="'<]/;
const ASCII_WHITESPACE = /[\t\n\f\r ]+/;

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

  const ctx: RenderContext = { params, stores };
  for (const child of [...root.childNodes]) if (isElement(child)) renderElement(child, undefined, ctx);

  for (const old of found.stale) defaultTreeAdapter.detachNode(old);
  insertHydration(root, stores);
  return serialize(root);
}

type Element = DefaultTreeAdapterMap['element'];
type Template = DefaultTreeAdapterMap['template'];
type ParentNode = DefaultTreeAdapterMap['parentNode'];
type ChildNode = DefaultTreeAdapterMap['childNode'];
type TextNode = DefaultTreeAdapterMap['textNode'];
type Document = DefaultTreeAdapterMap['document'];
type DocumentFragment = DefaultTreeAdapterMap['documentFragment'];

/** What the first pass finds: store names to fetch, and old hydration scripts to drop. */
interface Found {
  names: Set<string>;
  stale: Element[];
}

interface RenderContext {
  params: URLSearchParams;
  stores: ReadonlyMap<string, StoreData>;
}

/**
 * The value keys resolve against at some point of the tree: a store's value, or a list item.
 * `undefined` when it cannot be known (unknown store, missing `{param}`, no store at all);
 * elements that would read from it are then left unrendered. Wrapped so `null` stays a value.
 */
type Root = { readonly value: Json } | undefined;

//#region Parsing and collecting

/**
 * Parses `html` as a document when it has any document-level markup, else as a fragment.
 * parse5's document parser invents `<html>`, `<head>` and `<body>` for a fragment (and would
 * move a leading `<template>` into `<head>`); with location info on, only elements that were
 * really in the source carry a location, which tells the two apart without guessing at text.
 */
function parseInput(html: string): Document | DocumentFragment {
  const doc = parse(html, { sourceCodeLocationInfo: true });
  for (const node of doc.childNodes) {
    if (node.nodeName === '#documentType') return doc;
    if (isElement(node) && node.tagName === 'html') {
      if (node.sourceCodeLocation) return doc;
      if (node.childNodes.some((child) => isElement(child) && child.sourceCodeLocation)) return doc;
    }
  }
  return parseFragment(html);
}

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
        if (root) renderBind(el, valueAt(root.value, getAttr(el, 'key')));
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

function renderBind(el: Element, value: Json | undefined): void {
  const target = firstElementChild(el);
  const attr = getAttr(el, 'attr');
  if (attr !== undefined) {
    if (target) bindAttribute(target, attr, value);
    return;
  }
  const toggle = getAttr(el, 'toggle');
  if (toggle !== undefined) {
    if (target) toggleClass(target, toggle, Boolean(value));
    return;
  }
  // A property lives only on the live element object; there is nothing to write into HTML.
  if (getAttr(el, 'prop') !== undefined) return;
  if (target && isHtml(target) && TWO_WAY_TAGS.has(target.tagName)) {
    renderControl(target, value);
    return;
  }
  replaceWithText(el, valueText(value));
}

/** `attr` binding: null, false and a missing value remove the attribute, true leaves it empty. */
function bindAttribute(target: Element, name: string, value: Json | undefined): void {
  // setAttribute would throw in the browser; leave the element unrendered, as it will be there.
  if (name === '' || INVALID_ATTR_NAME.test(name)) return;
  // The browser's setAttribute lowercases names on HTML elements only (SVG keeps `viewBox`).
  const attrName = isHtml(target) ? name.toLowerCase() : name;
  if (value === null || value === undefined || value === false) removeAttr(target, attrName);
  else setAttr(target, attrName, value === true ? '' : valueText(value));
}

/** Adds or removes one class token, keeping the others (as `classList.toggle(token, on)`). */
function toggleClass(target: Element, token: string, on: boolean): void {
  if (token === '' || ASCII_WHITESPACE.test(token)) return;
  const current = getAttr(target, 'class');
  // classList.remove on an element without a class attribute does not create one.
  if (current === undefined && !on) return;
  const tokens = new Set((current ?? '').split(ASCII_WHITESPACE).filter((t) => t !== ''));
  if (on) tokens.add(token);
  else tokens.delete(token);
  setAttr(target, 'class', [...tokens].join(' '));
}

/** Two-way binding: the control shows the current value, as a user would see after hydration. */
function renderControl(control: Element, value: Json | undefined): void {
  switch (control.tagName) {
    case 'input': {
      const type = getAttr(control, 'type')?.toLowerCase();
      // A checkbox is checked by truthiness; a radio when its own value is the store's (its
      // value attribute names the choice and must stay); any other input shows the value.
      const checked = type === 'checkbox' ? Boolean(value) : type === 'radio' ? (getAttr(control, 'value') ?? 'on') === valueText(value) : undefined;
      if (checked === undefined) setAttr(control, 'value', valueText(value));
      else if (checked) setAttr(control, 'checked', '');
      else removeAttr(control, 'checked');
      return;
    }
    case 'textarea': {
      const text = valueText(value);
      // The parser drops one newline right after <textarea>, and parse5 does not add it back.
      replaceWithText(control, text.startsWith('\n') ? `\n${text}` : text);
      return;
    }
    case 'select': {
      const wanted = valueText(value);
      let matched = false;
      for (const option of descendants(control, 'option')) {
        const isMatch: boolean = !matched && optionValue(option) === wanted;
        if (isMatch) setAttr(option, 'selected', '');
        else removeAttr(option, 'selected');
        matched ||= isMatch;
      }
      return;
    }
  }
}

function renderShow(el: Element, value: Json | undefined): void {
  const equals = getAttr(el, 'equals');
  let shown = equals === undefined ? Boolean(value) : valueText(value) === equals;
  if (getAttr(el, 'not') !== undefined) shown = !shown;
  if (shown) removeAttr(el, 'hidden');
  else setAttr(el, 'hidden', '');
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
  const local: [string, { value: Json; persist?: 'local' | 'session' }][] = [];
  for (const [name, data] of stores) {
    if (data.kind === 'shared') shared.push([name, { value: data.value, v: data.v }]);
    else local.push([name, data.persist === undefined ? { value: data.value } : { value: data.value, persist: data.persist }]);
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

function headOf(doc: Document): Element {
  let htmlEl = doc.childNodes.find((n): n is Element => isElement(n) && n.tagName === 'html');
  if (!htmlEl) {
    htmlEl = defaultTreeAdapter.createElement('html', spec.NS.HTML, []);
    defaultTreeAdapter.appendChild(doc, htmlEl);
  }
  let head = htmlEl.childNodes.find((n): n is Element => isElement(n) && n.tagName === 'head');
  if (!head) {
    head = defaultTreeAdapter.createElement('head', spec.NS.HTML, []);
    const first = htmlEl.childNodes[0];
    if (first) defaultTreeAdapter.insertBefore(htmlEl, head, first);
    else defaultTreeAdapter.appendChild(htmlEl, head);
  }
  return head;
}

/**
 * JSON made safe as the text of a script element: `<` becomes `\u003c` (no `</script>` or
 * `<!--` can appear), and U+2028/U+2029 are escaped for parsers that predate ES2019.
 */
function escapeScriptJson(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

//#endregion Rendering

//#region Values

/** The value at a dotted key; `undefined` when the path leads nowhere. Only own properties count. */
function valueAt(root: Json, key: string | undefined): Json | undefined {
  let value: Json | undefined = root;
  for (const part of parsePath(key ?? '')) {
    if (value === null || typeof value !== 'object') return undefined;
    if (Array.isArray(value)) {
      if (typeof part !== 'number') return undefined;
      value = value[part];
    } else {
      const name = String(part);
      if (!Object.hasOwn(value, name)) return undefined;
      value = value[name];
    }
  }
  return value;
}

/** An option's value: its `value` attribute, else its text with whitespace stripped and collapsed (HTML `option.value`). */
function optionValue(option: Element): string {
  const attr = getAttr(option, 'value');
  if (attr !== undefined) return attr;
  return textContent(option).split(ASCII_WHITESPACE).filter((t) => t !== '').join(' ');
}

//#endregion Values

//#region Tree helpers

function isElement(node: ChildNode | ParentNode): node is Element {
  return 'tagName' in node;
}

function isText(node: ChildNode): node is TextNode {
  return node.nodeName === '#text';
}

function isHtml(el: Element): boolean {
  return el.namespaceURI === spec.NS.HTML;
}

function isTemplate(node: ChildNode): node is Template {
  return isElement(node) && isHtml(node) && node.tagName === 'template';
}

function getAttr(el: Element, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name && !a.namespace)?.value;
}

function setAttr(el: Element, name: string, value: string): void {
  const existing = el.attrs.find((a) => a.name === name && !a.namespace);
  if (existing) existing.value = value;
  else el.attrs.push({ name, value });
}

function removeAttr(el: Element, name: string): void {
  el.attrs = el.attrs.filter((a) => a.name !== name || a.namespace);
}

function firstElementChild(el: Element): Element | undefined {
  return el.childNodes.find(isElement);
}

function replaceWithText(el: Element, text: string): void {
  for (const child of [...el.childNodes]) defaultTreeAdapter.detachNode(child);
  defaultTreeAdapter.appendChild(el, defaultTreeAdapter.createTextNode(text));
}

function* descendants(parent: Element, tagName: string): Generator<Element> {
  for (const child of parent.childNodes) {
    if (!isElement(child)) continue;
    if (child.tagName === tagName) yield child;
    yield* descendants(child, tagName);
  }
}

/** The text of an element's descendants, without script text (as the HTML `option.text` getter). */
function textContent(el: Element): string {
  let text = '';
  for (const child of el.childNodes) {
    if (isText(child)) text += child.value;
    else if (isElement(child) && child.tagName !== 'script') text += textContent(child);
  }
  return text;
}

/** A deep copy of a node (parse5 has no cloneNode), template content included. */
function cloneNode(node: ChildNode): ChildNode {
  if (isText(node)) return defaultTreeAdapter.createTextNode(node.value);
  if (!isElement(node)) {
    // Template content holds no doctype; only comments are left.
    return node.nodeName === '#comment' ? defaultTreeAdapter.createCommentNode(node.data) : { ...node, parentNode: null };
  }
  const copy = defaultTreeAdapter.createElement(node.tagName, node.namespaceURI, node.attrs.map((a) => ({ ...a })));
  for (const child of node.childNodes) defaultTreeAdapter.appendChild(copy, cloneNode(child));
  if (isTemplate(node)) {
    const content = defaultTreeAdapter.createDocumentFragment();
    for (const child of node.content.childNodes) defaultTreeAdapter.appendChild(content, cloneNode(child));
    defaultTreeAdapter.setTemplateContent(copy as Template, content);
  }
  return copy;
}

//#endregion Tree helpers
