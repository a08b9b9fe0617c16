// SPDX-License-Identifier: MIT
/**
 * @module local-stores
 * Where a page's local stores live between visits: `localStorage` or `sessionStorage` (their
 * `persist` option), checked against their schema when read back. A stored value that is
 * corrupted or refused gives way to the default with one warning; a storage that is full or
 * forbidden keeps the store in memory, also with one warning — never an error for the page.
 */
import type { StoreDef } from './define.js';
import { initialValue } from './define.js';
import { DEV_MODE } from './dev.js';
import { isPlainObject } from './json.js';
import type { Json } from './json.js';
import { deepCopy } from './reconcile.js';
import type { Replica } from './replica.js';

/** Key prefix of persisted local stores. */
const PERSIST_PREFIX = 'twin:';

/** What the client hydrated its local stores with (see `Hydration.local`). */
type HydratedLocals = { local?: Record<string, { value: Json; persist?: 'local' | 'session' }> };

export interface LocalStores {
  /** The first value of the local store `name`: what was persisted, else hydrated, else `init`. */
  restore(name: string, def: StoreDef | undefined): Json;
  /** Stores the local store's current value where its `persist` option says. */
  persist(replica: Replica): void;
}

/**
 * The local stores of a page. `reset` puts a store back to its default when an async schema
 * refuses its stored value after it was shown.
 */
export function createLocalStores(hydration: HydratedLocals, storage: { local?: Storage | undefined; session?: Storage | undefined } | undefined, reset: (name: string, value: Json) => void): LocalStores {
  /** Where each local store persists (undefined: nowhere). */
  const areas = new Map<string, Storage | undefined>();

  /** The first value of the local store `name`: what was persisted, else hydrated, else `init`. */
  const restore = (name: string, def: StoreDef | undefined): Json => {
    const hydrated = hydration.local?.[name];
    const fallback = hydrated?.value ?? (def ? initialValue(def) : {});
    const persist = def ? def.options.persist : hydrated?.persist;
    let area: Storage | undefined;
    try {
      area = persist === 'local' ? storage?.local ?? localStorage : persist === 'session' ? storage?.session ?? sessionStorage : undefined;
    } catch {
      // Storage access can throw (sandboxed frames, disabled cookies): keep it in memory.
    }
    areas.set(name, area);
    const key = PERSIST_PREFIX + name;
    const text = area?.getItem(key);
    if (text == null) return fallback;
    /** Forgets the stored value, once found corrupted or refused by the store's schema. */
    const discard = () => {
      console.warn(DEV_MODE ? `[twin-state] The stored value of local store ${JSON.stringify(name)} is corrupted or fails its schema; using its default.` : `[twin-state] corrupted ${name}`);
      area!.removeItem(key);
    };
    try {
      const value = JSON.parse(text) as Json;
      if (isPlainObject(value)) {
        const checked = def?.options.schema?.['~standard'].validate(value);
        if (checked instanceof Promise) {
          // An async schema answers later: show the stored value meanwhile, the default if refused.
          void checked.then((result) => {
            if (!result.issues) return;
            discard();
            reset(name, deepCopy(fallback));
          });
          return value;
        }
        if (!checked?.issues) return value;
      }
    } catch {
      // Not JSON: discarded below.
    }
    discard();
    return fallback;
  };

  return {
    restore,
    persist(replica) {
      try {
        areas.get(replica.name)?.setItem(PERSIST_PREFIX + replica.name, JSON.stringify(replica.root));
      } catch (err) {
        // A full or forbidden storage must not break the page: say so once, and keep the
        // store in memory from now on (instead of failing, and warning, at every write).
        areas.set(replica.name, undefined);
        console.warn(DEV_MODE ? `[twin-state] Could not persist local store ${JSON.stringify(replica.name)}; it is kept in memory only:` : `[twin-state] ${replica.name}`, err);
      }
    },
  };
}
