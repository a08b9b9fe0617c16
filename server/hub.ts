// SPDX-License-Identifier: MIT
/**
 * @module hub
 * The authority over every shared store. A batch becomes state here and only here: authorize
 * → check that it applies and satisfies the schema → append to storage → commit as version
 * v+1 → broadcast, serialized once, to every subscriber. Commits (and actions, which run to
 * completion before anything else commits) go through one queue, so the server's order is the
 * order, and an action always sees the state it writes to.
 *
 * The hub is also the runtime of the app on the server: the stores users import resolve to
 * the hub's replicas, so server code (a timer, a Koa route, an action) reads and writes them
 * like a client does, and its writes broadcast like anyone's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import type { ActionDef, App, StoreDef } from '../src/define.js';
import { definitionsOf, initialValue, resolveStore } from '../src/define.js';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import { cloneJson, formatPath } from '../src/json.js';
import type { Json, JsonObject } from '../src/json.js';
import { applyOps, applyOpsInPlace } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import { parseBatchId } from '../src/protocol.js';
import { Replica } from '../src/replica.js';
import type { Batch, ReplicaHost } from '../src/replica.js';
import { bindRuntime } from '../src/runtime.js';
import type { Runtime, StoreStatus } from '../src/runtime.js';
import type { StorageAdapter, StoredBatch } from './storage.js';

const debug = debuglog('twin:server');

/** Batches kept in memory per store to catch up a returning client with only what it missed. */
const DEFAULT_LOG_SIZE = 1000;
/** A snapshot is written to storage every this many batches. */
const COMPACT_EVERY = 500;
/** Times an action may run again because it touched a store that had to be loaded first. */
const MAX_LOAD_RETRIES = 8;
/** Attempts at a commit that keeps losing the race to other nodes before giving up. */
const MAX_CONFLICT_RETRIES = 20;
/** The longest random pause before a retry that lost the race again. */
const CONFLICT_BACKOFF_MAX_MS = 50;
/** Attempts, and their backoff, at writing a store back to a storage that lost it. */
const RESTORE_ATTEMPTS = 20;
const RESTORE_RETRY_BASE_MS = 50;
const RESTORE_RETRY_MAX_MS = 1_000;

/** Who is on the other end of a write: a client connection, or the server's own code. */
export interface Origin {
  /** The user the `auth` hook returned (undefined for server code). */
  readonly user: unknown;
  /** The client id, for a client's batch. */
  readonly client?: string;
}

/** Something that receives a store's committed batches: a client connection. */
export interface Subscriber {
  readonly client: string;
  readonly user: unknown;
  /** Queues an already serialized message for this subscriber. */
  enqueue(message: Buffer): void;
}

/** One logged batch with its serializations, made once and sent to many. */
interface Entry extends StoredBatch {
  /** `sync` for everyone but the sender (no id: batch ids are the sender's secret). */
  readonly public: Buffer;
  /** `sync` with the id, for the sender. */
  readonly own: Buffer | undefined;
}

/** A shared store as the hub holds it. */
export class HubStore {
  readonly name: string;
  /**
   * Where the store lives in storage: its name behind the `persist` prefix; undefined for a
   * store kept in memory only (`persist: false`), which never reaches the storage calls.
   */
  readonly key: string | undefined;
  readonly def: StoreDef;
  readonly replica: Replica;
  readonly subscribers = new Set<Subscriber>();
  /** Recent batches, oldest first, for catch-up. */
  readonly log: Entry[] = [];
  /** Highest batch seq applied per client: a re-sent batch is applied once. */
  readonly seqs: Map<string, number>;
  private snapshotCache: { v: number; message: Buffer } | undefined;
  sinceCompact = 0;
  unfollow: (() => void) | undefined;

  constructor(name: string, key: string | undefined, def: StoreDef, replica: Replica, seqs: Record<string, number>) {
    this.name = name;
    this.key = key;
    this.def = def;
    this.replica = replica;
    this.seqs = new Map(Object.entries(seqs));
  }

  get v(): number {
    return this.replica.v;
  }

