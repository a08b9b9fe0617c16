// SPDX-License-Identifier: MIT
/**
 * @module committer
 * How a checked batch becomes a store's next version: appended to storage (several stores'
 * at once for an action, with the sender's client record, all or nothing), applied to the
 * store's replica, logged for catch-up and broadcast, serialized once, to every subscriber.
 * It also keeps each store in step with storage when other nodes write it: their batches are
 * adopted in order, a node that lost a race catches up and tries again, and a storage that
 * lost data (a Redis restarted empty) is given back what this node holds.
 *
 * Every method that touches a store expects its caller to hold that store's lock.
 */
import type { EventEmitter } from 'node:events';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import { applyOps } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import { parseBatchId } from '../src/protocol.js';
import type { ClientRecords } from './client-records.js';
import type { Entry, HubStore, LogBounds } from './hub-store.js';
import type { RateLimitedLogger } from './logger.js';
import { stringifyInSlices } from './json-slices.js';
import type { AppendPart, StorageAdapter, StoredBatch } from './storage.js';

/** A snapshot is written to storage every this many batches at most often... */
const COMPACT_EVERY = 500;
/** ...and once the batches since the last one add up to this share of its size. */
const COMPACT_SHARE = 0.25;
/** Longest stretch of work on a snapshot's JSON before other work gets a turn (ms). */
const COMPACT_SLICE_MS = 4;
/** Attempts at a commit that keeps losing the race to other nodes before giving up (retryably). */
const MAX_CONFLICT_RETRIES = 20;
/** The longest random pause before a retry that lost the race again. */
const CONFLICT_BACKOFF_MAX_MS = 50;
/** Attempts, and their backoff, at writing a store back to a storage that lost it. */
const RESTORE_ATTEMPTS = 20;
const RESTORE_RETRY_BASE_MS = 50;
const RESTORE_RETRY_MAX_MS = 1_000;
/** How long a failed append waits for storage to say whether it happened after all. */
const UNKNOWN_OUTCOME_WAIT_MS = 10_000;

/** A client's batch or call: whose, and which. */
export interface Sender {
  readonly client: string;
  readonly seq: number;
}

/** One store's part of a commit. */
export interface Part {
  readonly store: HubStore;
  readonly ops: Op[];
  /** `ops` as JSON, made once for storage and for the subscribers' `sync`. */
  readonly json?: string;
}

/** What the committer needs from the hub it works for. */
export interface CommitterOptions {
  readonly storage: StorageAdapter;
  readonly records: ClientRecords;
  readonly logger: RateLimitedLogger;
  /** Where `commit` and `error` events go (the hub). */
  readonly events: EventEmitter;
  /** The catch-up log's bounds, per store and for the whole hub (`hubBytes`). */
  readonly bounds: LogBounds & { readonly hubBytes: number };
  /** Every store loaded now (to trim their logs when the hub's is too large). */
  readonly stores: () => Iterable<HubStore>;
  /** Whether the hub is closing (restores stop retrying then). */
  readonly closed: () => boolean;
  /** Follows the store anew from its version (it started a new epoch). */
  readonly refollow: (store: HubStore) => void;
}

export class Committer {
  private readonly storage: StorageAdapter;
  private readonly records: ClientRecords;
  private readonly logger: RateLimitedLogger;
  private readonly events: EventEmitter;
  private readonly bounds: LogBounds & { readonly hubBytes: number };
  private readonly stores: () => Iterable<HubStore>;
  private readonly closed: () => boolean;
  private readonly refollow: (store: HubStore) => void;
  /** Bytes held by every store's catch-up log. */
  private logBytes = 0;

  constructor(options: CommitterOptions) {
    this.storage = options.storage;
    this.records = options.records;
    this.logger = options.logger;
    this.events = options.events;
    this.bounds = options.bounds;
    this.stores = options.stores;
    this.closed = options.closed;
    this.refollow = options.refollow;
  }

