// SPDX-License-Identifier: MIT
/**
 * @module outbox
 * Unconfirmed writes and calls, kept in `localStorage` so that a reload, a crash or a closed
 * tab does not lose them. `localStorage` rather than IndexedDB because it is synchronous: a
 * write is stored in the very turn it is made, before the page can go away, whereas an
 * IndexedDB transaction commits later and a write made just before unload could be lost.
 *
 * Each page writes as its own client (id, key, seqs) into its own **slot**: a header key
 * `twin:outbox:<id>` with the key, and one key per message, `twin:outbox:<id>:<seq>`, so a
 * write costs one small `setItem` however long the queue. A page holds a Web Lock named after
 * its slot for as long as it lives; a slot whose lock nobody holds or waits for belongs to a
 * page that is gone (reloaded, closed, crashed), and the next page of the origin **adopts** it:
 * a page starting takes the slots free then; a page open meanwhile waits in line for the lock
 * of each live page's slot, and takes it once that page is gone. It claims that client id
 * with its key, and sends its messages again under their own ids, so
 * the server, which remembers each client's batches (`clientTtlMs`, 48 h by default), applies
 * each exactly once. Messages older than `maxAge` (24 h by default, below that window), or
 * written against another version of their store, are not sent blindly: they are handed back
 * as stale for the app to retry or discard.
 *
 * What is stored is untrusted (another app's keys, edits by hand, a quota): anything that does
 * not parse as a slot is warned about once and ignored, and a full storage keeps the write in
 * memory (it is still sent), with one warning.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode } from './errors.js';
import { isPlainObject } from './json.js';
import { BATCH_ID, CLIENT_ID, CLIENT_KEY, MAX_ADOPT, MAX_ADOPTED } from './protocol.js';
import type { Call, OpMessage } from './protocol.js';

/** Key prefix of outbox slots. */
const PREFIX = 'twin:outbox:';
/** Default age past which a stored message is stale (ms): well below the server's 48 h memory. */
export const DEFAULT_MAX_AGE = 24 * 60 * 60 * 1000;

/** A message as stored: when it was made, and the version of its store's definition then. */
export interface OutboxEntry {
  readonly message: OpMessage | Call;
  /** When the write was made (ms since the epoch). */
  readonly at: number;
  /** The `version` option of the store's definition when the write was made. */
  readonly version?: number;
}

/** A gone page's slot, now this page's to send (or hand back as stale). */
export interface AdoptedSlot {
  readonly client: string;
  readonly key: string;
  readonly entries: OutboxEntry[];
}

export interface Outbox {
  /**
   * Stores message `id` (`text`: the message as JSON, made at `at`, against store `version`)
   * before it is sent; false (after one warning) when the storage refused it.
   */
  put(id: string, text: string, at: number, version: number | undefined): boolean;
  /** Forgets message `id` (confirmed or refused); an adopted slot left empty is let go. */
  remove(id: string): void;
  /** The slots of gone pages this page took over: settles before this page says hello. */
  readonly adopted: Promise<AdoptedSlot[]>;
  /** The ids (with their keys) of the adopted slots not yet emptied: claimed on each welcome. */
  claims(): { client: string; key: string }[];
}

/** The Web Locks this module needs (`navigator.locks`). */
export interface Locks {
  request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown>;
  query(): Promise<{ held?: { name?: string }[]; pending?: { name?: string }[] }>;
}

/**
 * The outbox of the client `id` (proven by `key`) in `storage`; `later` hears of each slot taken
 * over after the start (a tab closed while this page stayed open). Without Web Locks nothing can
 * tell a live tab from a gone one, so no slot is adopted (each page still stores its own, for
 * the next page that can).
 */
