// SPDX-License-Identifier: MIT
/**
 * @module elements/internal
 * What the twin elements share: where an element's keys resolve (its store, or the list item
 * it sits in), reading and writing a dotted key, the text of a value (the same rule the server
 * renders with, `server/render-html.ts`), and the one way elements watch a value — a computed
 * signal that yields exactly what the element shows, so a store change that does not change
 * what is shown never touches the DOM.
 */
import { effect, isTwinError, pageClient, Signal, status, store } from '../src/index.js';
import type { Json, RejectDetail, TwinError } from '../src/index.js';
import { DEV_MODE } from '../src/dev.js';
import { parsePath, valueText } from '../src/json.js';
import { presence, setPresence } from '../src/presence.js';
import { fillStoreName } from '../src/store-name.js';
import { untracked } from '../src/signals.js';

export { DEV_MODE, untracked, valueText };

/** A path below a scope: object keys and array indices. */
export type Path = (string | number)[];

/**
 * What keys resolve against: a store, or one item of a `<twin-list>`.
 * @internal
 */
export interface Scope {
  /** The store the scope belongs to (for error reports), when known. */
  readonly store: string | undefined;
  /** The value keys are relative to; read inside a signal consumer, it is tracked. */
  value(): unknown;
  /** Writes `value` at `path` below the scope (a write to the store, sent as usual). */
  write(path: Path, value: Json): void;
}

/** The brand a `<twin-list>` puts on each top-level node of an item: the item's {@link Scope}. */
export const ITEM = Symbol.for('twin-state.item');

/** Splits a dotted key as the server does (`'a.b.0'`); `''` and `'.'` are the scope itself. */
export function parseKey(key: string | null): Path {
  return parsePath(key ?? '');
}

/**
 * The value at `path`, exactly as the server renders it: own properties only, numeric
 * segments only into arrays, `undefined` when the path leads nowhere.
 */
export function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    if (Array.isArray(value)) {
      if (typeof part !== 'number') return undefined;
      value = value[part];
    } else {
      // One descriptor read: it tells "own property" and gives the value (a proxy for objects).
      value = Object.getOwnPropertyDescriptor(value, String(part))?.value;
    }
  }
  return value;
}

/**
 * Writes `value` at `path` below `root` (a store proxy). Missing objects on the way are
 * created, so `key="profile.name"` works before `profile` exists.
 */
export function writeAt(root: unknown, path: Path, value: Json): void {
  if (path.length === 0 || root === null || typeof root !== 'object') {
    throw new TypeError(DEV_MODE ? `twin-state: cannot write ${JSON.stringify(value)} here: the key must name a property of an object.` : 'twin-state: no key');
  }
  let at = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const next = at[path[i]!];
    if (next === null || typeof next !== 'object') {
      let nested: Json = value;
      for (let j = path.length - 1; j > i; j--) nested = { [path[j]!]: nested };
      at[path[i]!] = nested;
      return;
    }
    at = next as Record<string | number, unknown>;
  }
  at[path[path.length - 1]!] = value;
}


/** Fills `{param}` placeholders of a store name from the page's query; undefined if one is missing. */
export function fillParams(raw: string): string | undefined {
  return raw.includes('{') ? fillStoreName(raw, new URLSearchParams(globalThis.location?.search ?? '')) : raw;
}

const storeScopes = new Map<string, Scope>();

/** The scope of the page runtime's store `name`. */
export function storeScope(name: string): Scope {
  let scope = storeScopes.get(name);
  if (!scope) {
    if (DEV_MODE && !storeScopes.size) pageClient().addEventListener('reject', warnUnknownStore as EventListener);
    const handle = store(name);
    scope = { store: name, value: () => handle, write: (path, value) => writeAt(handle, path, value) };
    storeScopes.set(name, scope);
  }
  return scope;
}

/**
 * The scope of the page's own presence in store `name` (`<twin-bind presence>`): keys read and
 * write the page's presence state (an object; published with `setPresence`), not the store.
 */
