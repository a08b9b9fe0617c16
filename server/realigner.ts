// SPDX-License-Identifier: MIT
/**
 * @module realigner
 * Bringing a store back in line with storage when the two differ: what a failed append means
 * (a duplicate, a race lost to another node, storage trouble whose outcome storage must be
 * asked about), other nodes' batches adopted in order, a node that lost a race caught up, a
 * diverged store reloaded, and a storage that lost data (a Redis restarted empty) given back
 * what this node holds (`restore`), or merged into when another node put it back first
 * (`merge`).
 *
 * Apart from `committer.ts` because it is the other direction: the committer writes this
 * node's batches to storage; the realigner makes this node match what storage holds. The
 * committer hands it how a batch is applied, logged and broadcast (`apply`), so both show a
 * version the same way.
 *
 * Every method that touches a store expects its caller to hold that store's lock.
 */
import type { EventEmitter } from 'node:events';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import { applyOps } from '../src/ops.js';
import { parseBatchId } from '../src/protocol.js';
import type { ClientRecords } from './client-records.js';
import type { HubStore } from './hub-store.js';
import type { RateLimitedLogger } from './logger.js';
import type { StorageAdapter, StoredBatch, StoredState } from './storage.js';

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

/** Whose batch an append was (the committer's `Sender`; typed here so this module needs nothing of it). */
interface AppendSender {
  readonly client: string;
  readonly seq: number;
}

/** What the realigner needs from the committer it works with. */
export interface RealignerOptions {
  readonly storage: StorageAdapter;
  readonly records: ClientRecords;
  readonly logger: RateLimitedLogger;
  /** Where `error` events go (the hub). */
  readonly events: EventEmitter;
  /** Whether the hub is closing (restores stop retrying then). */
  readonly closed: () => boolean;
  /** Follows the store anew from its version (it started a new epoch). */
  readonly refollow: (store: HubStore) => void;
  /** Makes a stored batch the store's next version, told to every subscriber (`client`: its sender). */
  readonly apply: (store: HubStore, batch: StoredBatch, client: string | undefined) => void;
  /** Drops the store's catch-up log (its state is replaced), and its bytes from the hub's count. */
  readonly forget: (store: HubStore) => void;
}

export class Realigner {
  private readonly storage: StorageAdapter;
  private readonly records: ClientRecords;
  private readonly logger: RateLimitedLogger;
  private readonly events: EventEmitter;
  private readonly closed: () => boolean;
  private readonly refollow: (store: HubStore) => void;
  private readonly apply: (store: HubStore, batch: StoredBatch, client: string | undefined) => void;
  private readonly forget: (store: HubStore) => void;

  constructor(options: RealignerOptions) {
    this.storage = options.storage;
    this.records = options.records;
    this.logger = options.logger;
    this.events = options.events;
    this.closed = options.closed;
    this.refollow = options.refollow;
    this.apply = options.apply;
    this.forget = options.forget;
  }

  /**
   * What a failed append means: `duplicate` (storage holds the sender's batch already: a
   * re-send, or an append that failed after writing), or the `TWIN_ERR_CONFLICT` error when
   * another node wrote first. Throws {@link Repeated} for a refusal storage recorded before,
   * and the coded refusal for storage trouble.
   */
  async failed(err: unknown, sender: AppendSender | undefined): Promise<'duplicate' | TwinError> {
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

  /** A batch from storage (another node's, or our own coming back), holding the store's lock. */
  async adopt(store: HubStore, batch: StoredBatch): Promise<void> {
    if (batch.v <= store.v) return;
    if (batch.v !== store.v + 1) await this.catchUp(store);
    else this.adoptNow(store, batch);
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

  /** Replaces what this node holds of `store` with what storage holds (`stored`, when just read), and tells every subscriber. */
  async reload(store: HubStore, stored?: StoredState): Promise<void> {
    stored ??= await this.storage.load(store.key!);
    if (!stored) return;
    store.epoch = stored.epoch ?? '';
    store.replica.reset(stored.value, stored.v);
    this.forget(store);
    const snapshot = await store.snapshot();
    for (const subscriber of store.subscribers) for (const message of snapshot) subscriber.enqueue(message);
  }

  /** Storage failed (not a conflict): the client may retry; whoever runs the server hears of it. */
  storageTrouble(err: unknown): TwinError {
    this.logger.error('storage', 'Storage failed; the write is refused for now (unless storage turns out to hold it), and its client will send it again.', err);
    if (this.events.listenerCount('error')) this.events.emit('error', err);
    return new TwinError(ErrorCode.UNAVAILABLE, 'The server cannot store this right now; it will be sent again.', { cause: err });
  }

  /** Awaits a storage call, turning its failure into {@link storageTrouble}. */
  async unavailable<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw this.storageTrouble(err);
    }
  }

  /**
   * Whether storage holds `sender`'s batch although the append failed, asked until storage
   * answers (for {@link UNKNOWN_OUTCOME_WAIT_MS} at most; then it is taken as not committed —
   * the client sends it again, and storage, which checks its record on every append, answers
   * that copy as a duplicate if it was).
   */
  private async committedAfterAll(sender: AppendSender): Promise<boolean> {
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

  /** Writes what this node holds of `store` (and of client records) back to storage if storage is behind it (it lost data). */
  private async restore(store: HubStore): Promise<void> {
    if (!this.storage.restore) return;
    await this.storage.restoreClients?.(this.records.held());
    const held = { from: store.log[0]?.v ?? store.v + 1, ids: store.log.flatMap((entry) => (entry.id ? [entry.id] : [])) };
    const epoch = await this.storage.restore(store.key!, { value: store.replica.confirmed, v: store.v }, held);
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
        // Every batch this node holds is asked about: after a restore by a node that was behind,
        // or in another epoch, this node's versions do not line up with the store's.
        const ours = store.log.flatMap((entry) => (entry.id ? [{ id: entry.id, v: entry.v }] : []));
        const lacking = new Set(await this.storage.lacks!(store.key!, ours, base, epoch));
        for (const entry of store.log) {
          if (!entry.id || !lacking.has(entry.id)) continue;
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

  /**
   * Applies batches other nodes stored that this node has not seen yet; takes the stored state
   * when the log no longer reaches back to this node's version; merges when the store was
   * restored by another node meanwhile (its batches do not follow on from what this node holds).
   */
  private async catchUp(store: HubStore): Promise<void> {
    const missed = await this.storage.since(store.key!, store.v);
    if (missed?.every((batch) => (batch.epoch ?? '') === store.epoch)) {
      for (const batch of missed) this.adoptNow(store, batch);
      return;
    }
    const stored = await this.storage.load(store.key!);
    if (stored && (stored.epoch ?? '') !== store.epoch) await this.merge(store);
    else await this.reload(store, stored);
  }

  private adoptNow(store: HubStore, batch: StoredBatch): void {
    if (batch.v !== store.v + 1) return;
    const sender = batch.id && !batch.id.startsWith('~') ? parseBatchId(batch.id) : undefined;
    if (sender) this.records.committed(sender.client, sender.seq);
    this.apply(store, batch, sender?.client);
  }
}

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
