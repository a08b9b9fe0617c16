// SPDX-License-Identifier: MIT
/**
 * @module undo
 * Undo and redo of this page's own writes to a shared store. `undo(store)` reverts the last
 * batch (one turn's writes) this page wrote there and the server confirmed; `redo(store)`
 * makes again the last one undone. Either is sent as a normal batch of compensating ops, so it
 * is optimistic, kept in the outbox, confirmed or refused like any write.
 *
 * An undo never overwrites someone else's work. Its batch begins with `test` ops (src/ops.ts):
 * the value the undone batch left at each path it wrote must still be there, or the server
 * refuses the whole undo with `TWIN_ERR_CHANGED` — the server, because this page may not have
 * heard of the other write yet. A change this page already sees refuses it here, at once.
 *
 * The inverse is worked out when the server confirms the batch, against the confirmed state
 * just before it (so in the server's order: the value a `set` replaced is the one the server
 * had, not the one this page had guessed); a refused batch leaves no history. Not undoable:
 * an action's writes (the server ran it: its ops are not this page's to invert), local stores
 * (no server to check the tests), writes of server code, and a batch confirmed without its ops
 * (a re-sent batch the server had applied before). Inverses, per op:
 * - `set` → set the value it replaced, or `del` if it created the key; tested: its value;
 * - `del` → set the removed value (into an array: splice it back); tested: what is there now;
 * - `push`, `splice` → the splice that takes out what it put in and puts back what it took
 *   out; tested: each item it put in, still at its index (others may push after it);
 * - `add` → add −delta, untested: adds commute, so undoing ours keeps everyone else's.
 *
 * The history is per store and bounded ({@link MAX_ENTRIES} batches, {@link MAX_BYTES} of ops
 * together; the oldest go first). It survives a snapshot (a resync): the tests make an entry
 * that no longer fits the state fail rather than do harm.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { cloneJson } from './json.js';
import type { Json, Path } from './json.js';
import { applyOps, applyOpsInPlace, valueAt } from './ops.js';
import type { Op } from './ops.js';
import { nodeOf } from './proxy.js';
import type { Container } from './reconcile.js';
import type { Batch, Replica } from './replica.js';
import { state } from './signals.js';

/** Most batches kept to undo (and to redo), per store. */
export const MAX_ENTRIES = 100;
/** Most bytes (UTF-16 units of the ops' JSON) the undo and redo entries of a store keep together. */
export const MAX_BYTES = 256 * 1024;

/** What reverts one batch: its tests, then the inverse ops in reverse order. */
interface Entry {
  readonly ops: Op[];
  readonly size: number;
}

interface History {
  undo: Entry[];
  redo: Entry[];
  /** Bumped on every change, so `canUndo`/`canRedo` are tracked. */
  readonly changed: ReturnType<typeof state<number>>;
}

type Kind = 'undo' | 'redo';

const histories = new WeakMap<Replica, History>();
/** The batches sent by undo() or redo(): where their own inverse goes once confirmed. */
const sentBy = new WeakMap<Batch, Kind>();

/** Keeps the undo history of a client's shared replica (the client core calls it). @internal */
export function keepHistory(replica: Replica): void {
  const history: History = { undo: [], redo: [], changed: state(0) };
  histories.set(replica, history);
  replica.confirmOwn = (confirmed, ops, maxDepth, batch) => {
    const entry = invert(confirmed, ops, maxDepth);
    const kind = sentBy.get(batch);
    // A new write of ours ends what could be redone; an undo's inverse is the redo.
    if (!kind) history.redo = [];
    const stack = kind === 'undo' ? history.redo : history.undo;
    if (!entry) return bump(history);
    // Too big to keep: what lies below it cannot be reached either.
    if (entry.size > MAX_BYTES) stack.length = 0;
    else stack.push(entry);
    // Newest first, undo before redo, within the bounds; the rest (the oldest) goes.
    let size = 0;
    for (const list of [history.undo, history.redo]) {
      list.splice(0, list.length - MAX_ENTRIES);
      for (let i = list.length; i--;) {
        if ((size += list[i]!.size) > MAX_BYTES) {
          list.splice(0, i + 1);
          break;
        }
      }
    }
    bump(history);
  };
}

/**
 * Applies `ops` to `root` in place (all or nothing, like applyOpsInPlace) and returns what
 * reverts them, or undefined when nothing would (only tests).
 */
