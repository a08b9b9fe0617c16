// SPDX-License-Identifier: MIT
/**
 * @module storage-memory
 * The in-memory storage backend: a Map per store, gone when the process exits. It is the
 * default for tests and for a single server that needs no durability. Two hubs in one process
 * that share one adapter hear each other's batches through {@link StorageAdapter.follow}.
 *
 * The module also holds small internals the other backends share: the in-process follower
 * registry and the errors of appends, compactions and closed adapters. What concerns client
 * records lives in `storage-clients`.
 */
import { ErrorCode, TwinError } from '../src/errors.js';
import type { Json } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { StorageAdapter, StoredBatch, StoredState } from './storage.js';
import type { ClientStorageOptions } from './storage-clients.js';
import {
  addRefusal, checkAppend, checkClient, clientAnswer, clientLimits, copyRecord, emptyRecord, mergeRecords,
  MemoryClientTable, PRUNE_BATCH, startSweeper, sweepInterval,
} from './storage-clients.js';

/** The state a log is replayed onto when a store has no snapshot yet (see {@link StorageAdapter.compact}). */
export const EMPTY_STATE: Json = {};

interface MemoryStore {
  /**
   * The snapshot as JSON: a copy that costs nothing more to keep when the hub hands over the
   * JSON it wrote in slices (cloning a 10 MB value would hold the loop), parsed only on load.
   */
  snapshot: string;
  /** Version of `snapshot`; the log holds the batches after it, in order, and the one at it. */
  snapshotV: number;
  log: StoredBatch[];
}

/** Options of {@link createMemoryStorage}: only the bounds of the client records. */
export type MemoryStorageOptions = ClientStorageOptions;

/** The memory adapter, which also tells how many client records it holds. */
export interface MemoryStorage extends StorageAdapter {
  /** Client records held now, expired ones not yet pruned included (for monitoring and tests). */
  readonly clientCount: number;
}

/**
 * Creates a storage adapter that keeps every store in memory until {@link StorageAdapter.compact}
 * folds its log into a snapshot. Values are copied in and out, so callers may mutate what they
 * pass or receive. A store that was never compacted is replayed onto `{}`: a hub whose initial
 * state is something else records it first with `compact(store, initial, 0)`.
 *
 * Client records expire `clientTtlMs` after their last change and the least recently changed
 * go first beyond `maxClients`; expired ones are pruned a few at a time by each write and by
 * a background sweep, never by a scan of all records.
 *
 * ```ts
 * const storage = createMemoryStorage({ clientTtlMs: 60 * 60 * 1000 });
 * await storage.append([{ store: 'todos', batch: { v: 1, ops: [{ op: 'set', path: ['a'], value: 1 }], id: 'c1:1' } }], { id: 'c1', seq: 1 });
 * (await storage.load('todos'))?.value; // { a: 1 }
 * ```
 */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MemoryStorage {
  const limits = clientLimits(options);
  const stores = new Map<string, MemoryStore>();
  const clients = new MemoryClientTable(limits);
  const followers = new LocalFollowers();
  const stopSweeper = startSweeper(sweepInterval(limits.ttlMs), () => clients.prune(PRUNE_BATCH), () => {});
  let closed = false;

  const open = (): void => {
    if (closed) throw closedError('memory');
  };
  const versionOf = (s: MemoryStore): number => s.log.at(-1)?.v ?? s.snapshotV;
  /** The batches after `v`, or undefined when the log no longer reaches back to v+1. */
  const batchesAfter = (s: MemoryStore, v: number): StoredBatch[] | undefined =>
    v + 1 < (s.log[0]?.v ?? s.snapshotV + 1) ? undefined : s.log.filter((b) => b.v > v).map((batch) => copyBatch(batch));

  return {
    get clientCount() {
      return clients.size;
    },

    async load(store) {
      open();
      const s = stores.get(store);
      if (!s) return undefined;
      const value = applyOps(JSON.parse(s.snapshot) as Json, s.log.filter((b) => b.v > s.snapshotV).flatMap((b) => b.ops));
      const state: StoredState = { value: structuredClone(value), v: versionOf(s) };
      return state;
    },

    async append(parts, client) {
      open();
      checkAppend(parts, client);
      const record = client && clients.get(client.id);
      const answer = client && clientAnswer(client.id, record, client.seq);
      if (answer) throw answer;
      for (const { store, batch, after } of parts) {
        const s = stores.get(store);
        const current = s ? versionOf(s) : 0;
        if (batch.v !== current + 1) throw conflictError(store, batch.v, current);
        if (after !== undefined && s?.log.at(-1)?.id !== after) throw conflictError(store, batch.v, current);
      }
      // Every check passed: nothing below can fail, so the append is all or nothing.
      const copies = parts.map(({ store, batch, json }) => {
        const s = stores.get(store) ?? emptyStore();
        const copy = copyBatch(batch, json);
        s.log.push(copy);
        stores.set(store, s);
        return { store, copy };
      });
      if (client) clients.put(client.id, { ...(record ? copyRecord(record) : emptyRecord()), seq: client.seq });
      for (const { store, copy } of copies) followers.publish(store, copy);
    },

    async since(store, v) {
      open();
      const s = stores.get(store);
      return s ? batchesAfter(s, v) : [];
    },

    async compact(store, value, v, json) {
      open();
      const s = stores.get(store) ?? emptyStore();
      checkCompactVersion(store, v, versionOf(s));
      if (v < s.snapshotV) return; // an older snapshot than the one we hold: keep ours
      s.snapshot = json ?? JSON.stringify(value);
      s.snapshotV = v;
      // The batch at v stays: an append made `after` it must find it (see AppendPart.after).
      s.log = s.log.filter((b) => b.v >= v);
      stores.set(store, s);
    },

    follow(store, v, onBatch) {
      open();
      return followers.add(store, v, onBatch, () => {
        const s = stores.get(store);
        return s ? s.log.filter((b) => b.v > v).map((batch) => copyBatch(batch)) : [];
      });
    },

    async client(id) {
      open();
      const record = clients.get(id);
      return record && copyRecord(record);
    },

    async claim(id, owner) {
      open();
      checkClient(id);
      const record = copyRecord(clients.get(id) ?? emptyRecord(owner));
      if (record.owner === '') record.owner = owner;
      clients.put(id, record);
      return copyRecord(record);
    },

    async refuse(id, seq, code, message) {
      open();
      checkClient(id, seq);
      const record = copyRecord(clients.get(id) ?? emptyRecord());
      addRefusal(record, seq, code, message);
      clients.put(id, record);
    },

    async restoreClients(records) {
      open();
      for (const [id, theirs] of records) clients.put(id, mergeRecords(clients.get(id), theirs));
    },

    async close() {
      closed = true;
      stopSweeper();
      followers.clear();
      clients.clear();
    },
  };
}

