// SPDX-License-Identifier: MIT
/**
 * @module hub
 * The authority over every shared store. A batch becomes state here and only here: authorize
 * → check that it applies and satisfies the schema → append to storage (with the sender's
 * client record, atomically) → commit as version v+1 → broadcast, serialized once, to every
 * subscriber (the last three are `committer.ts`). Each store has its own lock, so the server's
 * order is the order per store and a slow store delays no other. An action locks every store it
 * touches, in name order, and runs again when it lost a race to another node, so it always
 * commits against the state it read (`action-runner.ts`).
 *
 * The hub is also the runtime of the app on the server: the stores users import resolve to
 * the hub's replicas, so server code (a timer, a Koa route, an action) reads and writes them
 * like a client does, and its writes broadcast like anyone's.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ActionDef, App, StoreDef } from '../src/define.js';
import { definitionsOf, initialValue, resolveStore } from '../src/define.js';
import { ErrorCode, isTwinError, RETRYABLE, TwinError } from '../src/errors.js';
import type { Json } from '../src/json.js';
import type { Op } from '../src/ops.js';
import { Replica } from '../src/replica.js';
import type { Batch, ReplicaHost } from '../src/replica.js';
import { bindRuntime } from '../src/runtime.js';
import type { Runtime } from '../src/runtime.js';
import { ActionRunner, NeedsStore } from './action-runner.js';
import { ClientRecords } from './client-records.js';
import { RateLimitedLogger } from './logger.js';
import { HubStore } from './hub-store.js';
import { Committer } from './committer.js';
import type { Sender } from './committer.js';
import { Repeated } from './realigner.js';
import { StorePipeline } from './store-pipeline.js';
import { withLocks } from './store-lock.js';
import type { StorageAdapter } from './storage.js';

export type { Subscriber } from './hub-store.js';
export { HubStore };

/** Batches kept in memory per store to catch up a returning client with only what it missed. */
const DEFAULT_LOG_SIZE = 1000;
/** Bytes of catch-up log kept per store, and by the whole hub. */
const DEFAULT_LOG_BYTES = 8 << 20;
const DEFAULT_HUB_LOG_BYTES = 128 << 20;
/** A family member nobody used for this long is unloaded from memory (reloaded on demand). */
const DEFAULT_IDLE_MS = 60_000;

/** Who is on the other end of a write: a client connection, or the server's own code. */
export interface Origin {
  /** The user the `auth` hook returned (undefined for server code). */
  readonly user: unknown;
  /** The client id and the batch's seq, for a client's batch or call. */
  readonly client?: string;
  readonly seq?: number;
}



/** Options of a store load: who asks, and whether they may create a family member now. */
export interface LoadOptions {
  readonly user?: unknown;
  /** Asked before a family member that does not exist yet is created; false refuses with `TWIN_ERR_RATE`. */
  readonly mayCreate?: () => boolean;
}

export interface HubOptions {
  storage: StorageAdapter;
  /** Batches kept per store for catch-up. Default 1,000. */
  logSize?: number;
  /** Bytes of catch-up log per store. Default 8 MiB. */
  logBytes?: number;
  /** Bytes of catch-up log in all stores together. Default 128 MiB. */
  hubLogBytes?: number;
  /** Unload family members idle this long (ms). Default 60,000. */
  idleMs?: number;
  maxDepth?: number;
  /** Where the hub reports what no caller hears (refused server writes, storage trouble). Default: console, rate-limited. */
  logger?: RateLimitedLogger;
}

/**
 * @fires subscribe - `{ store, client, user }` when a client subscribes to a store
 * @fires unsubscribe - `{ store, client, user }` when it stops (or disconnects)
 * @fires commit - `{ store, family, ms }` for each committed batch (ms: from lock to broadcast)
 * @fires error - a refused write by server code, or storage trouble
 */
export class Hub extends EventEmitter implements Runtime {
  readonly app: App;
  /** The `version` option of each store defined with one (told in every `welcome`), if any is. */
  readonly versions: Readonly<Record<string, number>> | undefined;
  readonly storage: StorageAdapter;
  /** Who owns each client id, and what became of its batches. */
  readonly records: ClientRecords;
  readonly logger: RateLimitedLogger;
  private readonly stores = new Map<string, HubStore>();
  private readonly loading = new Map<string, Promise<HubStore | undefined>>();
  private readonly locals = new Map<string, Replica>();
  /** Server batch ids are unique across nodes, so another node never takes ours for its own. */
  private readonly serverPrefix = `~${randomUUID().slice(0, 8)}`;
  private serverSeq = 0;
  private readonly committer: Committer;
  /** Each store's single batches, committed back to back (made on first use). */
  private readonly pipelines = new WeakMap<HubStore, StorePipeline>();
  private readonly actions: ActionRunner;
  private readonly maxDepth: number | undefined;
  private readonly host: ReplicaHost;
  private readonly idleTimer: ReturnType<typeof setInterval>;
  private readonly idleMs: number;
  private closed = false;

