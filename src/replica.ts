// SPDX-License-Identifier: MIT
/**
 * @module replica
 * One store as one place sees it. A replica keeps the **confirmed** state (what the server
 * committed, version `v`; a tree of its own) and the **pending** batches (writes made here and
 * not yet confirmed), and shows their sum, confirmed ⊕ pending, as the live **view**: a tree of
 * plain objects mutated in place, so an object keeps its identity while it stays in the store.
 *
 * Reads of the view are tracked per object key (and per array as a whole); a change bumps only
 * the trackers of what changed (`view-writer.ts` makes each change to the view). When the
 * server's ops arrive with nothing pending they are applied to the view directly; otherwise the
 * view is rebuilt from confirmed ⊕ pending and reconciled into the live tree, touching only
 * what differs (a rebase).
 *
 * The server runs the same class: its confirmed state is the committed one, and writes made by
 * server code (actions, timers, routes) are its pending batches until the hub commits them.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, TwinError, twinError } from './errors.js';
import { DEFAULT_MAX_DEPTH, jsonEqual } from './json.js';
import type { Json, Path } from './json.js';
import { Listeners } from './listeners.js';
import { touches } from './pending-paths.js';
import { applyOp, applyOpsInPlace } from './ops.js';
import type { Op, Writer } from './ops.js';
import { deepCopy, reconcile } from './reconcile.js';
import type { Container } from './reconcile.js';
import { state, untracked } from './signals.js';
import { ViewTrackers } from './view-trackers.js';
import { notifyingWriter } from './view-writer.js';
import type { StoreStatus } from './store-status.js';


/** A group of ops written in one turn (or by one action call), sent and applied as a unit. */
export interface Batch {
  /** `clientId:seq`, given when the batch is sent, so ids rise in the order batches leave. */
  id: string;
  readonly ops: Op[];
  /** `call` batches are an action's optimistic writes: the server re-runs the action instead. */
  readonly kind: 'ops' | 'call';
}

/**
 * The fate of a write made here (its turn's batch): waiting for the server (`queued` while
 * the connection is down), `confirmed` as version `v`, or `rejected` with a coded reason.
 */
export interface WriteStatus {
  readonly state: 'pending' | 'queued' | 'confirmed' | 'rejected';
  readonly v?: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/** What a change was: the ops, and whether they were written here or came from the server. */
export interface Change {
  readonly ops: readonly Op[];
  readonly origin: 'local' | 'remote';
  /** True when the server sent its whole state (a snapshot) instead of ops; `ops` is empty then. */
  readonly reset?: boolean;
}

/** What a replica needs from its surroundings: a client connection, or the server hub. */
export interface ReplicaHost {
  /** A fresh batch id. */
  nextBatchId(): string;
  /** Where writes made right now go, when not into the turn's batch (an action being run). */
  batchFor?(replica: Replica): Batch | undefined;
  /** A turn's batch is complete: send it (client), commit it (server), persist it (local). */
  flush(replica: Replica, batch: Batch): void;
  /** The replica gained its first watcher (`true`) or lost its last one (`false`). */
  watched?(replica: Replica, watched: boolean): void;
  /** The replica's status (see `status()`), read inside a consumer to track it. */
  status(replica: Replica): StoreStatus;
}

/** Where a view object hangs: its parent and its key there (an array index may be stale). */
interface Link { parent: Container; key: string | number }

export class Replica {
  readonly name: string;
  /** Local stores have no server: writes are final at once. */
  readonly local: boolean;
  /**
   * The last committed state: this replica's own tree (never shared), which the server's ops
   * change in place — a push to a long list costs the push, not a copy of the list.
   */
  confirmed: Json;
  /** The version of {@link confirmed}; 0 before the server has said anything. */
  v: number;
  /** Unconfirmed batches, oldest first. */
  readonly pending: Batch[] = [];
  /** The live view: confirmed ⊕ pending, mutated in place. */
  readonly root: Container;
  /** Set to refuse every write (local stores on the server). */
  readonly readonlyReason: string | undefined;
  /** Maximum nesting of values written here. */
  maxDepth = DEFAULT_MAX_DEPTH;
  /** The error of the last refused batch, if any. */
  lastError: TwinError | undefined;
  readonly host: ReplicaHost;
  /**
   * Applies a batch of this replica's own, now confirmed, to {@link confirmed} in its stead,
   * as applyOpsInPlace would (all or nothing): set by src/undo.ts, which keeps its inverse.
   */
  confirmOwn?: (confirmed: Container, ops: readonly Op[], maxDepth: number, batch: Batch) => void;