  /** A store leaves memory: its log no longer counts. */
  forget(store: HubStore): void {
    this.logBytes -= store.clearLog();
  }

  /**
   * Stores and applies checked batches to one or more stores as one transaction (all or
   * nothing, in storage too). Call holding the locks of every store in `parts`. When another
   * node committed first, catches up and calls `onConflict` (which re-checks, or throws
   * {@link Rerun} for an action) before trying again. Resolves false if storage says the
   * sender's batch was committed before (by another node).
   */
  async commit(batches: Part[], id: string, sender: Sender | undefined, onConflict: () => Promise<void>): Promise<boolean> {
    const started = performance.now();
    const parts = batches.map((part) => ({ ...part, json: part.json ?? JSON.stringify(part.ops) }));
    for (let attempt = 0; ; attempt++) {
      for (const { store } of parts) await this.ensureStored(store);
      // Every batch keeps its id in storage: a node merging into a restored store finds by id
      // which of its batches the store lacks.
      const stored = parts.filter(({ store }) => store.key !== undefined)
        .map(({ store, ops, json }): AppendPart => ({ store: store.key!, batch: { v: store.v + 1, ops, id }, epoch: store.epoch, json }));
      try {
        if (stored.length) await this.storage.append(stored, sender && { id: sender.client, seq: sender.seq });
        break;
      } catch (err) {
        const conflict = await this.failed(err, sender);
        if (conflict === 'duplicate') return false;
        await this.resolve(parts.map(({ store }) => store), conflict, attempt);
        await onConflict();
      }
    }
    this.committed(parts, id, sender, started);
    return true;
  }

  /** A new store's initial state goes to storage before its first batch (see `open`). */
  async ensureStored(store: HubStore): Promise<void> {
    if (store.key === undefined || store.stored) return;
    const json = await this.snapshotJson(store);
    await this.unavailable(this.storage.compact(store.key, store.replica.confirmed, store.v, json));
    store.stored = true;
  }

  /**
   * What a failed append means: `duplicate` (storage holds the sender's batch already: a
   * re-send, or an append that failed after writing), or the `TWIN_ERR_CONFLICT` error when
   * another node wrote first. Throws {@link Repeated} for a refusal storage recorded before,
   * and the coded refusal for storage trouble.
   */
  async failed(err: unknown, sender: Sender | undefined): Promise<'duplicate' | TwinError> {
    if (isTwinError(err) && err.code === ErrorCode.DUPLICATE) return 'duplicate';
    if (isTwinError(err) && err.code !== ErrorCode.CONFLICT && err.code !== ErrorCode.INTERNAL && err.expose) throw new Repeated(err);
    if (isTwinError(err) && err.code === ErrorCode.CONFLICT) return err;
    // The append may have happened all the same (Redis went away before it answered):
    // report the batch refused only once storage says it holds no such commit.
    if (sender && (await this.committedAfterAll(sender))) return 'duplicate';
    throw this.storageTrouble(err);
  }

  /**
   * After `conflict` (the `attempt`th in a row), brings `stores` up to what storage holds, so the
   * commit can be checked again and retried; throws a retryable refusal after too many.
   */
  async resolve(stores: readonly HubStore[], conflict: TwinError, attempt: number): Promise<void> {
    if (attempt >= MAX_CONFLICT_RETRIES) {
      throw new TwinError(ErrorCode.UNAVAILABLE, 'Other servers keep writing this store first; try again.');
    }
    // Losing again and again means others write as fast as we can catch up: step back a
    // random moment (before catching up, so we retry fresh), as Ethernet does.
    if (attempt > 0) await delay(Math.random() * Math.min(CONFLICT_BACKOFF_MAX_MS, 2 ** attempt));
    const restored = (conflict as { epoch?: string }).epoch;
    for (const store of stores) {
      if (store.key === undefined) continue;
      if (restored !== undefined) {
        // Another node put the store back after storage lost it, from a state this node never
        // saw: give it what only this node holds, then take the store as it stands.
        await this.unavailable(this.merge(store));
        continue;
      }
      const known = store.v;
      await this.unavailable(this.catchUp(store));
      // Nothing was stored after our version, yet the next one was refused: storage is
      // behind us (it lost data: a Redis restarted without persistence). Put back what we hold.
      if (store.v === known) await this.unavailable(this.restore(store));
    }
  }