  constructor(app: App, options: HubOptions) {
    super();
    this.app = app;
    const versioned = [...definitionsOf(app).stores.values()].flatMap((def) => def.kind === 'shared' && def.options.version !== undefined ? [[def.name, def.options.version] as const] : []);
    this.versions = versioned.length ? Object.fromEntries(versioned) : undefined;
    this.storage = options.storage;
    this.records = new ClientRecords(options.storage);
    this.logger = options.logger ?? new RateLimitedLogger();
    this.committer = new Committer({
      storage: this.storage,
      records: this.records,
      logger: this.logger,
      events: this,
      bounds: { count: options.logSize ?? DEFAULT_LOG_SIZE, bytes: options.logBytes ?? DEFAULT_LOG_BYTES, hubBytes: options.hubLogBytes ?? DEFAULT_HUB_LOG_BYTES },
      stores: () => this.stores.values(),
      refollow: (store) => this.follow(store),
      closed: () => this.closed,
    });
    this.maxDepth = options.maxDepth;
    this.actions = new ActionRunner({
      committer: this.committer,
      logger: this.logger,
      maxDepth: this.maxDepth,
      loaded: (name) => this.stores.get(name),
      load: (name, loadOptions) => this.load(name, loadOptions),
    });
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.idleTimer = setInterval(() => this.unloadIdle(), Math.max(1000, this.idleMs / 2));
    this.idleTimer.unref();
    this.host = {
      nextBatchId: () => this.serverId(),
      batchFor: (replica) => {
        const ctx = this.actions.context.getStore();
        if (!ctx) return undefined;
        let batch = ctx.batches.get(replica);
        if (!batch) ctx.batches.set(replica, (batch = replica.openBatch(ctx.id, 'call')));
        return batch;
      },
      flush: (replica, batch) => void this.commitServerBatch(replica, batch),
      status: (replica) => {
        replica.trackAll();
        return { connection: replica.local ? 'local' : 'online', v: replica.v, pending: replica.pending.length, error: replica.lastError && { code: replica.lastError.code, message: replica.lastError.message } };
      },
    };
    bindRuntime(app, this);
  }

  //#region Runtime (what server code's stores and actions use)

  /** @internal */
  replica(name: string, def?: StoreDef, id?: string): Replica {
    const loaded = this.stores.get(name);
    const ctx = this.actions.context.getStore();
    if (loaded) {
      // An action sees a store only while it holds its lock: it runs again holding it.
      if (ctx && !ctx.held.has(loaded)) throw new NeedsStore(name, true);
      loaded.lastUsed = Date.now();
      return loaded.replica;
    }
    const found = def ? { def, id } : resolveStore(this.app, name);
    if (!found) throw new TwinError(ErrorCode.STORE, `There is no store ${JSON.stringify(name)}.`);
    if (found.def.kind === 'local') {
      // Local stores belong to each tab; on the server they are their initial value, read-only.
      let replica = this.locals.get(name);
      if (!replica) {
        replica = new Replica(name, initialValue(found.def), 0, this.host, {
          local: true, readonly: `Local store ${JSON.stringify(name)} lives in each browser tab; the server cannot write it.`,
        });
        this.locals.set(name, replica);
      }
      return replica;
    }
    throw new NeedsStore(name, !!ctx);
  }

  /** @internal */
  call(action: ActionDef | string, args: Json[]): Promise<Json> {
    const def = typeof action === 'string' ? definitionsOf(this.app).actions.get(action) : action;
    if (!def) return Promise.reject(new TwinError(ErrorCode.ACTION, `There is no action ${JSON.stringify(action)}.`));
    return this.runAction(def, args, { user: undefined }, this.serverId()).then((r) => r.value);
  }

  /** @internal */
  caller(): unknown {
    return this.actions.context.getStore()?.user;
  }

  //#endregion Runtime
  //#region stores

