// SPDX-License-Identifier: MIT
/**
 * @module storage
 * The contract every storage backend keeps. The hub holds each store's live state in memory;
 * storage makes it durable and, for Redis, shared between server nodes. Each method is one
 * step in a store's life:
 *
 * 1. {@link StorageAdapter.load} once, when the hub first needs the store;
 * 2. {@link StorageAdapter.append} for every committed batch (several stores' at once for an
 *    action), in version order, together with the sending client's record;
 * 3. {@link StorageAdapter.since} when a node must catch up (after a conflict, or to serve a
 *    client that is behind);
 * 4. {@link StorageAdapter.compact} now and then, to fold the log into a snapshot;
 * 5. {@link StorageAdapter.follow} while this node has subscribers, to hear other nodes' batches;
 * 6. {@link StorageAdapter.claim} / {@link StorageAdapter.client} / {@link StorageAdapter.refuse}
 *    for the records of client ids (who owns an id; which of its batches were decided);
 * 7. {@link StorageAdapter.close} when the server shuts down.
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
  /**
   * The store's epoch it was appended in (see {@link StoredState.epoch}), as read back from a
   * backend that keeps epochs; absent for none. A node whose store is in another epoch must not
   * apply it on what it holds: the store was restored from a state it never saw.
   */
  epoch?: string;
}

/** What {@link StorageAdapter.load} returns for a store that has been stored before. */
export interface StoredState {
  /** The state at version `v`: the last snapshot with every later logged batch applied. */
  value: Json;
  v: number;
  /**
   * Which life of the store this is (backends that can lose data: Redis): `''` until a node
   * restored it, then `<random>:<base>` where `base` is the version the restore started from.
   */
  epoch?: string;
}

/** One store's batch in an {@link StorageAdapter.append}. */
export interface AppendPart {
  store: string;
  batch: StoredBatch;
  /**
   * The store's epoch as the appending node knows it (see {@link StoredState.epoch}): a backend
   * that keeps epochs refuses the append with `TWIN_ERR_CONFLICT` and `epoch` set to the stored
   * one when they differ — the store was restored by a node whose state this one never saw.
   */
  epoch?: string;
  /**
   * The id of the batch this one was made on top of, when that batch's append has not answered
   * yet (the hub pipelines a store's batches): the append commits only if the store's batch at
   * version `batch.v - 1` is there with this id, and is refused with `TWIN_ERR_CONFLICT`
   * otherwise — so a batch never lands on a version its predecessor failed to take, even when
   * another node wrote that version meanwhile. Compaction keeps the batch at the snapshot's
   * version in the log for this.
   */
  after?: string;
  /** `batch.ops` as JSON, when the caller made it already (it is sent to subscribers too): storage need not make it again. */
  json?: string;
}

/**
 * What storage keeps of one client id: who owns it, and what became of its batches, so a
 * batch re-sent after a reconnect — to any node, after any restart — is answered exactly once.
 * A record expires {@link DEFAULT_CLIENT_TTL_MS} after it last changed (the option
 * `clientTtlMs` of each backend; `maxClients` bounds their number, the least recently changed
 * going first); a client's outbox never outlives that window (ARCHITECTURE.md rules).
 */
export interface ClientRecord {
  /** A hash of the client's key: a connection must present that key to use the id. */
  owner: string;
  /** The highest seq of this client's batches and calls committed to any store (0: none). */
  seq: number;
  /**
   * Final refusals in seq order, at most {@link MAX_REFUSALS} (the highest seqs, i.e. the
   * newest batches): `[seq, code, message]`. A re-sent batch whose seq is here gets its
   * refusal again, never "already applied".
   */
  refused: [number, string, string][];
}

/** How long a client record lives after its last change, unless a backend is told otherwise: 48 hours. */
export const DEFAULT_CLIENT_TTL_MS = 48 * 60 * 60 * 1000;
/** Final refusals kept per client record (the lowest seqs go first). */
export const MAX_REFUSALS = 256;
/**
 * A refusal's message is kept to this many characters (a schema's message may quote the value
 * refused), so a record is bounded in bytes, not only in count.
 */
export const MAX_REFUSAL_CHARS = 300;

/**
 * The batches a node restoring a store holds in its log (their ids, from version `from` on),
 * kept with the restored store: a node merging into it re-appends only its batches that are
 * neither among these nor older than `from` (taken to be in the restored snapshot).
 */
export interface HeldBatches {
  readonly from: number;
  readonly ids: readonly string[];
}

export interface StorageAdapter {
  /**
   * Loads a store: its latest snapshot with the logged batches after it applied, or
   * `undefined` if nothing was ever stored under `store`.
   */
  load(store: string): Promise<StoredState | undefined>;