export function createOutbox(storage: Storage, locks: Locks | undefined, id: string, key: string, later: (slot: AdoptedSlot) => void = () => {}): Outbox {
  /** Ids stored, per client (this page's and the adopted ones'). */
  const stored = new Map<string, Set<string>>([[id, new Set()]]);
  /** The adopted slots not yet emptied: their keys, and how to release their locks. */
  const releases = new Map<string, { key: string; release: () => void }>();
  let headerWritten = false;
  let warnedFull = false;

  /** Takes the lock `name` (at once or not at all, if `ifAvailable`); resolves with its release. */
  const hold = (name: string, options: { ifAvailable?: boolean } = {}): Promise<(() => void) | undefined> =>
    new Promise((granted) => {
      const callback = (lock: unknown) => {
        if (!lock) return granted(undefined);
        return new Promise<void>((release) => granted(release));
      };
      locks!.request(name, options, callback).catch(() => granted(undefined));
    });

  // This page's own slot is locked from the start (before anything is stored in it), so no
  // other page can take it for a gone one's.
  const own = locks ? hold(PREFIX + id) : Promise.resolve(undefined);

  const adopted = locks ? own.then(() => adopt()).catch(() => []) : Promise.resolve([]);

  /** Live pages' slots whose lock this page waits for. */
  const awaited = new Set<string>();
  /** Waits in line for the lock of live page `client`'s slot, and takes the slot over once that page is gone. */
  const awaitSlot = (client: string) => {
    if (client === id || awaited.has(client) || releases.has(client)) return;
    awaited.add(client);
    void hold(PREFIX + client).then((release) => {
      awaited.delete(client);
      if (!release) return;
      const slot = readSlots(storage).get(client);
      const entries = slot ? readEntries(storage, slot.names) : [];
      if (!slot || !entries.length || releases.size >= MAX_ADOPT || taken >= MAX_ADOPTED) {
        if (slot && !entries.length) storage.removeItem(PREFIX + client);
        release();
        return;
      }
      take(client, slot.key, entries, release);
      later({ client, key: slot.key, entries });
    });
  };
  /** Slots taken over since the page started (a connection claims {@link MAX_ADOPTED} at most). */
  let taken = 0;
  const take = (client: string, slotKey: string, entries: OutboxEntry[], release: () => void) => {
    taken++;
    releases.set(client, { key: slotKey, release });
    stored.set(client, new Set(entries.map((entry) => entry.message.id)));
  };
  // A page that starts after this one shows itself with its slot's header.
  if (locks) {
    globalThis.addEventListener?.('storage', (event: StorageEvent) => {
      const client = event.key?.startsWith(PREFIX) && event.newValue !== null ? event.key.slice(PREFIX.length) : '';
      if (client && !client.includes(':')) awaitSlot(client);
    });
  }

  /**
   * Takes over the slots nobody holds a lock on (nor waits for), the ones with the newest
   * writes first: slots left holding only writes too old to send (kept for an app to decide)
   * must not crowd out a younger one, of which a page takes {@link MAX_ADOPT} at most.
   */
  const adopt = async (): Promise<AdoptedSlot[]> => {
    const { held = [], pending = [] } = await locks!.query();
    const busy = new Set([...held, ...pending].map((lock) => lock.name));
    const slots: AdoptedSlot[] = [];
    const found = [...readSlots(storage)].filter(([client]) => client !== id);
    for (const [client] of found) if (busy.has(PREFIX + client)) awaitSlot(client);
    const gone = found.filter(([client]) => !busy.has(PREFIX + client))
      .map(([client, { key, names }]) => ({ client, key, entries: readEntries(storage, names) }))
      .sort((a, b) => newest(b.entries) - newest(a.entries));
    for (const { client, key, entries } of gone) {
      if (slots.length >= MAX_ADOPT) break;
      const release = await hold(PREFIX + client, { ifAvailable: true });
      if (!release) continue;
      if (!entries.length) {
        storage.removeItem(PREFIX + client);
        release();
        continue;
      }
      take(client, key, entries, release);
      slots.push({ client, key, entries });
    }
    return slots;
  };

  return {
    adopted,
    claims: () => [...releases].map(([client, { key }]) => ({ client, key })),
    put(messageId, text, at, version) {
      try {
        if (!headerWritten) {
          storage.setItem(PREFIX + id, JSON.stringify({ key }));
          headerWritten = true;
        }
        // An OutboxEntry, around the message's JSON as it is (not serialized again).
        storage.setItem(PREFIX + messageId, `{"at":${at},${version === undefined ? '' : `"version":${version},`}"message":${text}}`);
        stored.get(id)!.add(messageId);
        return true;
      } catch {
        if (!warnedFull) warn(DEV_MODE && 'The browser refused to store a write in the outbox (storage full or forbidden); it is sent, but lost if the page closes before it is confirmed.');
        warnedFull = true;
        return false;
      }
    },
    remove(messageId) {
      const client = messageId.slice(0, messageId.lastIndexOf(':'));
      const ids = stored.get(client);
      if (!ids?.delete(messageId)) return;
      storage.removeItem(PREFIX + messageId);
      const adoptedSlot = releases.get(client);
      if (adoptedSlot && !ids.size) {
        // A gone page's slot, all sent: it ends here.
        storage.removeItem(PREFIX + client);
        stored.delete(client);
        releases.delete(client);
        adoptedSlot.release();
      }
    },
  };
}

