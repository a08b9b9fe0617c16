// SPDX-License-Identifier: MIT
/**
 * @module storage-memory
 * The in-memory storage backend: a Map per store, gone when the process exits. It is the
 * default for tests and for a single server that needs no durability. Two hubs in one process
 * that share one adapter hear each other's batches through {@link StorageAdapter.follow}.
 *
 * The module also holds two small internals the other backends share: the in-process follower
 * registry and the batch-id parser.
 */
import { ErrorCode, TwinError } from '../src/errors.js';
import type { Json } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { StorageAdapter, StoredBatch, StoredState } from './storage.js';

/** The state a log is replayed onto when a store has no snapshot yet (see {@link StorageAdapter.compact}). */
export const EMPTY_STATE: Json = {};

interface MemoryStore {
  snapshot: Json;
  /** Version of `snapshot`; the log holds exactly the batches after it, in order. */
  snapshotV: number;
  log: StoredBatch[];
  seqs: Map<string, number>;
}

/**
 * Creates a storage adapter that keeps every store in memory until {@link StorageAdapter.compact}
 * folds its log into a snapshot. Values are copied in and out, so callers may mutate what they
 * pass or receive. A store that was never compacted is replayed onto `{}`: a hub whose initial
 * state is something else records it first with `compact(store, initial, 0)`.
 *
 * ```ts
 * const storage = createMemoryStorage();
 * await storage.append('todos', { v: 1, ops: [{ op: 'set', path: ['a'], value: 1 }], id: 'c1:1' });
 * (await storage.load('todos'))?.value; // { a: 1 }
 * ```
 */
export function createMemoryStorage(): StorageAdapter {
  const stores = new Map<string, MemoryStore>();
  const followers = new LocalFollowers();
  let closed = false;

  const open = (): void => {
    if (closed) throw closedError('memory');
  };
  const versionOf = (s: MemoryStore): number => s.log.at(-1)?.v ?? s.snapshotV;
  const batchesAfter = (s: MemoryStore, v: number): StoredBatch[] | undefined =>
    v < s.snapshotV ? undefined : s.log.filter((b) => b.v > v).map(copyBatch);

  return {
    async load(store) {
      open();
      const s = stores.get(store);
      if (!s) return undefined;
      const value = applyOps(s.snapshot, s.log.flatMap((b) => b.ops));
      const state: StoredState = { value: structuredClone(value), v: versionOf(s), seqs: Object.fromEntries(s.seqs) };
      return state;
    },

    async append(store, batch) {
      open();
      const seq = parseBatchId(batch.id);
      const s = stores.get(store) ?? emptyStore();
      const current = versionOf(s);
      if (batch.v !== current + 1) throw conflictError(store, batch.v, current);
      const copy = copyBatch(batch);
      s.log.push(copy);
      if (seq) s.seqs.set(seq.client, Math.max(seq.seq, s.seqs.get(seq.client) ?? seq.seq));
      stores.set(store, s);
      followers.publish(store, copy);
    },

    async since(store, v) {
      open();
      const s = stores.get(store);
      return s ? batchesAfter(s, v) : [];
    },

    async compact(store, value, v) {
      open();
      const s = stores.get(store) ?? emptyStore();
      checkCompactVersion(store, v, versionOf(s));
      if (v < s.snapshotV) return; // an older snapshot than the one we hold: keep ours
      s.snapshot = structuredClone(value);
      s.snapshotV = v;
      s.log = s.log.filter((b) => b.v > v);
      stores.set(store, s);
    },

    follow(store, v, onBatch) {
      open();
      return followers.add(store, v, onBatch, () => {
        const s = stores.get(store);
        return s ? s.log.filter((b) => b.v > v).map(copyBatch) : [];
      });
    },

    async close() {
      closed = true;
      followers.clear();
    },
  };
}

function emptyStore(): MemoryStore {
  return { snapshot: EMPTY_STATE, snapshotV: 0, log: [], seqs: new Map() };
}

//#region shared internals

/** The parts of a batch id `clientId:seq`. */
interface BatchSeq { client: string; seq: number }

/**
 * Splits a batch id into its client id and seq: the seq is the integer after the LAST colon,
 * so client ids may themselves contain colons. `undefined` for a batch without an id.
 * Throws a `TypeError` for an id that has no integer seq, before anything is written.
 * @internal
 */
export function parseBatchId(id: string | undefined): BatchSeq | undefined {
  if (id === undefined) return undefined;
  const at = id.lastIndexOf(':');
  const seq = Number(id.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(id.slice(at + 1)) || !Number.isSafeInteger(seq)) {
    throw new TypeError(`The batch id ${JSON.stringify(id)} is not of the form "clientId:seq" with an integer seq.`);
  }
  return { client: id.slice(0, at), seq };
}

/**
 * The `TWIN_ERR_CONFLICT` refusal of an append whose version does not follow the stored one.
 * @internal
 */
export function conflictError(store: string, v: number, current: number): TwinError {
  return new TwinError(
    ErrorCode.CONFLICT,
    `Cannot append version ${v} to store ${JSON.stringify(store)}: its stored version is ${current}, so the next one is ${current + 1}.`,
  );
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

function copyBatch(batch: StoredBatch): StoredBatch {
  const copy: StoredBatch = { v: batch.v, ops: structuredClone(batch.ops) };
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