  /** The `snapshot` message of the current version, serialized once per version. */
  snapshot(): Buffer {
    if (this.snapshotCache?.v !== this.v) {
      const text = JSON.stringify({ t: 'snapshot', store: this.name, v: this.v, value: this.replica.confirmed });
      this.snapshotCache = { v: this.v, message: Buffer.from(text) };
    }
    return this.snapshotCache.message;
  }

  /** The batches after version `v` if the log still has them all. */
  since(v: number): Entry[] | undefined {
    if (v === this.v) return [];
    const first = this.log[0];
    if (!first || v < first.v - 1 || v > this.v) return undefined;
    return this.log.slice(v - first.v + 1);
  }
}

interface ActionContext {
  readonly user: unknown;
  readonly id: string;
  readonly batches: Map<Replica, Batch>;
}

export interface HubOptions {
  storage: StorageAdapter;
  logSize?: number;
  maxDepth?: number;
}

/**
 * @fires subscribe - `{ store, client, user }` when a client subscribes to a store
 * @fires unsubscribe - `{ store, client, user }` when it stops (or disconnects)
 * @fires error - an error in server code's writes that nobody else could hear
 */
export class Hub extends EventEmitter implements Runtime {
  readonly app: App;
  readonly storage: StorageAdapter;
  private readonly stores = new Map<string, HubStore>();
  private readonly loading = new Map<string, Promise<HubStore | undefined>>();
  private readonly locals = new Map<string, Replica>();
  private readonly context = new AsyncLocalStorage<ActionContext>();
  private queue: Promise<unknown> = Promise.resolve();
  private serverSeq = 0;
  private readonly logSize: number;
  private readonly maxDepth: number | undefined;
  private readonly host: ReplicaHost;
  private closed = false;