function emptyStore(): MemoryStore {
  return { snapshot: JSON.stringify(EMPTY_STATE), snapshotV: 0, log: [] };
}

//#region shared internals

/** A `TWIN_ERR_CONFLICT` refusal of an append, naming the store whose version did not follow. */
export type ConflictError = TwinError & { readonly store: string };

/**
 * The `TWIN_ERR_CONFLICT` refusal of an append whose version does not follow the stored one;
 * its `store` names the store (an append may span several).
 * @internal
 */
export function conflictError(store: string, v: number, current: number): ConflictError {
  const err = new TwinError(
    ErrorCode.CONFLICT,
    `Cannot append version ${v} to store ${JSON.stringify(store)}: its stored version is ${current}, so the next one is ${current + 1}.`,
  );
  return Object.assign(err, { store });
}

/**
 * The error every method of a closed adapter rejects with.
 * @internal
 */
export function closedError(backend: string): TwinError {
  return new TwinError(ErrorCode.INTERNAL, `The ${backend} storage adapter is closed.`, { expose: false });
}

/**
 * Refuses a snapshot version that is not a non-negative integer or, when `current` is given,
 * that was never appended (a snapshot "from the future" would make the next append skip versions).
 * @internal
 */
export function checkCompactVersion(store: string, v: number, current?: number): void {
  if (Number.isSafeInteger(v) && v >= 0 && (current === undefined || v <= current)) return;
  const why = current === undefined ? 'a version is a non-negative integer' : `versions 0 to ${current} are stored`;
  throw new RangeError(`Cannot compact store ${JSON.stringify(store)} at version ${v}: ${why}.`);
}

/**
 * A copy of `batch` to keep: the caller's ops may end up inside its state, which later batches
 * change in place. From `json` (its ops as JSON) when the caller has it: parsing that is cheaper.
 */
function copyBatch(batch: StoredBatch, json?: string): StoredBatch {
  const copy: StoredBatch = { v: batch.v, ops: json === undefined ? structuredClone(batch.ops) : JSON.parse(json) as StoredBatch['ops'] };
  if (batch.id !== undefined) copy.id = batch.id;
  return copy;
}

/**
 * One `follow` registration.
 * @internal
 */
export interface Follower {
  /** The last version handed to `onBatch`; later deliveries skip anything at or below it. */
  cursor: number;
  onBatch: (batch: StoredBatch) => void;
  /** Called when storage is found behind `cursor` (it lost data), with the stored version. */
  onBehind?: ((stored: number) => void) | undefined;
}

/**
 * The followers of one adapter instance, for the single-process backends. Deliveries run in
 * `setImmediate`, after every microtask: the appending caller's `await append()` (and whatever
 * its async chain does next) has finished before any follower hears the batch, so a hub that
 * bumps its own version after appending sees its own batch as already known. A microtask would
 * run before the caller's continuation. Deliveries stay in append order (FIFO).
 * @internal
 */
export class LocalFollowers {
  private _byStore = new Map<string, Set<Follower>>();

  /**
   * Registers `onBatch` for batches after `v`. `backlog` returns the batches already stored
   * after `v`; they are delivered first, in the same queue as live batches.
   */
  add(store: string, v: number, onBatch: (batch: StoredBatch) => void, backlog: () => StoredBatch[]): () => void {
    const follower: Follower = { cursor: v, onBatch };
    let set = this._byStore.get(store);
    if (!set) this._byStore.set(store, (set = new Set()));
    set.add(follower);
    setImmediate(() => {
      if (set.has(follower)) deliver([follower], backlog());
    });
    return () => {
      set.delete(follower);
      if (set.size === 0 && this._byStore.get(store) === set) this._byStore.delete(store);
    };
  }

  /** Schedules `batch` for every current follower of `store`. */
  publish(store: string, batch: StoredBatch): void {
    const set = this._byStore.get(store);
    if (!set) return;
    setImmediate(() => deliver([...set], [batch]));
  }

  /** Drops every follower (on close). */
  clear(): void {
    this._byStore.clear();
  }
}

/**
 * Hands `batches` to each follower past its cursor. A follower that throws does not stop the
 * others; the first error is rethrown once all were served, so it is never swallowed.
 * @internal
 */
export function deliver(followers: Iterable<Follower>, batches: readonly StoredBatch[]): void {
  let first: { error: unknown } | undefined;
  for (const follower of followers) {
    for (const batch of batches) {
      if (batch.v <= follower.cursor) continue;
      follower.cursor = batch.v;
      try {
        follower.onBatch(batch);
      } catch (error) {
        first ??= { error };
      }
    }
  }
  if (first) throw first.error;
}

//#endregion shared internals
