// SPDX-License-Identifier: MIT
/**
 * @module storage
 * The contract every storage backend keeps. The hub holds each store's live state in memory;
 * storage makes it durable and, for Redis, shared between server nodes. Each method is one
 * step in a store's life:
 *
 * 1. {@link StorageAdapter.load} once, when the hub first needs the store;
 * 2. {@link StorageAdapter.append} for every committed batch, in version order;
 * 3. {@link StorageAdapter.since} when a node must catch up (after a conflict, or to serve a
 *    client that is behind);
 * 4. {@link StorageAdapter.compact} now and then, to fold the log into a snapshot;
 * 5. {@link StorageAdapter.follow} while this node has subscribers, to hear other nodes' batches;
 * 6. {@link StorageAdapter.close} when the server shuts down.
 */
import type { Json } from '../src/json.js';
import type { Op } from '../src/ops.js';

/** One committed batch: the store's version after it, its ops, and the batch id if a client sent it. */
export interface StoredBatch {
  /** The store's version once this batch is applied (the first batch makes version 1). */
  v: number;
  ops: Op[];
  /** `clientId:seq` of the batch that produced it, when it came from a client. */
  id?: string;
}

/** What {@link StorageAdapter.load} returns for a store that has been stored before. */
export interface StoredState {
  /** The state at version `v`: the last snapshot with every later logged batch applied. */
  value: Json;
  v: number;
  /** For each client id, the highest batch seq applied to this store (for idempotent re-sends). */
  seqs: Record<string, number>;
}

export interface StorageAdapter {
  /**
   * Loads a store: its latest snapshot with the logged batches after it applied, or
   * `undefined` if nothing was ever stored under `store`.
   */
  load(store: string): Promise<StoredState | undefined>;

  /**
   * Appends `batch`, whose `v` must be exactly one more than the stored version (0 for a
   * store never stored). Resolves only once the batch is durable — the hub acknowledges a
   * batch to clients after this resolves. Records `batch.id`'s seq for its client in the
   * same atomic step. Rejects with a `TwinError` of code `TWIN_ERR_CONFLICT` when the stored
   * version is not `batch.v - 1` (another node wrote first), changing nothing.
   */
  append(store: string, batch: StoredBatch): Promise<void>;

  /**
   * The batches after version `v`, in order, or `undefined` when the log no longer reaches
   * back to `v` (it was compacted): the caller then needs {@link load}.
   */
  since(store: string, v: number): Promise<StoredBatch[] | undefined>;

  /**
   * Records `value` as the snapshot at version `v` (a version already appended) and may drop
   * logged batches up to `v`. Never loses a batch after `v`. Takes what it needs of `value`
   * (a copy, or its serialization) before it returns: the hub goes on changing that tree.
   */
  compact(store: string, value: Json, v: number): Promise<void>;

  /**
   * Calls `onBatch` with every batch appended to `store` after version `v` — by this node or
   * by any other — in version order, until the returned function is called. Backends with a
   * single process may call it only for batches appended through this adapter.
   */
  follow(store: string, v: number, onBatch: (batch: StoredBatch) => void, onBehind?: (stored: number) => void): () => void;

  /**
   * Puts back a store that storage lost (a Redis restarted without persistence) from a node
   * that still holds it: writes `state` as the snapshot at `state.v`, with its seqs, but only
   * if the stored version is below `state.v`. Resolves true if it wrote, false otherwise.
   * Like {@link compact}, it takes what it needs of `state.value` before it returns.
   * Optional: single-process backends cannot lose data behind their hub's back.
   */
  restore?(store: string, state: StoredState): Promise<boolean>;

  /** Releases connections and file handles. */
  close(): Promise<void>;
}
