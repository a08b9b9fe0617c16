// SPDX-License-Identifier: MIT
/**
 * @module store-api
 * What users do with a store besides reading and writing it. These are functions rather than
 * methods so that a store's type stays exactly the type of its data: `snapshot(store)`, never
 * `store.snapshot()`.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import { cloneJson, deepFreeze, parsePath } from './json.js';
import type { Json, Path } from './json.js';
import { nodeOf } from './proxy.js';
import type { NodeRef } from './proxy.js';
import type { Change, WriteStatus } from './replica.js';
import type { StoreStatus } from './store-status.js';
import { pageRuntime, runtimeOf } from './runtime.js';
import { computed, untracked } from './signals.js';
import { handleFor } from './define.js';
import type { App } from './define.js';

export type { Change, StoreStatus, WriteStatus };

/** `T` with every level read-only, as a snapshot is (it is deeply frozen). */
export type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Something `subscribe` returns: call it (or `dispose` it) to stop listening. */
export type Unsubscribe = (() => void) & { [Symbol.dispose](): void };

/**
 * A plain, deeply frozen copy of a store (or of any object inside one), as it is now.
 *
 * ```ts
 * const before = snapshot(chatRoom);
 * chatRoom.messages.push(msg);
 * before.messages.length; // unchanged
 * ```
 */
export function snapshot<T extends object>(store: T): DeepReadonly<T> {
  const { node } = refOf(store, 'snapshot');
  return deepFreeze(untracked(() => cloneJson(node, Infinity))) as DeepReadonly<T>;
}

/**
 * Calls `listener` after every change of `store`: once per batch written here (all the writes
 * of one turn) and once per change from the server, with the ops that made it. Returns the
 * function that stops it (also usable with `using`). An error `listener` throws is reported
 * (as an event listener's is) and stops nothing else.
 */
export function subscribe(store: object, listener: (change: Change) => void): Unsubscribe {
  const { replica } = refOf(store, 'subscribe');
  const stop = replica.listen(listener) as Unsubscribe;
  stop[Symbol.dispose] = stop;
  return stop;
}

/**
 * The state of a store: its connection ('local' for a local store), confirmed version, pending
 * batch count and last refusal. Read in a signal consumer (a Lit render), it is tracked.
 */
export function status(store: object): StoreStatus {
  const { replica } = refOf(store, 'status');
  return replica.host.status(replica);
}

/**
 * The signal of the value at `path` (a dotted string or an array of keys) in `store`, for
 * `watch()` in Lit templates and for computed signals. Reading it tracks exactly that value.
 *
 * ```ts
 * html`Score: ${watch(signalOf(game, 'score'))}`
 * ```
 */
export function signalOf<T = unknown>(store: object, path: string | readonly (string | number)[]) {
  const keys = parsePath(path);
  return computed(() => {
    let at: unknown = store;
    for (const key of keys) {
      if (typeof at !== 'object' || at === null) return undefined;
      at = (at as Record<string | number, unknown>)[key];
    }
    return at as T;
  });
}

/**
 * Adds `delta` to the number at `key` (or path) of `store`, as a commutative `add` op: when
 * several clients increment at once, every increment counts. A missing key counts as 0.
 *
 * ```ts
 * increment(game, 'score');       // +1
 * increment(game.stats, 'hits', 5);
 * ```
 */
export function increment(store: object, key: string | number | readonly (string | number)[], delta = 1): void {
  const { replica, node } = refOf(store, 'increment');
  if (typeof delta !== 'number' || !Number.isFinite(delta)) {
    throw twinError(ErrorCode.VALUE, DEV_MODE && `increment needs a finite number, not ${String(delta)}.`, String(delta));
  }
  const base = replica.pathOf(node);
  if (!base) throw twinError(ErrorCode.READONLY, DEV_MODE && `Cannot increment an object that is no longer part of store ${JSON.stringify(replica.name)}.`, replica.name);
  const rest: Path = typeof key === 'object' ? [...key] : [key];
  replica.write({ op: 'add', path: [...base, ...rest], delta });
}

/**
 * Whether a write made here to `store` — at `key` below it, if given (a dotted string or an
 * array of keys) — is not confirmed yet: sent and unanswered, or queued while offline. Read in
 * a signal consumer, it is tracked. (`settled(store)` waits for them; `status(store).pending`
 * counts them.)
 */
export function hasPendingWrites(store: object, key?: string | readonly (string | number)[]): boolean {
  const { replica, node } = refOf(store, 'hasPendingWrites');
  const base = replica.pathOf(node);
  return base !== undefined && replica.pendingAt(key === undefined ? base : [...base, ...parsePath(key)]);
}

/**
 * The fate of the last write made here to `store` (the writes of one turn are one): `pending`
 * while it waits for the server, `queued` while it waits for the connection, `confirmed` with
 * the version it became, or `rejected` with the code and reason; undefined before any write
 * (and for a local store, whose writes are final at once). Read in a signal consumer, it is
 * tracked.
 *
 * ```ts
 * $doc.title = input.value;
 * html`${lastWrite($doc)?.state === 'rejected' ? lastWrite($doc)!.error!.message : ''}`
 * ```
 */
export function lastWrite(store: object): WriteStatus | undefined {
  const { replica } = refOf(store, 'lastWrite');
  const fate = replica.lastWrite();
  return fate?.state === 'pending' && replica.host.status(replica).connection !== 'online' ? { state: 'queued' } : fate;
}

/**
 * Resolves once every write made so far to `store` is confirmed by the server; rejects with
 * the server's coded error if one of them was refused (the write is rolled back by then).
 */
export function settled(store: object): Promise<void> {
  return refOf(store, 'settled').replica.settled();
}

/**
 * A handle on the shared or local store called `name` in the page runtime, for code without
 * its definition (plain pages, elements). A family member is `'room/general'`.
 */
export function store<T extends object = Record<string, Json>>(name: string): T {
  return handleFor(() => pageRuntime().replica(name)) as T;
}

/**
 * The user the running action was called by, as the server's `auth` hook returned it;
 * `undefined` outside an action, for server code, and in the browser.
 */
export function caller<U = unknown>(app: App): U | undefined {
  return runtimeOf(app).caller?.() as U | undefined;
}

function refOf(store: object, what: string): NodeRef {
  const ref = nodeOf(store);
  if (!ref) throw new TypeError(DEV_MODE ? `${what}() needs a store or an object inside one, not ${String(store)}.` : what);
  return ref;
}

/**
 * UNSTABLE: the number of signal consumers watching `store` now. For leak tests and devtools;
 * it may change or go away in any release.
 */
export function unstable_watchers(store: object): number {
  return refOf(store, 'unstable_watchers').replica.watcherCount;
}
