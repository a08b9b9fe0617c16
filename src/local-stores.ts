// SPDX-License-Identifier: MIT
/**
 * @module local-stores
 * Where a page's local stores live between visits: `localStorage` or `sessionStorage` (their
 * `persist` option), checked against their schema when read back. A stored value that is
 * corrupted or refused gives way to the default with one warning; a storage that is full or
 * forbidden keeps the store in memory, also with one warning — never an error for the page.
 *
 * A store in `localStorage` is one value for every tab of the origin: the `storage` event
 * (fired in the other tabs only) resets this tab's replica to what another tab wrote, checked
 * as a restored value is. A store with `cookie: true` is also mirrored to a cookie, so the
 * server renders it in the page's first paint (`server/local-cookies.ts` reads it back).
 */
import type { StoreDef } from './define.js';
import { initialValue } from './define.js';
import { DEV_MODE } from './dev.js';
import { ErrorCode } from './errors.js';
import { isPlainObject } from './json.js';
import type { Json } from './json.js';
import { deepCopy } from './reconcile.js';
import type { Replica } from './replica.js';

/** Key prefix of persisted local stores. */
const PERSIST_PREFIX = 'twin:';
/** Name prefix of the cookie a `cookie: true` local store is mirrored to (`twin.ui_state`). */
export const COOKIE_PREFIX = 'twin.';
/**
 * The most bytes a mirrored value may take in its cookie, URI-encoded: browsers keep about
 * 4 KB per cookie, name and attributes included, and send every cookie with every request.
 */
export const COOKIE_MAX_BYTES = 3000;
/** A mirror cookie lives 400 days, the longest browsers allow; each write and load renews it. */
const COOKIE_MAX_AGE_S = 400 * 24 * 3600;

/** What the client hydrated its local stores with (see `Hydration.local`). */
type HydratedLocals = { local?: Record<string, { value: Json; persist?: 'local' | 'session'; cookie?: boolean }> };

export interface LocalStores {
  /** The first value of the local store `name`: what was persisted, else hydrated, else `init`. */
  restore(name: string, def: StoreDef | undefined): Json;
  /** Stores the local store's current value where its `persist` option says. */
  persist(replica: Replica): void;
}

/**
 * The stored text of a local store as its value; undefined when it is not a JSON object or
 * the store's schema refuses it. An async schema's verdict is a promise.
 */
function parseStored(text: string, def: StoreDef | undefined): Json | undefined | Promise<Json | undefined> {
  try {
    const value = JSON.parse(text) as Json;
    if (!isPlainObject(value)) return undefined;
    const checked = def?.options.schema?.['~standard'].validate(value);
    return checked instanceof Promise ? checked.then((result) => (result.issues ? undefined : value)) : checked?.issues ? undefined : value;
  } catch {
    return undefined; // not JSON
  }
}

/** Warns, with its code, that a stored value of `name` was not taken: `what` it was, then what happens instead (dev mode). */
function warnCorrupted(name: string, what: string | false): void {
  console.warn(DEV_MODE
    ? `[twin-state] ${ErrorCode.SCHEMA}: the value of local store ${JSON.stringify(name)} ${what}`
    : `[twin-state] ${ErrorCode.SCHEMA} corrupted ${name}`);
}

/**
 * The local stores of a page. `reset` puts a store to a new value: its default when an async
 * schema refuses its stored value after it was shown, or what another tab wrote.
 */