  constructor(app: App, options: HubOptions) {
    super();
    this.app = app;
    this.storage = options.storage;
    this.logSize = options.logSize ?? DEFAULT_LOG_SIZE;
    this.maxDepth = options.maxDepth;
    this.host = {
      nextBatchId: () => `~server:${++this.serverSeq}`,
      batchFor: (replica) => {
        const ctx = this.context.getStore();
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
    if (loaded) return loaded.replica;
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
    throw new StoreNotLoaded(name);
  }

  /** @internal */
  call(action: ActionDef | string, args: Json[]): Promise<Json> {
    const def = typeof action === 'string' ? definitionsOf(this.app).actions.get(action) : action;
    if (!def) return Promise.reject(new TwinError(ErrorCode.ACTION, `There is no action ${JSON.stringify(action)}.`));
    return this.runAction(def, args, { user: undefined }, `~server:${++this.serverSeq}`).then((r) => r.value);
  }

  /** @internal */
  status(replica: Replica): StoreStatus {
    return this.host.status(replica);
  }

  /** @internal */
  caller(): unknown {
    return this.context.getStore()?.user;
  }

  //#endregion Runtime
  //#region stores

  /** The store `name` (a family member's full name), loaded from storage or created; undefined if no such store. */
  load(name: string): Promise<HubStore | undefined> {
    const loaded = this.stores.get(name);
    if (loaded) return Promise.resolve(loaded);
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.open(name).finally(() => this.loading.delete(name));
      this.loading.set(name, pending);
    }
    return pending;
  }

  private async open(name: string): Promise<HubStore | undefined> {
    const found = resolveStore(this.app, name);
    if (!found || found.def.kind !== 'shared') return undefined;
    const { persist } = found.def.options;
    // `persist` is a prefix of the store's key in storage, or false for none (memory only).
    const key = persist === false ? undefined : `${typeof persist === 'string' ? persist : ''}${name}`;
    const stored = key === undefined ? undefined : await this.storage.load(key);
    const value = stored?.value ?? initialValue(found.def, found.id);
    // Storage replays its log onto its last snapshot: give a new store its initial one.
    if (key !== undefined && !stored) await this.storage.compact(key, value, 0);
    const replica = new Replica(name, value, stored?.v ?? 0, this.host);
    if (this.maxDepth) replica.maxDepth = this.maxDepth;
    const store = new HubStore(name, key, found.def, replica, stored?.seqs ?? {});
    this.stores.set(name, store);
    if (key !== undefined) {
      // Other nodes' batches (Redis) arrive here; our own come back too and are skipped by version.
      store.unfollow = this.storage.follow(key, store.v, (batch) => this.enqueue(() => this.adopt(store, batch)),
        () => this.restoreSoon(store));
    }
    return store;
  }

  /** All stores loaded so far. */
  loaded(): IterableIterator<HubStore> {
    return this.stores.values();
  }

  //#endregion stores
  //#region committing

  /** Runs `task` after every commit queued before it; the queue goes on if it fails. */
  enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Commits a client's batch. Resolves once it is committed and broadcast (true), or was
   * applied before (false: a re-send), or rejects with the coded reason it was refused
   * (nothing changed then).
   */
  async commitClientBatch(store: HubStore, id: string, ops: Op[], origin: Origin & { client: string }): Promise<boolean> {
    const { seq } = parseBatchId(id);
    const authorize = store.def.options.authorize;
    if (authorize && !(await authorize({ user: origin.user, store: store.name, ops }))) {
      throw new TwinError(ErrorCode.FORBIDDEN, `You may not write to store ${JSON.stringify(store.name)}.`);
    }
    return this.enqueue(async () => {
      if (seq <= (store.seqs.get(origin.client) ?? 0)) return false; // a re-send: applied already
      return this.commit([{ store, ops }], id, origin.client);
    });
  }

  /**
   * Commits batches to one or more stores as one transaction: all are applied and validated
   * before any is stored. Call only from inside the queue.
   */
  private async commit(parts: { store: HubStore; ops: Op[] }[], id: string | undefined, client: string | undefined): Promise<boolean> {
    for (const { store, ops } of parts) await check(store, ops, this.maxDepth);
    let applied = true;
    for (const { store, ops } of parts) {
      if (!(await this.append(store, ops, id, client))) applied = false;
    }
    return applied;
  }

  /** Stores and applies one validated batch, catching up first if another node got there before us. */
  private async append(store: HubStore, ops: Op[], id: string | undefined, client: string | undefined): Promise<boolean> {
    for (let attempt = 0; store.key !== undefined; attempt++) {
      const batch: StoredBatch = { v: store.v + 1, ops, ...(client && id ? { id } : {}) };
      try {
        await this.storage.append(store.key, batch);
        break;
      } catch (err) {
        if (!isTwinError(err) || err.code !== ErrorCode.CONFLICT || attempt >= MAX_CONFLICT_RETRIES) throw err;
        // Losing again and again means others write as fast as we can catch up: step back a
        // random moment (before catching up, so we retry fresh), as Ethernet does.
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(CONFLICT_BACKOFF_MAX_MS, 2 ** attempt)));
        const known = store.v;
        await this.catchUp(store);
        // Nothing was stored after our version, yet the next one was refused: storage is
        // behind us (it lost data: a Redis restarted without persistence). Put back what we hold.
        if (store.v === known) await this.restore(store);
        // Another node may have committed this very batch (its client re-sent it there).
        if (client && id && parseBatchId(id).seq <= (store.seqs.get(client) ?? 0)) return false;
        // The state moved under us: check again against the new one.
        await check(store, ops, this.maxDepth);
      }
    }
    this.apply(store, { v: store.v + 1, ops, ...(id ? { id } : {}) }, client);
    if (store.key !== undefined && ++store.sinceCompact >= COMPACT_EVERY) {
      store.sinceCompact = 0;
      this.storage.compact(store.key, store.replica.confirmed, store.v).catch((err) => debug('compact %s failed: %o', store.name, err));
    }
    return true;
  }

  /** Makes a stored batch the store's new version and tells every subscriber. */
  private apply(store: HubStore, batch: StoredBatch, client: string | undefined): void {
    const { seq } = batch.id && client ? parseBatchId(batch.id) : { seq: 0 };
    if (client && seq) store.seqs.set(client, seq);
    // The replica's own pending batch (server code's writes, an action's) is recognized by its id.
    if (!store.replica.receive(batch.v, batch.ops, batch.id)) {
      // Only a batch from another node can fail here (ours were checked): this node diverged.
      debug('store %s: batch %d does not apply here; reloading it from storage', store.name, batch.v);
      void this.enqueue(() => this.reload(store));
      return;
    }
    const publicText = JSON.stringify({ t: 'sync', store: store.name, v: batch.v, ops: batch.ops });
    const entry: Entry = {
      ...batch,
      public: Buffer.from(publicText),
      own: client && batch.id ? Buffer.from(`${publicText.slice(0, -1)},"id":${JSON.stringify(batch.id)}}`) : undefined,
    };
    store.log.push(entry);
    // Trim in chunks: the log keeps at least logSize batches at O(1) amortized per commit.
    if (store.log.length >= 2 * this.logSize) store.log.splice(0, store.log.length - this.logSize);
    for (const subscriber of store.subscribers) {
      subscriber.enqueue(client && subscriber.client === client && entry.own ? entry.own : entry.public);
    }
  }

  /** {@link restore} from outside the queue (storage told us it lost data), retried with backoff while storage is unreachable. */
  private restoreSoon(store: HubStore, attempt = 0): void {
    this.enqueue(() => this.restore(store)).catch((err) => {
      debug('restoring %s failed (attempt %d): %o', store.name, attempt + 1, err);
      if (this.closed || attempt + 1 >= RESTORE_ATTEMPTS) return;
      setTimeout(() => this.restoreSoon(store, attempt + 1), Math.min(RESTORE_RETRY_MAX_MS, RESTORE_RETRY_BASE_MS * 2 ** attempt)).unref();
    });
  }

  /** Writes what this node holds of `store` back to storage if storage is behind it (it lost data). */
  private async restore(store: HubStore): Promise<void> {
    if (!this.storage.restore) return;
    const restored = await this.storage.restore(store.key!, { value: store.replica.confirmed, v: store.v, seqs: Object.fromEntries(store.seqs) });
    debug('store %s: storage was behind version %d; %s', store.name, store.v, restored ? 'restored it' : 'already restored');
  }

  /** Applies batches other nodes stored that this node has not seen yet. */
  private async catchUp(store: HubStore): Promise<void> {
    const missed = await this.storage.since(store.key!, store.v);
    if (missed) {
      for (const batch of missed) this.adopt(store, batch);
      return;
    }
    await this.reload(store);
  }

  /** Replaces what this node holds of `store` with what storage holds, and tells every subscriber. */
  private async reload(store: HubStore): Promise<void> {
    const stored = await this.storage.load(store.key!);
    if (!stored) return;
    store.replica.reset(stored.value, stored.v);
    store.log.length = 0;
    for (const subscriber of store.subscribers) subscriber.enqueue(store.snapshot());
  }

  /** A batch from storage (another node's, or our own coming back): apply it if it is new. */
  private adopt(store: HubStore, batch: StoredBatch): void {
    if (batch.v <= store.v) return;
    if (batch.v !== store.v + 1) {
      void this.enqueue(() => this.catchUp(store));
      return;
    }
    const client = batch.id ? parseBatchId(batch.id).client : undefined;
    this.apply(store, batch, client);
  }

  /** Commits a turn's worth of writes made by server code. */
  private async commitServerBatch(replica: Replica, batch: Batch): Promise<void> {
    const store = this.stores.get(replica.name);
    try {
      if (!store) throw new TwinError(ErrorCode.STORE, `Store ${JSON.stringify(replica.name)} is not loaded.`);
      await this.enqueue(() => this.commit([{ store, ops: batch.ops }], batch.id, undefined));
    } catch (err) {
      const error = isTwinError(err) ? err : new TwinError(ErrorCode.INTERNAL, String(err), { cause: err });
      replica.reject(batch.id, error);
      debug('a write by server code to %s was refused: %s', replica.name, error.message);
      if (this.listenerCount('error')) this.emit('error', error);
    }
  }

  //#endregion committing
  //#region actions

  /**
   * Runs an action for `origin`, inside the queue: its writes, to any number of stores, are
   * committed together when it returns, or not at all if it throws or breaks a schema.
   */
  runAction(def: ActionDef, args: Json[], origin: Origin, id: string): Promise<{ value: Json; stores: HubStore[] }> {
    return this.enqueue(async () => {
      // A call re-sent after a reconnect (to this node, after a restart, or to another node)
      // whose writes were committed already: batch and call ids share one seq per client.
      if (origin.client && this.applied(origin.client, parseBatchId(id).seq)) return { value: null, stores: [] };
      let ctx: ActionContext = { user: origin.user, id, batches: new Map() };
      let value: unknown;
      for (let attempt = 0; ; attempt++) {
        try {
          value = await this.context.run(ctx, () => (def.run as (...a: Json[]) => unknown)(...args));
          break;
        } catch (err) {
          for (const replica of ctx.batches.keys()) replica.drop(id);
          if (err instanceof StoreNotLoaded && attempt < MAX_LOAD_RETRIES && (await this.load(err.store))) {
            // It touched a store (a family member) not loaded yet: load it and run it again.
            ctx = { user: origin.user, id, batches: new Map() };
            continue;
          }
          throw isTwinError(err) && err.expose ? err
            : new TwinError(ErrorCode.ACTION_FAILED, exposedMessage(err) ?? `The action ${JSON.stringify(def.name)} failed.`, { cause: err });
        }
      }
      const parts: { store: HubStore; ops: Op[] }[] = [];
      for (const [replica, batch] of ctx.batches) {
        const store = this.stores.get(replica.name);
        if (store && batch.ops.length) parts.push({ store, ops: batch.ops });
        else replica.drop(id);
      }
      try {
        await this.commit(parts, id, origin.client);
      } catch (err) {
        for (const replica of ctx.batches.keys()) replica.drop(id);
        throw err;
      }
      let result: Json = null;
      try {
        result = value === undefined ? null : cloneJson(value);
      } catch {
        debug('action %s returned a value that is not JSON; the caller gets null', def.name);
      }
      return { value: result, stores: parts.map((p) => p.store) };
    });
  }

  /** Whether `client`'s batch or call `seq` (or a later one) was committed to any loaded store. */
  private applied(client: string, seq: number): boolean {
    for (const store of this.stores.values()) if ((store.seqs.get(client) ?? 0) >= seq) return true;
    return false;
  }

  //#endregion actions

  /** Stops following storage and unbinds the app. Storage itself is closed by its owner. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    for (const store of this.stores.values()) store.unfollow?.();
    bindRuntime(this.app, undefined);
    // Listeners written against this hub's stores must not run against another runtime.
    this.removeAllListeners();
  }
}

/** Server code touched a shared store that is not loaded; actions load it and run again. */
class StoreNotLoaded extends TwinError {
  readonly store: string;
  constructor(store: string) {
    super(ErrorCode.STORE, `Store ${JSON.stringify(store)} is not loaded yet: await server.ready (or hub.load(${JSON.stringify(store)})) before using it outside an action.`);
    this.store = store;
  }
}