  /**
   * The store `name` (a family member's full name), loaded from storage or created; undefined
   * if there is no such store, or the family's `exists` hook refuses the id.
   */
  load(name: string, options: LoadOptions = {}): Promise<HubStore | undefined> {
    const loaded = this.stores.get(name);
    if (loaded) {
      loaded.lastUsed = Date.now();
      return Promise.resolve(loaded);
    }
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.open(name, options).finally(() => this.loading.delete(name));
      this.loading.set(name, pending);
    }
    return pending;
  }

  private async open(name: string, options: LoadOptions): Promise<HubStore | undefined> {
    const found = resolveStore(this.app, name);
    if (!found || found.def.kind !== 'shared') return undefined;
    const { persist, exists } = found.def.options;
    // `persist` is a prefix of the store's key in storage, or false for none (memory only).
    const key = persist === false ? undefined : `${typeof persist === 'string' ? persist : ''}${name}`;
    const stored = key === undefined ? undefined : await this.storage.load(key);
    if (!stored && found.id !== undefined) {
      // A new family member: the app decides which ids exist, and nobody creates them in bulk.
      if (exists && !(await exists(found.id, { user: options.user }))) return undefined;
      if (options.mayCreate && !options.mayCreate()) {
        throw new TwinError(ErrorCode.RATE, `You are creating stores too fast; ${JSON.stringify(name)} was not created.`);
      }
    }
    const loadedMeanwhile = this.stores.get(name);
    if (loadedMeanwhile) return loadedMeanwhile;
    const replica = new Replica(name, stored?.value ?? initialValue(found.def, found.id), stored?.v ?? 0, this.host);
    if (this.maxDepth) replica.maxDepth = this.maxDepth;
    // A new store reaches storage with its first commit: reading one (a page, a subscription) writes nothing.
    const store = new HubStore(name, key, found.def, found.id, replica, stored !== undefined);
    store.epoch = stored?.epoch ?? '';
    this.stores.set(name, store);
    if (key !== undefined) this.follow(store);
    return store;
  }

  /**
   * Hears other nodes' batches of `store` (Redis; our own come back too and are skipped by
   * version), from its version on. Called again when the store starts a new epoch: batches
   * read from the old one but not yet handled are dropped then, not applied on the new one.
   */
  private follow(store: HubStore): void {
    store.unfollow?.();
    const epoch = store.epoch;
    let merging = false;
    store.unfollow = this.storage.follow(store.key!, store.v,
      (batch) => {
        // Our own batches come back too: most are applied or on their way by then, and need no
        // lock (taking it would stop the store's pipeline for nothing).
        if (batch.v <= store.v || this.pipeline(store).carries(batch.v, batch.id)) return;
        void store.lock.run(() => {
          // Followed anew since (this node restored the store): this was read from the old epoch.
          if (store.epoch !== epoch) return;
          if ((batch.epoch ?? '') === epoch) return this.committer.realigner.adopt(store, batch);
          // Another node restored the store (Redis came back empty) from a state this node never
          // saw, and this batch follows on from that, not from what this node holds: merge into
          // it (which follows anew), once.
          if (!merging) this.committer.realigner.restoreSoon(store);
          merging = true;
          return undefined;
        });
      },
      () => this.committer.realigner.restoreSoon(store));
  }

  /** All stores loaded now. */
  loaded(): IterableIterator<HubStore> {
    return this.stores.values();
  }

  /** Unloads family members nobody used for a while; they come back from storage when needed. */
  private unloadIdle(): void {
    const before = Date.now() - this.idleMs;
    for (const store of this.stores.values()) {
      // A member kept in memory only would lose its state: only one never written may go.
      if (store.id === undefined || store.lastUsed > before || !store.idle() || (store.key === undefined && store.v > 0)) continue;
      store.unfollow?.();
      this.committer.forget(store);
      this.stores.delete(store.name);
    }
  }

  //#endregion stores
  //#region committing

  /**
   * Queues a client's batch behind the ones it sent before to the same store, and resolves
   * then to `committed`: true once it is committed and broadcast, false when it was committed
   * before (a re-send, maybe to another node), or a rejection with the coded reason it was
   * refused (nothing changed then). Refusals found before it is queued (its client's record,
   * `clientWrites`, `authorize`) reject this call itself. A final refusal is recorded, so a
   * re-send of the batch gets it again.
   */
  async submitClientBatch(store: HubStore, id: string, ops: Op[], origin: Origin & Sender): Promise<{ committed: Promise<boolean> }> {
    const sender = { client: origin.client, seq: origin.seq };
    const fresh = await this.decided(sender, async () => {
      const fate = await this.records.fate(sender.client, sender.seq);
      if (fate === 'applied') return false;
      if (fate !== 'new') throw new Repeated(fate);
      if (store.def.options.clientWrites === false) {
        throw new TwinError(ErrorCode.ACTIONS_ONLY, `Store ${JSON.stringify(store.name)} takes writes only through its actions.`);
      }
      const authorize = store.def.options.authorize;
      if (authorize && !(await authorize({ user: origin.user, store: store.name, ops }))) {
        throw new TwinError(ErrorCode.FORBIDDEN, `You may not write to store ${JSON.stringify(store.name)}.`);
      }
      return true;
    });
    return { committed: fresh ? this.decided(sender, () => this.pipeline(store).commit(ops, id, sender)) : Promise.resolve(false) };
  }

  /**
   * Runs `task` for a client's batch or call and records its final refusal (not a retryable
   * one, not one repeated from the record), so the outcome of a seq never changes.
   */
  private async decided<T>(sender: Sender | undefined, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (err) {
      const error = err instanceof Repeated ? err.error : asTwinError(err);
      if (sender && !(err instanceof Repeated) && !RETRYABLE.has(error.code)) {
        await this.records.refuse(sender.client, sender.seq, error).catch((cause) => {
          this.logger.error('record-refusal', `Could not record the refusal of a batch of client ${sender.client}; a re-send of it may be tried again.`, cause);
        });
      }
      throw error;
    }
  }

  private pipeline(store: HubStore): StorePipeline {
    let pipeline = this.pipelines.get(store);
    if (!pipeline) this.pipelines.set(store, (pipeline = new StorePipeline(store, this.committer, this.maxDepth, (client) => this.records.committedSeq(client))));
    return pipeline;
  }

  /** Commits a turn's worth of writes made by server code. */
  private async commitServerBatch(replica: Replica, batch: Batch): Promise<void> {
    const store = this.stores.get(replica.name);
    try {
      if (!store) throw new TwinError(ErrorCode.STORE, `Store ${JSON.stringify(replica.name)} is not loaded.`);
      await this.pipeline(store).commit(batch.ops, batch.id, undefined);
    } catch (err) {
      const error = err instanceof Repeated ? err.error : asTwinError(err);
      replica.reject(batch.id, error);
      this.logger.warn(`server-write:${replica.name}:${error.code}`, `A write by server code to ${replica.name} was refused: ${error.message}`);
      // Storage trouble was reported where it happened (with storage's own error).
      if (error.code !== ErrorCode.UNAVAILABLE && this.listenerCount('error')) this.emit('error', error);
    }
  }

  //#endregion committing
  //#region actions

  /**
   * Runs an action for `origin`: its writes, to any number of stores, are committed together
   * when it returns, or not at all if it throws or breaks a schema. It runs holding the lock
   * of every store it touches (learned by running it: touching one it does not hold makes it
   * run again holding that one too), and runs again when another node committed first.
   */
  runAction(def: ActionDef, args: Json[], origin: Origin, id: string): Promise<{ value: Json; stores: HubStore[] }> {
    const sender = origin.client !== undefined && origin.seq !== undefined ? { client: origin.client, seq: origin.seq } : undefined;
    return this.decided(sender, async () => {
      if (sender) {
        // A call re-sent after a reconnect (to this node, after a restart, or to another node).
        const fate = await this.records.fate(sender.client, sender.seq);
        if (fate === 'applied') return { value: null, stores: [] };
        if (fate !== 'new') throw new Repeated(fate);
      }
      return this.actions.run(def, args, origin.user, id, sender);
    });
  }

  //#endregion actions

  private serverId(): string {
    return `${this.serverPrefix}:${++this.serverSeq}`;
  }

  /** Stops following storage and unbinds the app, after the commits under way. Storage itself is closed by its owner. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    await withLocks(this.stores.values(), () => undefined);
    for (const store of this.stores.values()) store.unfollow?.();
    bindRuntime(this.app, undefined);
    // Listeners written against this hub's stores must not run against another runtime.
    this.removeAllListeners();
  }
}

/** `err` as a coded error; anything unexpected is the server's (final) fault, its message not shown. */
export function asTwinError(err: unknown): TwinError {
  if (isTwinError(err)) return err;
  return new TwinError(ErrorCode.INTERNAL, err instanceof Error ? err.message : String(err), { cause: err, expose: false });
}