  private _turn: Batch | undefined;
  /** The last batch written here, and its fate (see {@link lastWrite}). */
  private _lastBatch: Batch | undefined;
  private readonly _lastStatus = state<WriteStatus | undefined>(undefined);
  private readonly _listeners = new Listeners<Change>();
  private readonly _links = new WeakMap<object, Link>();
  /** Who reads what of the view. */
  private readonly _trackers = new ViewTrackers((watched) => this.host.watched?.(this, watched));
  private readonly _writer: Writer = notifyingWriter(this._trackers);
  private _waiters: { batches: Set<Batch>; resolve: () => void; reject: (error: TwinError) => void }[] = [];

  constructor(name: string, value: Json, v: number, host: ReplicaHost, options: { local?: boolean; readonly?: string } = {}) {
    if (typeof value !== 'object' || value === null) {
      throw twinError(ErrorCode.DEFINE, DEV_MODE && `The store ${JSON.stringify(name)} must hold an object or an array, not ${JSON.stringify(value)}.`, name);
    }
    this.name = name;
    this.local = options.local ?? false;
    this.readonlyReason = options.readonly;
    this.host = host;
    this.confirmed = deepCopy(value);
    this.v = v;
    this.root = deepCopy(value) as Container;
  }

  //#region reading

  /** Records that the running consumer read `key` of `node` (see {@link ViewTrackers.track}). */
  track(node: Container, key?: string): void {
    this._trackers.track(node, key);
  }

  /** Number of signal consumers watching this store right now. */
  get watcherCount(): number {
    return this._trackers.watched;
  }

  /** Tracks any change of the store (for snapshots and status read in a consumer). */
  trackAll(): void {
    this._trackers.any.track();
  }

  /**
   * Whether a write made here and not yet confirmed touches the value at `path` (it, or
   * something inside or above it); tracked. Pending batches lie on top of the confirmed state,
   * so a push lands at the end of its list: of a list's items, only the last ones pushed are.
   */
  pendingAt(path: Path): boolean {
    this._trackers.trackPending(path.length ? String(path[0]) : '');
    // (Which items of a list are last changes with the list.)
    return this.pending.length > 0 && touches(this.pending, this.root, path, (list) => this.track(list));
  }

  /** Remembers that `child` hangs at `parent[key]`, so a write through it can find its path. */
  link(child: Container, parent: Container, key: string | number): void {
    const link = this._links.get(child);
    if (link) link.key = key;
    else this._links.set(child, { parent, key });
  }

  /** The current path of a view object, or `undefined` if it is no longer in the store. */
  pathOf(node: Container): Path | undefined {
    const path: Path = [];
    for (let at = node; at !== this.root;) {
      const link = this._links.get(at);
      if (!link) return undefined;
      const { parent } = link;
      // Elements move when the array is spliced; find where this one is now.
      if (Array.isArray(parent) && parent[link.key as number] !== at) link.key = parent.indexOf(at);
      if ((parent as Record<string | number, Json>)[link.key] !== at) return undefined;
      path.unshift(link.key);
      at = parent;
    }
    return path;
  }

  //#endregion reading
  //#region writing here