  /** Brings `store` up to what storage holds (after an append whose outcome was unclear). */
  async refresh(store: HubStore): Promise<void> {
    if (store.key !== undefined) await this.unavailable(this.catchUp(store));
  }

  /** A commit storage took: each part becomes its store's next version, told to every subscriber. */
  committed(parts: readonly Part[], id: string, sender: Sender | undefined, started: number): void {
    for (const { store, ops, json } of parts) this.apply(store, { v: store.v + 1, ops, id }, sender?.client, json);
    if (sender) this.records.committed(sender.client, sender.seq);
    const ms = performance.now() - started;
    for (const { store } of parts) {
      this.events.emit('commit', { store: store.name, family: store.def.name, ms });
      this.compactSometimes(store);
    }
  }

  /**
   * Sends one batch's append to storage (of a store on its way: `after` names the batch it was
   * made on top of, still on its way too). Resolves once durable; a store kept in memory only
   * has nothing to wait for.
   */
  async send(store: HubStore, batch: StoredBatch, sender: Sender | undefined, after: string | undefined, json: string): Promise<void> {
    if (store.key === undefined) return;
    const part: AppendPart = { store: store.key, batch, epoch: store.epoch, json, ...(after === undefined ? {} : { after }) };
    await this.storage.append([part], sender && { id: sender.client, seq: sender.seq });
  }

  /** Makes a stored batch the store's new version and tells every subscriber (`json`: its ops as JSON). */
  private apply(store: HubStore, batch: StoredBatch, client: string | undefined, json = JSON.stringify(batch.ops)): void {
    store.lastUsed = Date.now();
    // The replica's own pending batch (server code's writes, an action's) is recognized by its id.
    if (!store.replica.receive(batch.v, batch.ops, batch.id)) {
      // Only a batch from another node can fail here (ours were checked): this node diverged.
      this.logger.warn(`diverged:${store.name}`, `Store ${store.name}: batch ${batch.v} does not apply here; reloading it from storage.`);
      void store.lock.run(() => this.reload(store)).catch((err) => this.storageTrouble(err));
      return;
    }
    const publicText = `{"t":"sync","store":${JSON.stringify(store.name)},"v":${batch.v},"ops":${json}}`;
    const entry: Entry = {
      ...batch,
      client,
      public: Buffer.from(publicText),
      own: client && batch.id ? Buffer.from(`${publicText.slice(0, -1)},"id":${JSON.stringify(batch.id)}}`) : undefined,
    };
    store.sinceCompactBytes += entry.public.length;
    this.logBytes += store.record(entry, this.bounds);
    if (this.logBytes > this.bounds.hubBytes) this.trimLogs();
    for (const subscriber of store.subscribers) {
      subscriber.enqueue(client && entry.own && subscriber.owns(client) ? entry.own : entry.public);
    }
  }

  /** Halves every store's log until the hub is within its log budget (clients behind get snapshots). */
  private trimLogs(): void {
    for (const store of this.stores()) {
      this.logBytes -= store.trim(Math.floor(store.log.length / 2), store.logBytes / 2);
      if (this.logBytes <= this.bounds.hubBytes / 2) return;
    }
  }

  /** The store's state as JSON, written in slices (call it holding the lock); notes its size. */
  private async snapshotJson(store: HubStore): Promise<string> {
    const json = await stringifyInSlices(store.replica.confirmed, COMPACT_SLICE_MS);
    store.snapshotBytes = json.length;
    return json.toString();
  }