/**
 * The slots in `storage`: each client's key and the names of its messages, in seq order. What
 * is not a slot — a header that does not parse, messages with no header (edited by hand,
 * another app's) — is warned about and removed.
 */
function readSlots(storage: Storage): Map<string, { key: string; names: string[] }> {
  const found = new Map<string, { key?: unknown; header?: string; names: string[] }>();
  for (let i = 0; i < storage.length; i++) {
    const name = storage.key(i);
    if (!name?.startsWith(PREFIX)) continue;
    const [client, seq] = name.slice(PREFIX.length).split(':') as [string, string?];
    let slot = found.get(client);
    if (!slot) found.set(client, (slot = { names: [] }));
    if (seq === undefined) slot.key = (parse(storage.getItem((slot.header = name))) as { key?: unknown } | undefined)?.key;
    else slot.names.push(name);
  }
  const slots = new Map<string, { key: string; names: string[] }>();
  for (const [client, { key, header, names }] of found) {
    // (What the server would refuse in a hello, a hand-edited id or key, is no slot: it would
    // keep every page that adopts it from connecting.)
    if (typeof key === 'string' && CLIENT_KEY.test(key) && CLIENT_ID.test(client)) slots.set(client, { key, names: names.sort((a, b) => seqOf(a) - seqOf(b)) });
    else for (const name of header ? [header, ...names] : names) drop(storage, name);
  }
  return slots;
}

/** The messages stored under `names`; what does not parse as one is warned about and removed. */
function readEntries(storage: Storage, names: string[]): OutboxEntry[] {
  return names.flatMap((name) => {
    const entry = parse(storage.getItem(name));
    if (isEntry(entry, name.slice(PREFIX.length))) return [entry];
    drop(storage, name);
    return [];
  });
}

/**
 * Whether `value` is a stored message with the id `id` (the key it was found under). Roughly:
 * the server checks the rest, and refuses (by id) what passes here and is still wrong.
 */
function isEntry(value: unknown, id: string): value is OutboxEntry {
  const m = isPlainObject(value) && typeof value.at === 'number' && value.message;
  if (!isPlainObject(m) || m.id !== id || !BATCH_ID.test(id)) return false;
  if (m.t === 'call') return typeof m.action === 'string' && Array.isArray(m.args);
  return m.t === 'op' && typeof m.store === 'string' && Array.isArray(m.ops) && m.ops.length > 0 && m.ops.every((op) => isPlainObject(op) && Array.isArray(op.path));
}

function parse(text: string | null): unknown {
  try {
    return text === null ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Removes what is not an outbox entry, with a warning. */
function drop(storage: Storage, name: string): void {
  warn(DEV_MODE && `The outbox entry ${JSON.stringify(name)} is not one twin-state wrote (edited, or another app's); it is removed.`);
  storage.removeItem(name);
}

/** A warning with the code (and, in development, the sentence). */
function warn(sentence: string | false): void {
  console.warn(`[twin-state] ${ErrorCode.STORAGE}${sentence ? `: ${sentence}` : ''}`);
}

/** When the newest of `entries` was made (0 for none). */
function newest(entries: readonly OutboxEntry[]): number {
  return Math.max(0, ...entries.map((entry) => entry.at));
}

/** The seq of a batch id `client:seq`. */
export function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf(':') + 1));
}