function presenceScope(name: string): Scope {
  const handle = store(name);
  // (The page's own entry is the first, once set.)
  const own = () => presence(handle).find((peer) => peer.self)?.state ?? {};
  return {
    store: name,
    value: own,
    write: (path, value) => {
      const copy = JSON.parse(JSON.stringify(untracked(own))) as Json;
      writeAt(copy, path, value);
      setPresence(handle, copy);
    },
  };
}

/** Dev mode: the server says it has no store that an element of this page names. */
function warnUnknownStore({ detail }: CustomEvent<RejectDetail>): void {
  if (detail.code === 'TWIN_ERR_STORE' && detail.store !== undefined && storeScopes.has(detail.store)) {
    warn('store', `The server has no store ${JSON.stringify(detail.store)}, which an element of this page names (store="${detail.store}"): check its spelling, or define it in the app.`);
  }
}

/**
 * Dev mode: once the store behind `scope` has loaded (the server's value is here: a version
 * above 0, or a local store), warns if the first key of `path` is not a key of its value — a
 * typo, most often. Deeper keys are not checked: objects below the top are often records keyed
 * by ids that come later (`calls.<id>`), and list items may lack optional fields.
 */
function checkKey(el: Element, scope: Scope, path: Path): (() => void) | undefined {
  const key = path[0];
  if (typeof key !== 'string' || storeScopes.get(scope.store!) !== scope) return undefined;
  const stop = watchValue(() => {
    const handle = scope.value() as object;
    const { connection, v } = status(handle);
    return v > 0 || connection === 'local' ? Object.hasOwn(handle, key) : undefined;
  }, (found) => {
    if (found === undefined) return;
    queueMicrotask(() => stop()); // the first run comes before watchValue returns
    if (!found) warn('key', `<${el.localName} store="${scope.store}" key="${path.join('.')}">: the store has no key ${JSON.stringify(key)}; check the key's spelling.`);
  });
  return stop;
}

/**
 * Where `el`'s keys resolve: its own `store` (its page's own presence there with a `presence`
 * attribute), else the nearest list item or ancestor with a `store` attribute (crossing shadow
 * roots to their host). Undefined when there is none, or
 * when the store's name needs a `{param}` the URL lacks.
 */
export function scopeOf(el: Element, quiet = false): Scope | undefined {
  for (let node: Node | null = el; node;) {
    if (node.nodeType === 1) {
      const raw = (node as Element).getAttribute('store');
      if (raw) {
        const name = fillParams(raw);
        if (name === undefined && DEV_MODE && !quiet) warn('param', `The store name ${JSON.stringify(raw)} needs a query parameter this page's URL lacks; ${el.localName} stays unbound.`);
        if (name === undefined) return undefined;
        return node === el && el.hasAttribute('presence') ? presenceScope(name) : storeScope(name);
      }
      const item = (node as { [ITEM]?: Scope })[ITEM];
      if (item) return item;
    }
    node = node.parentNode ?? (node instanceof ShadowRoot ? node.host : null);
  }
  if (DEV_MODE && !quiet) warn('scope', `<${el.localName}> has no store: give it a store="name" attribute, or put it inside an element that has one.`);
  return undefined;
}

/**
 * Watches `read` and calls `write` with its value now and after each change of it (compared
 * with `equals`). `read` runs tracked; `write` runs untracked, so DOM work (which may upgrade
 * and connect other elements) never adds dependencies. Returns the function that stops it.
 */
export function watchValue<T>(read: () => T, write: (value: T) => void, equals: (a: T, b: T) => boolean = Object.is): () => void {
  const value = new Signal.Computed(read, { equals });
  return effect(() => {
    const current = value.get();
    untracked(() => write(current));
  });
}

/**
 * Sets an element's text with the least DOM change: the data of its only text node, or one
 * new text node; nothing when it already shows `text`.
 */