  /**
   * Folds the store's log into a snapshot in storage now and then. Writing one costs the
   * store's size, so it waits until the batches since the last add up to a share of that (a
   * 10 MB store is rewritten after 2.5 MB of batches, not after 500 small ones), and loading
   * the store replays at most that share again. The snapshot's JSON is written in slices,
   * holding the store's lock (commits change the tree in place), so other stores go on meanwhile.
   */
  private compactSometimes(store: HubStore): void {
    if (store.key === undefined || ++store.sinceCompact < COMPACT_EVERY || store.sinceCompactBytes < COMPACT_SHARE * store.snapshotBytes) return;
    store.sinceCompact = 0;
    store.sinceCompactBytes = 0;
    const key = store.key;
    store.lock.run(async () => {
      await this.storage.compact(key, store.replica.confirmed, store.v, await this.snapshotJson(store));
    }).catch((err) => {
      this.logger.warn(`compact:${store.name}`, `Compacting store ${store.name} failed; its log grows until the next try.`, err);
    });
  }

  /**
   * Whether storage holds `sender`'s batch although the append failed, asked until storage
   * answers (for {@link UNKNOWN_OUTCOME_WAIT_MS} at most; then it is taken as not committed —
   * the client sends it again, and storage, which checks its record on every append, answers
   * that copy as a duplicate if it was).
   */
  private async committedAfterAll(sender: Sender): Promise<boolean> {
    const deadline = Date.now() + UNKNOWN_OUTCOME_WAIT_MS;
    for (let attempt = 0; Date.now() < deadline && !this.closed(); attempt++) {
      try {
        const record = await this.storage.client(sender.client);
        const committed = (record?.seq ?? 0) >= sender.seq;
        if (committed) this.records.committed(sender.client, sender.seq);
        return committed;
      } catch {
        await delay(Math.min(RESTORE_RETRY_MAX_MS, RESTORE_RETRY_BASE_MS * 2 ** attempt));
      }
    }
    return false;
  }

  /** {@link restore} from outside a commit (storage told us it lost data), retried with backoff while storage is unreachable. */
  restoreSoon(store: HubStore, attempt = 0): void {
    store.lock.run(() => this.restore(store)).catch((err) => {
      if (this.closed() || attempt + 1 >= RESTORE_ATTEMPTS) {
        this.logger.error(`restore:${store.name}`, `Could not restore store ${store.name} to storage after ${attempt + 1} attempts.`, err);
        return;
      }
      setTimeout(() => this.restoreSoon(store, attempt + 1), Math.min(RESTORE_RETRY_MAX_MS, RESTORE_RETRY_BASE_MS * 2 ** attempt)).unref();
    });
  }

  /** Writes what this node holds of `store` (and of client records) back to storage if storage is behind it (it lost data). */
  private async restore(store: HubStore): Promise<void> {
    if (!this.storage.restore) return;
    await this.storage.restoreClients?.(this.records.held());
    const epoch = await this.storage.restore(store.key!, { value: store.replica.confirmed, v: store.v });
    if (epoch !== undefined) {
      store.epoch = epoch;
      this.refollow(store);
      this.logger.warn(`restored:${store.name}`, `Storage had lost store ${store.name}; this node put it back at version ${store.v}.`);
      return;
    }
    // Storage holds the store again: another node put it back (or it was never lost).
    const stored = await this.storage.load(store.key!);
    if (stored && (stored.epoch ?? '') !== store.epoch) await this.merge(store);
  }