function invert(root: Container, ops: readonly Op[], maxDepth: number): Entry | undefined {
  const inverse: Op[] = [];
  const tested: Path[] = [];
  const reverts: (() => void)[] = [];
  try {
    for (const op of ops) {
      const { path } = op;
      const before = valueAt(root, path);
      if (op.op === 'set' || op.op === 'del') {
        tested.push(path);
        const parent = path.slice(0, -1);
        const key = path[path.length - 1]!;
        if (before === undefined) {
          if (op.op === 'set') inverse.unshift({ op: 'del', path });
        } else if (op.op === 'del' && Array.isArray(valueAt(root, parent))) {
          inverse.unshift({ op: 'splice', path: parent, index: key as number, remove: 0, values: [before] });
        } else {
          // `before` is cut off from the tree by this op: nothing changes it afterwards.
          inverse.unshift({ op: 'set', path, value: before });
        }
      } else if (op.op === 'add') {
        inverse.unshift({ op: 'add', path, delta: -op.delta });
      } else if (op.op !== 'test' && Array.isArray(before)) {
        // (Not an array: the op throws below.) Clamped as applyOp clamps it.
        const index = op.op === 'push' ? before.length : Math.min(op.index, before.length);
        const removed = op.op === 'push' ? [] : before.slice(index, index + op.remove);
        op.values.forEach((_, i) => tested.push([...path, index + i]));
        inverse.unshift({ op: 'splice', path, index, remove: op.values.length, values: removed });
      }
      reverts.push(applyOpsInPlace(root, [op], maxDepth));
    }
  } catch (err) {
    while (reverts.length) reverts.pop()!();
    throw err;
  }
  if (!inverse.length) return undefined;
  const seen = new Set<string>();
  const tests: Op[] = [];
  for (const path of tested) {
    const key = JSON.stringify(path);
    if (seen.has(key)) continue;
    seen.add(key);
    const value = valueAt(root, path);
    // A copy: the confirmed tree goes on changing in place.
    tests.push(value === undefined ? { op: 'test', path } : { op: 'test', path, value: cloneJson(value, Infinity) });
  }
  const all = [...tests, ...inverse];
  return { ops: all, size: JSON.stringify(all).length };
}

function bump(history: History): void {
  history.changed.set(history.changed.get() + 1);
}

function historyOf(store: object, what: string): { replica: Replica; history: History | undefined } {
  const ref = nodeOf(store);
  if (!ref) throw new TypeError(DEV_MODE ? `${what}() needs a shared store, not ${String(store)}.` : what);
  return { replica: ref.replica, history: histories.get(ref.replica) };
}

/**
 * Reverts this page's last confirmed write batch to `store` (one turn's writes), with
 * compensating ops sent as a new batch; `redo(store)` makes it again. Throws
 * `TWIN_ERR_HISTORY` when there is nothing to undo, and `TWIN_ERR_CHANGED` — changing nothing,
 * also shown as the store's error (`status(store).error`, `<twin-error store>`) — when this
 * page already sees that another write changed a value the batch wrote. Otherwise the undo
 * shows at once; the server may still refuse it (`TWIN_ERR_CHANGED`: someone's write this page
 * has not heard of yet), which rolls it back and is announced like any refusal (a `reject`
 * event; `settled(store)` rejects). Either way that step of the history is gone.
 *
 * ```ts
 * $game.score = 5;
 * await settled($game);
 * undo($game); // the score is what it was before, unless someone changed it since
 * ```
 */
export function undo(store: object): void {
  replay(store, 'undo');
}

/** Makes again the write batch of `store` last undone here (see {@link undo}); `TWIN_ERR_HISTORY` if none. */
export function redo(store: object): void {
  replay(store, 'redo');
}

/** Whether {@link undo} has something to undo in `store`. Tracked when read in a signal consumer. */
export function canUndo(store: object): boolean {
  return can(store, 'undo');
}

/** Whether {@link redo} has something to redo in `store`. Tracked when read in a signal consumer. */
export function canRedo(store: object): boolean {
  return can(store, 'redo');
}

function can(store: object, kind: Kind): boolean {
  const { history } = historyOf(store, kind === 'undo' ? 'canUndo' : 'canRedo');
  history?.changed.get();
  return !!history?.[kind].length;
}

function replay(store: object, kind: Kind): void {
  const { replica, history } = historyOf(store, kind);
  const entry = history?.[kind].pop();
  if (!entry) {
    throw twinError(ErrorCode.HISTORY, DEV_MODE && `Nothing to ${kind} in store ${JSON.stringify(replica.name)}: ${replica.local ? 'a local store keeps no history' : `no write of this page ${kind === 'undo' ? 'is confirmed since the last undo' : 'was undone since its last write'}`} (canUndo/canRedo tell).`, `${kind} ${replica.name}`);
  }
  bump(history!);
  try {
    // Tried on a copy of the view first: a change this page already sees refuses it here, and
    // nothing is half-written.
    applyOps(replica.root as Json, entry.ops);
  } catch (err) {
    replica.reject('', err as TwinError);
    throw err;
  }
  for (const op of entry.ops) replica.write(op);
  // The turn's batch now holds the undo (with whatever else this turn wrote).
  sentBy.set(replica.pending[replica.pending.length - 1]!, kind);
}
