// SPDX-License-Identifier: MIT
/**
 * @module committer
 * How a checked batch becomes a store's next version: appended to storage (several stores'
 * at once for an action, with the sender's client record, all or nothing), applied to the
 * store's replica, logged for catch-up and broadcast, serialized once, to every subscriber.
 * A store's log is folded into a snapshot in storage now and then (compaction). When an append
 * fails, or other nodes write the store, `realigner.ts` brings the store back in line with
 * storage; a commit that lost a race then tries again.
 *
 * Every method that touches a store expects its caller to hold that store's lock.
 */
import type { EventEmitter } from 'node:events';
import type { Op } from '../src/ops.js';
import type { ClientRecords } from './client-records.js';
import type { Entry, HubStore, LogBounds } from './hub-store.js';
import type { RateLimitedLogger } from './logger.js';
import { stringifyInSlices } from './json-slices.js';
import { Realigner } from './realigner.js';
import type { AppendPart, StorageAdapter, StoredBatch } from './storage.js';

/** A snapshot is written to storage every this many batches at most often... */
const COMPACT_EVERY = 500;
/** ...and once the batches since the last one add up to this share of its size. */
const COMPACT_SHARE = 0.25;
/** Longest stretch of work on a snapshot's JSON before other work gets a turn (ms). */
const COMPACT_SLICE_MS = 4;

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
  /**
   * Brings a store back in line with storage (a race lost, storage trouble, other nodes'
   * batches); the store pipeline and the hub's follow call it directly.
   */
  readonly realigner: Realigner;
  /** Bytes held by every store's catch-up log. */
  private logBytes = 0;

  constructor(options: CommitterOptions) {
    this.storage = options.storage;
    this.records = options.records;
    this.logger = options.logger;
    this.events = options.events;
    this.bounds = options.bounds;
    this.stores = options.stores;
    this.realigner = new Realigner({
      ...options,
      apply: (store, batch, client) => this.apply(store, batch, client),
      forget: (store) => this.forget(store),
    });
  }

  /** A store leaves memory, or its state is replaced from storage: its log no longer counts. */
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
        const conflict = await this.realigner.failed(err, sender);
        if (conflict === 'duplicate') return false;
        await this.realigner.resolve(parts.map(({ store }) => store), conflict, attempt);
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
    await this.realigner.unavailable(this.storage.compact(store.key, store.replica.confirmed, store.v, json));
    store.stored = true;
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
      void store.lock.run(() => this.realigner.reload(store)).catch((err) => this.realigner.storageTrouble(err));
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
}

/** An action's commit lost the race to another node: run it again on the caught-up state. */
export class Rerun extends Error {}