  /**
   * Applies a write made here: to the view at once (optimistic), and to the batch being
   * collected. `op` must already hold plain JSON (see `cloneJson`); throws a coded
   * error, changing nothing, when the op does not apply.
   */
  write(op: Op): void {
    if (this.readonlyReason) throw new TwinError(ErrorCode.READONLY, this.readonlyReason);
    applyOp(this.root, op, this._writer, this.maxDepth);
    if (!this.local) this._trackers.pendingChanged([op]);
    const { ops } = this.host.batchFor?.(this) ?? this._turnBatch();
    const last = ops[ops.length - 1];
    // Consecutive sets of one path in a batch: only the last one matters.
    if (op.op === 'set' && last?.op === 'set' && jsonEqual(last.path, op.path)) ops[ops.length - 1] = op;
    else ops.push(op);
  }

  /** Opens an action's batch of optimistic writes, kept pending until the server's answer. */
  openBatch(id: string, kind: Batch['kind']): Batch {
    const batch: Batch = { id, ops: [], kind };
    if (!this.local) this.pending.push(batch);
    return batch;
  }

  /**
   * Makes `ops` a pending batch `id`, whatever the view holds now (they are checked where they
   * are sent): a batch an earlier page sent (its outbox) goes before the batches whose ids start
   * with `ownPrefix`, this page's own — it was made before them, and is sent before them;
   * without `ownPrefix` (a stale write made again), after every batch but the one being written.
   */
  restorePending(id: string, ops: readonly Op[], ownPrefix?: string): void {
    if (this.pending.some((b) => b.id === id)) return;
    const at = this.pending.findIndex((b) => b.id === '' || (ownPrefix !== undefined && b.id.startsWith(ownPrefix)));
    this.pending.splice(at === -1 ? this.pending.length : at, 0, { id, ops: [...ops], kind: 'ops' });
    this._trackers.pendingChanged(ops);
    this._rebuild();
  }

  /** The fate of the last write made here (undefined before any, and for a local store); tracked. */
  lastWrite(): WriteStatus | undefined {
    return this._lastStatus.get();
  }

  private _turnBatch(): Batch {
    if (this._turn) return this._turn;
    const batch = (this._turn = this.openBatch('', 'ops'));
    if (!this.local) {
      this._lastBatch = batch;
      this._lastStatus.set({ state: 'pending' });
    }
    queueMicrotask(() => {
      this._turn = undefined;
      if (batch.ops.length === 0) {
        const index = this.pending.indexOf(batch);
        if (index !== -1) this._remove(index);
        return;
      }
      batch.id = this.host.nextBatchId();
      this.host.flush(this, batch);
      this._emit(batch.ops, 'local');
    });
    return batch;
  }

  //#endregion writing here
  //#region hearing from the server

  /**
   * The server committed `ops` as version `v`. With `id`, they are a batch sent from here (or
   * an action called from here), which stops being pending. An empty `ops` at the current
   * version only confirms `id` (a re-sent batch the server had already applied).
   * Returns false, changing nothing, when `v` does not follow on: the caller must resync. Ops
   * that do not apply (this replica diverged, which a correct server never causes) make it
   * forget its version too, so that the resync brings a snapshot.
   */
  receive(v: number, ops: readonly Op[], id?: string): boolean {
    if (v !== this.v + 1 && (ops.length || v !== this.v)) return false;
    const index = id === undefined ? -1 : this.pending.findIndex((b) => b.id === id);
    const mine = this.pending[index];
    try {
      // Our own plain batch: the undo history applies it, noting what each op replaced.
      const apply = (mine?.kind === 'ops' && this.confirmOwn) || applyOpsInPlace;
      if (ops.length) apply(this.confirmed as Container, ops, Infinity, mine!);
    } catch {
      this.v = 0;
      return false;
    }
    this.v = v;
    // (Not for an empty confirmation of a re-sent batch: the confirmed state already held it,
    // so the view showed it twice until now.)
    if (index === 0 && ops.length && (mine!.kind === 'ops' || jsonEqual(mine!.ops as unknown as Json, ops as unknown as Json))) {
      // Our oldest batch, applied as we applied it: the view already shows exactly this.
      this._remove(0);
      this._trackers.any.bump();
      return true;
    }
    if (mine) {
      this._remove(index);
      this._rebuild();
    } else if (this.pending.length) {
      if (ops.length) this._rebuild();
    } else {
      for (const op of ops) applyOp(this.root, op, this._writer, Infinity);
    }
    if (mine || ops.length) this._emit(ops, 'remote');
    return true;
  }