export function createLocalStores(hydration: HydratedLocals, storage: { local?: Storage | undefined; session?: Storage | undefined } | undefined, reset: (name: string, value: Json) => void): LocalStores {
  /** Where each local store persists (undefined: nowhere). */
  const areas = new Map<string, Storage | undefined>();
  /** The definitions of the local stores restored so far (for their schema). */
  const defs = new Map<string, StoreDef | undefined>();
  /** Local stores mirrored to a cookie (`cookie: true`, in `localStorage`). */
  const mirrored = new Set<string>();
  /** Mirrored stores whose value is too big for a cookie: reported once until it fits again. */
  const oversized = new Set<string>();

  /** Writes the mirror cookie of `name`, or expires it when the value is too big (the server then renders the default, never a stale value). */
  const mirror = (name: string, json: string): void => {
    if (!mirrored.has(name) || !globalThis.document) return;
    const value = encodeURIComponent(json);
    const fits = value.length <= COOKIE_MAX_BYTES;
    if (!fits && !oversized.has(name)) {
      console.error(DEV_MODE
        ? `[twin-state] ${ErrorCode.TOO_BIG}: local store ${JSON.stringify(name)} takes ${value.length} bytes in a cookie, over the ${COOKIE_MAX_BYTES} allowed; it is not mirrored to its cookie (the server renders its default) but is still kept in localStorage.`
        : `[twin-state] ${ErrorCode.TOO_BIG} cookie ${name}`);
    }
    if (fits) oversized.delete(name);
    else oversized.add(name);
    document.cookie = `${COOKIE_PREFIX}${name}=${fits ? value : ''};path=/;max-age=${fits ? COOKIE_MAX_AGE_S : 0};samesite=lax`;
  };

  // Another tab wrote a store this tab keeps in the same localStorage: take its value.
  globalThis.addEventListener?.('storage', (event) => {
    const name = event.key?.startsWith(PERSIST_PREFIX) && event.key.slice(PERSIST_PREFIX.length);
    // A removed key (newValue null) is no write: this tab keeps its value, stored again at its
    // next write. A store this tab keeps elsewhere (sessionStorage, memory) is not this one.
    if (!name || event.newValue == null || areas.get(name) !== event.storageArea) return;
    void Promise.resolve(parseStored(event.newValue, defs.get(name))).then((value) => {
      if (value === undefined) warnCorrupted(name, DEV_MODE && 'written by another tab is corrupted or fails its schema; it is ignored.');
      else reset(name, value);
    });
  });

  /** The first value of the local store `name`: what was persisted, else hydrated, else `init`. */
  const restore = (name: string, def: StoreDef | undefined): Json => {
    const hydrated = hydration.local?.[name];
    const fallback = hydrated?.value ?? (def ? initialValue(def) : {});
    // A page without the definitions (the CDN bundle) learns the options from the server.
    const { persist, cookie } = def ? def.options : hydrated ?? {};
    if (cookie && persist === 'local') mirrored.add(name);
    else if (DEV_MODE && cookie) {
      console.warn(`[twin-state] ${ErrorCode.DEFINE}: local store ${JSON.stringify(name)} has cookie: true without persist: 'local'; it is not mirrored to a cookie.`);
    }
    let area: Storage | undefined;
    try {
      area = persist === 'local' ? storage?.local ?? localStorage : persist === 'session' ? storage?.session ?? sessionStorage : undefined;
    } catch {
      // Storage access can throw (sandboxed frames, disabled cookies): keep it in memory.
    }
    areas.set(name, area);
    defs.set(name, def);
    const key = PERSIST_PREFIX + name;
    const text = area?.getItem(key);
    /** Forgets the stored value, once found corrupted or refused by the store's schema. */
    const discard = () => {
      warnCorrupted(name, DEV_MODE && 'stored in this browser is corrupted or fails its schema; using its default.');
      area!.removeItem(key);
    };
    const value = text == null ? fallback : parseStored(text, def);
    if (value instanceof Promise) {
      // An async schema answers later: show the stored value meanwhile, the default if refused.
      // Its cookie follows the verdict, so the server never renders a value the schema refused.
      void value.then((checked) => {
        if (checked === undefined) {
          discard();
          reset(name, deepCopy(fallback));
        }
        mirror(name, checked === undefined ? JSON.stringify(fallback) : text!);
      });
      return JSON.parse(text!) as Json;
    }
    if (value === undefined) discard();
    const first = value ?? fallback;
    // Renews the cookie, and writes it for a value stored before the store was mirrored.
    mirror(name, JSON.stringify(first));
    return first;
  };

  return {
    restore,
    persist(replica) {
      const json = JSON.stringify(replica.root);
      try {
        areas.get(replica.name)?.setItem(PERSIST_PREFIX + replica.name, json);
      } catch (err) {
        // A full or forbidden storage must not break the page: say so once, and keep the
        // store in memory from now on (instead of failing, and warning, at every write).
        areas.set(replica.name, undefined);
        console.warn(DEV_MODE ? `[twin-state] Could not persist local store ${JSON.stringify(replica.name)}; it is kept in memory only:` : `[twin-state] ${replica.name}`, err);
      }
      mirror(replica.name, json);
    },
  };
}