  /**
   * Merges this node into a store another node restored (epoch `<id>:<base>`): the batches
   * after `base` this node holds and the store lacks (by id) are appended to it, in order, and
   * this node then takes the store as it stands. Batches this node no longer holds in its log
   * cannot be found, and are reported.
   */
  private async merge(store: HubStore): Promise<void> {
    await this.storage.restoreClients?.(this.records.held());
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      const stored = await this.storage.load(store.key!);
      if (!stored) {
        await this.restore(store);
        return;
      }
      const epoch = stored.epoch ?? '';
      const base = Number(epoch.slice(epoch.lastIndexOf(':') + 1)) || 0;
      if (store.v > base && (store.log[0]?.v ?? Infinity) > base + 1) {
        this.logger.error(`merge:${store.name}`, `Store ${store.name} was restored by another node from version ${base}; this node's batches after it are no longer in its log (it holds ${store.log.length}), so any of them the store lacks are lost.`);
      }
      try {
        let state = stored.value;
        for (const entry of store.log) {
          if (entry.v <= base || !entry.id) continue;
          try {
            // Only batches that still apply on top of the restored state (as the hub checked them).
            state = applyOps(state, entry.ops);
          } catch (err) {
            this.logger.error(`merge:${store.name}`, `Batch ${entry.id} of store ${store.name} no longer applies after a restore by another node; it is dropped.`, err);
            continue;
          }
          await this.storage.reappend!(store.key!, { ops: entry.ops, id: entry.id }, base, epoch);
        }
      } catch (err) {
        if ((err as { epoch?: string }).epoch !== undefined) continue; // restored again meanwhile
        throw err;
      }
      await this.reload(store);
      this.refollow(store);
      return;
    }
    throw new TwinError(ErrorCode.UNAVAILABLE, `Store ${JSON.stringify(store.name)} keeps being restored; try again.`);
  }

  /** Applies batches other nodes stored that this node has not seen yet. */
  private async catchUp(store: HubStore): Promise<void> {
    const missed = await this.storage.since(store.key!, store.v);
    if (missed) {
      for (const batch of missed) this.adoptNow(store, batch);
      return;
    }
    await this.reload(store);
  }

  /** Replaces what this node holds of `store` with what storage holds, and tells every subscriber. */
  private async reload(store: HubStore): Promise<void> {
    const stored = await this.storage.load(store.key!);
    if (!stored) return;
    store.epoch = stored.epoch ?? '';
    store.replica.reset(stored.value, stored.v);
    this.logBytes -= store.clearLog();
    const snapshot = await store.snapshot();
    for (const subscriber of store.subscribers) for (const message of snapshot) subscriber.enqueue(message);
  }

  /** A batch from storage (another node's, or our own coming back), holding the store's lock. */
  async adopt(store: HubStore, batch: StoredBatch): Promise<void> {
    if (batch.v <= store.v) return;
    if (batch.v !== store.v + 1) await this.catchUp(store);
    else this.adoptNow(store, batch);
  }

  private adoptNow(store: HubStore, batch: StoredBatch): void {
    if (batch.v !== store.v + 1) return;
    const sender = batch.id && !batch.id.startsWith('~') ? parseBatchId(batch.id) : undefined;
    if (sender) this.records.committed(sender.client, sender.seq);
    this.apply(store, batch, sender?.client);
  }

  /** Storage failed (not a conflict): the client may retry; whoever runs the server hears of it. */
  private storageTrouble(err: unknown): TwinError {
    this.logger.error('storage', 'Storage failed; the write is refused for now (unless storage turns out to hold it), and its client will send it again.', err);
    if (this.events.listenerCount('error')) this.events.emit('error', err);
    return new TwinError(ErrorCode.UNAVAILABLE, 'The server cannot store this right now; it will be sent again.', { cause: err });
  }

  /** Awaits a storage call, turning its failure into {@link storageTrouble}. */
  private async unavailable<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw this.storageTrouble(err);
    }
  }

}

/** An action's commit lost the race to another node: run it again on the caught-up state. */
export class Rerun extends Error {}

/** A refusal read from a client's record: sent again, not recorded again. */
export class Repeated extends Error {
  readonly error: TwinError;
  constructor(error: TwinError) {
    super(error.message);
    this.error = error;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