  /** The server's whole state at version `v` (a new subscriber, or one too far behind). */
  reset(value: Json, v: number): void {
    if (typeof value !== 'object' || value === null) throw twinError(ErrorCode.FRAME, DEV_MODE && `A snapshot of store ${JSON.stringify(this.name)} must be an object or an array.`, this.name);
    // `value` is fresh (a parsed message, a storage load): it becomes this replica's own tree.
    this.confirmed = value;
    this.v = v;
    this._rebuild();
    this._emit([], 'remote', true);
  }

  /** The server refused batch `id`: drop it and show the state without it. */
  reject(id: string, error: TwinError): void {
    this.lastError = error;
    if (this.drop(id, error)) this._emit([], 'remote');
    else this._trackers.any.bump();
  }

  /** Drops a pending batch (and rebuilds the view); false if there was none with that id. */
  drop(id: string, error?: TwinError): boolean {
    const index = this.pending.findIndex((b) => b.id === id);
    if (index === -1) return false;
    if (this._remove(index, error).ops.length) this._rebuild();
    return true;
  }

  /**
   * Resolves once every batch pending now (the turn's too) is confirmed; rejects with the
   * error of the first of them to be refused.
   */
  settled(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.length) this._waiters.push({ batches: new Set(this.pending), resolve, reject });
      else resolve();
    });
  }

  /** Takes the batch at `index` out of pending, settling whoever waits for it. */
  private _remove(index: number, error?: TwinError): Batch {
    const [batch] = this.pending.splice(index, 1);
    if (batch === this._lastBatch) {
      this._lastStatus.set(error ? { state: 'rejected', error: { code: error.code, message: error.message } } : { state: 'confirmed', v: this.v });
    }
    this._trackers.pendingChanged(batch!.ops);
    this._waiters = this._waiters.filter((waiter) => {
      if (!waiter.batches.delete(batch!)) return true;
      if (error) waiter.reject(error);
      else if (waiter.batches.size) return true;
      else waiter.resolve();
      return false;
    });
    return batch!;
  }

  /**
   * Makes the view confirmed ⊕ pending again, touching only what differs. A pending batch
   * that no longer applies is left out of the view; the server will refuse it too.
   */
  private _rebuild(): void {
    // Lay the pending batches on the confirmed tree itself, reconcile the view with it, then
    // take them off again: no copy of every container on the batches' paths, as a pure apply
    // would make (a push to a long list would copy the list).
    const undo: (() => void)[] = [];
    for (const batch of this.pending) {
      try {
        undo.push(applyOpsInPlace(this.confirmed as Container, batch.ops, this.maxDepth));
      } catch {
        // Keep the batch (its reject will come) but show the state without it.
      }
    }
    try {
      untracked(() => reconcile(this.root, this.confirmed as Container, (node, key) => this._trackers.bump(node, key)));
    } finally {
      while (undo.length) undo.pop()!();
    }
    this._trackers.any.bump();
  }

  //#endregion hearing from the server
  //#region subscribers

  /** Calls `listener` after each change of the view; returns the unsubscribe function. */
  listen(listener: (change: Change) => void): () => void {
    return this._listeners.add(listener);
  }

  private _emit(ops: readonly Op[], origin: Change['origin'], reset?: boolean): void {
    this._listeners.emit(reset ? { ops, origin, reset } : { ops, origin });
  }

  //#endregion subscribers
}