/**
 * Checks that `ops` apply to the store's committed state and that the result satisfies its
 * schema, changing nothing; throws the coded reason otherwise (TWIN_ERR_SCHEMA naming the
 * first issue). Without a schema the ops are tried in place and undone, at the cost of the ops
 * alone; a schema reads a whole state anyway, so it gets a copy-on-write draft.
 */
async function check(store: HubStore, ops: readonly Op[], maxDepth: number | undefined): Promise<void> {
  const schema = store.def.options.schema;
  if (!schema) {
    applyOpsInPlace(store.replica.confirmed as JsonObject, ops, maxDepth)();
    return;
  }
  const result = await schema['~standard'].validate(applyOps(store.replica.confirmed, ops, maxDepth));
  if (result.issues) {
    const issue = result.issues[0]!;
    const path = (issue.path ?? []).map((p) => (typeof p === 'object' ? p.key : p)) as (string | number)[];
    throw new TwinError(ErrorCode.SCHEMA, `The write breaks the schema of store ${JSON.stringify(store.name)} at ${formatPath(path)}: ${issue.message}`);
  }
}

/** The message of an error an app marked as safe to show (`expose: true`), if it is one. */
function exposedMessage(err: unknown): string | undefined {
  return err instanceof Error && (err as { expose?: unknown }).expose === true ? err.message : undefined;
}