export function setText(el: Element, text: string): void {
  const first = el.firstChild;
  if (first && first === el.lastChild && first.nodeType === 3) {
    if ((first as Text).data !== text) (first as Text).data = text;
  } else if (el.textContent !== text || el.firstElementChild) {
    el.textContent = text;
  }
}

/**
 * Reports a write refused before it left the page (a bad key, a value that is not JSON): a
 * `reject` event on the page client, which `<twin-error>` shows, as for refusals by the server.
 */
export function reportError(err: unknown, storeName: string | undefined): void {
  const code = isTwinError(err) ? err.code : 'TWIN_ERR_VALUE';
  const message = err instanceof Error ? err.message : String(err);
  if (DEV_MODE) console.warn(`[twin-state] ${message}`);
  pageClient().dispatchEvent(new CustomEvent<RejectDetail>('reject', { detail: { store: storeName, id: '', code, message } }));
}

/**
 * Reports a binding the binding policy refused (`TWIN_ERR_UNSAFE`): a console error, once per
 * message, in production too, since it means store data tried to run script in the page.
 */
export function refuse(err: TwinError): void {
  if (warned.has(err.message)) return;
  warned.add(err.message);
  console.error(`[twin-state] ${DEV_MODE ? `${err.code}: ` : ''}${err.message}`, err);
}

const warned = new Set<string>();

/** A dev-mode warning, shown once per code and message. */
export function warn(code: string, message: string): void {
  if (!DEV_MODE || warned.has(code + message)) return;
  warned.add(code + message);
  console.warn(`[twin-state] ${message}`);
}

/** Defines `tag` unless this page has it already (another copy of the bundle, say). */
export function define(tag: string, element: CustomElementConstructor): void {
  if (globalThis.customElements && !customElements.get(tag)) customElements.define(tag, element);
}

/**
 * `HTMLElement`, or a stand-in where there is none (Node, server code importing the elements'
 * module for its types or its API): the classes are defined, never registered (`define` checks).
 */
const ElementBase: typeof HTMLElement = globalThis.HTMLElement ?? (class {} as unknown as typeof HTMLElement);

/**
 * The base of the twin elements: binds when connected, releases when disconnected, and binds
 * again when an observed attribute changes. Release waits for a microtask, so an element that
 * is only moved (removed and inserted again in the same task, as list items are) keeps its
 * binding instead of churning it — unless the move took it to another store or list item.
 */
export abstract class TwinElement extends ElementBase {
  static readonly observedAttributes: readonly string[] = ['store', 'key'];
  /** Whether keys resolve against a {@link Scope} (the store or list item around). */
  protected readonly scoped: boolean = true;
  private __release: (() => void) | undefined;
  private __boundScope: Scope | undefined;

  connectedCallback(): void {
    if (this.__release && this.scoped && scopeOf(this, true) !== this.__boundScope) this.__unbind();
    if (!this.__release) {
      const scope = this.__boundScope = this.scoped ? scopeOf(this) : undefined;
      const release = (this.scoped && !scope ? undefined : this.bind(scope!)) ?? noop;
      const check = DEV_MODE && scope && checkKey(this, scope, parseKey(this.getAttribute('key')));
      this.__release = check ? () => (check(), release()) : release;
    }
  }

  disconnectedCallback(): void {
    queueMicrotask(() => {
      if (!this.isConnected) this.__unbind();
    });
  }

  attributeChangedCallback(_name: string, old: string | null, value: string | null): void {
    if (old === value || !this.__release) return;
    this.__unbind();
    if (this.isConnected) this.connectedCallback();
  }

  /**
   * Subscribes to what the element shows, with keys resolving against `scope` (for an element
   * that is not {@link scoped}, `undefined`); returns the function that releases it all.
   */
  protected abstract bind(scope: Scope): (() => void) | void;

  private __unbind(): void {
    const release = this.__release;
    this.__release = undefined;
    this.__boundScope = undefined;
    release?.();
  }
}

function noop(): void {}