  /**
   * Appends one batch to each of `parts`' stores, all or nothing (one transaction; one script
   * on Redis): each `batch.v` must be exactly one more than its store's stored version (0 for a
   * store never stored). Resolves only once durable — the hub acknowledges a batch to clients
   * after this resolves. Rejects, changing nothing:
   * - with a `TwinError` of code `TWIN_ERR_CONFLICT` (and `store` set to the store) when a
   *   stored version is not `batch.v - 1` (another node wrote first);
   * - when `client` is given (a client's batch or call), with the recorded refusal's code and
   *   message if `client.seq` is among its record's `refused`, else with `TWIN_ERR_DUPLICATE`
   *   if the record already has a `seq` ≥ `client.seq` (committed before, maybe by another
   *   node). These are checked before the versions: a re-sent batch gets this answer even
   *   when its versions would conflict.
   * - with a `TypeError` for arguments no backend may write (a store named twice, a version
   *   or seq that is not a positive integer, an empty client id).
   *
   * Otherwise, with `client`, it sets the record's `seq` to `client.seq` (creating the record
   * with an empty `owner` if there is none) and renews its expiry, in the same atomic step.
   * `parts` may be empty when `client` is given: a call that changed no store records its seq.
   */
  append(parts: readonly AppendPart[], client?: { id: string; seq: number }): Promise<void>;

  /**
   * The batches after version `v`, in order, or `undefined` when the log no longer reaches
   * back to `v` (it was compacted): the caller then needs {@link load}.
   */
  since(store: string, v: number): Promise<StoredBatch[] | undefined>;

  /**
   * Records `value` as the snapshot at version `v` (a version already appended) and may drop
   * logged batches up to `v`. Never loses a batch after `v`. Takes what it needs of `value`
   * (a copy, or its serialization) before it returns: the hub goes on changing that tree.
   * `json`, when given, is `value`'s JSON text, written by the hub in slices: a backend that
   * stores text uses it rather than serializing a large store in one go.
   */
  compact(store: string, value: Json, v: number, json?: string): Promise<void>;

  /**
   * Calls `onBatch` with every batch appended to `store` after version `v` — by this node or
   * by any other — in version order, until the returned function is called. Backends with a
   * single process may call it only for batches appended through this adapter.
   */
  follow(store: string, v: number, onBatch: (batch: StoredBatch) => void, onBehind?: (stored: number) => void): () => void;

  /**
   * Puts back a store that storage lost (a Redis restarted without persistence) from a node
   * that still holds it: writes `state` as the snapshot at `state.v`, as a new epoch, but only
   * if storage holds nothing of the store (else the node merges into it, see {@link reappend}).
   * Resolves to the new epoch if it wrote, undefined otherwise.
   * Like {@link compact}, it takes what it needs of `state.value` before it returns.
   * Optional: single-process backends cannot lose data behind their hub's back.
   */
  restore?(store: string, state: StoredState, held?: HeldBatches): Promise<string | undefined>;

  /**
   * After another node restored `store` (epoch `epoch`, from version `base`), appends a batch
   * this node held that the store lacks (ask {@link lacks} first), as the store's next version
   * — unless a batch with its id is there after `base` already (another node merged it
   * meanwhile). Rejects with `TWIN_ERR_CONFLICT` (and `epoch`) if the
   * store's epoch is no longer `epoch`. Optional, with {@link restore}.
   */
  reappend?(store: string, batch: { ops: Op[]; id: string }, base: number, epoch: string): Promise<'appended' | 'present'>;

  /**
   * Of `batches` (ids, at their versions in this node), the ids of those the store lacks, in
   * order: neither held by the node that restored it (see {@link HeldBatches}), nor older than
   * its log, nor appended after `base`. A merging node checks that these still apply, then
   * {@link reappend}s them.
   * Rejects like {@link reappend} when the epoch changed. Optional, with {@link restore}.
   */
  lacks?(store: string, batches: readonly { id: string; v: number }[], base: number, epoch: string): Promise<string[]>;

  /** The record of client `id`, or `undefined` if there is none (never written, or expired). */
  client(id: string): Promise<ClientRecord | undefined>;

  /**
   * Claims client `id` for `owner` (a hash of the client's key): creates the record
   * `{ owner, seq: 0, refused: [] }` if there is none, fills in `owner` if the record has an
   * empty one, and renews its expiry. Returns the record as stored afterwards — the caller
   * compares its `owner`: another owner means the id belongs to someone else.
   */
  claim(id: string, owner: string): Promise<ClientRecord>;

  /**
   * Records that client `id`'s batch or call `seq` was refused for good (keeping the newest
   * {@link MAX_REFUSALS}), creating the record if needed and renewing its expiry.
   */
  refuse(id: string, seq: number, code: string, message: string): Promise<void>;

  /**
   * Merges records a node still holds back into a storage that lost them (see
   * {@link restore}): the higher `seq` wins, `refused` lists are joined, an empty `owner` is
   * filled in. Optional, like {@link restore}.
   */
  restoreClients?(records: ReadonlyMap<string, ClientRecord>): Promise<void>;

  /** Releases connections and file handles. */
  close(): Promise<void>;
}
