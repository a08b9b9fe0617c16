// SPDX-License-Identifier: MIT
/**
 * @module undo
 * Undo and redo of this page's own writes to a shared store. `undo(store)` reverts the last
 * batch (one turn's writes) this page wrote there; `redo(store)` makes again the last one
 * undone. Either is sent as a normal batch of compensating ops, so it is optimistic, kept in
 * the outbox, confirmed or refused like any write.
 *
 * An undo never overwrites someone else's work. Its batch begins with `test` ops (src/ops.ts):
 * the value the undone batch left at each path it wrote must still be there, or the server
 * refuses the whole undo with `TWIN_ERR_CHANGED` — the server, because this page may not have
 * heard of the other write yet. A change this page already sees refuses it here, at once.
 *
 * The inverse is worked out when the server confirms the batch, against the confirmed state
 * just before it (so in the server's order: the value a `set` replaced is the one the server
 * had, not the one this page had guessed); a refused batch leaves no history. A batch sent and
 * not yet confirmed (in flight, or queued offline) is undone too, at once: it is the newest
 * write, the one the user means, and waiting for the server would leave the undo invisible
 * (offline, until the reconnect) and let later writes slip in above it. Its inverse is worked
 * out against what this page sees before it (the confirmed state and the batches sent before
 * it): the tests guard it the same way, so a value someone wrote after it is never overwritten;
 * a value someone wrote before it that this page had not heard of yet (which the batch itself
 * overwrote) is not what comes back — the page's own is. Its confirmation then adds no entry.
 * The same holds for the writes of the turn still open: an undo in that turn takes them back.
 *
 * The `test` op leaks nothing a client could not read: the server checks a batch's tests only
 * after `canRead`, the store's `clientWrites` and `authorize` let it through, and a failed test
 * names its path, never a value (server/test-op.test.ts). Not undoable:
 * an action's writes (the server ran it: its ops are not this page's to invert), local stores
 * (no server to check the tests), writes of server code, and a batch confirmed without its ops
 * (a re-sent batch the server had applied before). Inverses, per op:
 * - `set` → set the value it replaced, or `del` if it created the key; tested: its value;
 * - `del` of a key → set the removed value; tested: the key is still absent;
 * - `push`, `splice`, `del` of an array item → the splice that takes out what it put in and
 *   puts back what it took out; tested: each item it put in, still at its index (others may
 *   push after it); what goes back in is not tested (inserting it overwrites nothing);
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
import { applyOp, applyOpsInPlace, spliceLarge, valueAt } from './ops.js';
import type { Op, Writer } from './ops.js';
import { nodeOf } from './proxy.js';
import type { Container } from './reconcile.js';
import type { Batch, Replica } from './replica.js';
import { state } from './signals.js';

/** Most batches kept to undo and redo, per store. */
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
/** Batches undone (or redone) before the server confirmed them: their confirmation adds no entry. */
const reverted = new WeakSet<Batch>();

/** Keeps the undo history of a client's shared replica (the client core calls it). @internal */
export function keepHistory(replica: Replica): void {
  const history: History = { undo: [], redo: [], changed: state(0) };
  histories.set(replica, history);
  replica.confirmOwn = (confirmed, ops, maxDepth, batch) => {
    const entry = invert(confirmed, ops, maxDepth);
    const kind = sentBy.get(batch);
    // A new write of ours ends what could be redone; an undo's inverse is the redo.
    if (!kind) history.redo = [];
    if (entry && !reverted.has(batch)) (kind === 'undo' ? history.redo : history.undo).push(entry);
    // Newest first, undo before redo, within the bounds; the rest goes, from the first entry
    // over them down (an entry too big alone takes what lies below it: it cannot be reached).
    let size = 0;
    let count = 0;
    for (const list of [history.undo, history.redo]) {
      for (let i = list.length; i--;) {
        if (++count > MAX_ENTRIES || (size += list[i]!.size) > MAX_BYTES) {
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
 * reverts them, or undefined when nothing would (only tests). The inverse is read off the
 * primitive changes of applyOp's own walk, so it undoes exactly what was done (a clamped
 * splice, a set that appended to an array...).
 */
function invert(root: Container, ops: readonly Op[], maxDepth: number): Entry | undefined {
  const inverse: Op[] = [];
  const tested: Path[] = [];
  /** The path of the container the current op changes. */
  let base: Path = [];
  // The values an op takes out are cut off from the tree: nothing changes them afterwards.
  const writer: Writer = {
    enter: (_parent, _key, child) => child,
    set(target, key, value) {
      const path = [...base, key];
      tested.push(path);
      inverse.unshift(Object.hasOwn(target, key) ? { op: 'set', path, value: (target as Record<string | number, Json>)[key]! } : { op: 'del', path });
      (target as Record<string | number, Json>)[key] = value;
    },
    del(target, key) {
      const path = [...base, key];
      tested.push(path);
      inverse.unshift({ op: 'set', path, value: target[key]! });
      delete target[key];
    },
    splice(target, index, remove, values) {
      // What it put in must still be where it put it (others may push after it); what it
      // took out (an array item's del) goes back in without a test: that overwrites nothing.
      values.forEach((_, i) => tested.push([...base, index + i]));
      inverse.unshift({ op: 'splice', path: base, index, remove: values.length, values: spliceLarge(target, index, remove, values) });
    },
  };
  try {
    for (const op of ops) {
      base = op.op === 'push' || op.op === 'splice' ? op.path : op.path.slice(0, -1);
      // Adds commute: undoing ours keeps everyone else's, so no test.
      if (op.op === 'add') {
        inverse.unshift({ op: 'add', path: op.path, delta: -op.delta });
        applyOpsInPlace(root, [op], maxDepth);
      } else {
        applyOp(root, op, writer, maxDepth);
      }
    }
  } catch (err) {
    applyOpsInPlace(root, inverse, Infinity);
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
 * Reverts this page's last write batch to `store` (one turn's writes, confirmed or still on its
 * way: see the module doc), with compensating ops sent as a new batch; `redo(store)` makes it
 * again. Throws
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
  const { replica, history } = historyOf(store, kind === 'undo' ? 'canUndo' : 'canRedo');
  history?.changed.get();
  // Tracked: a write made, confirmed or refused.
  replica.pendingAt([]);
  return !!((history && inFlight(replica, kind)) ?? history?.[kind].length);
}

/**
 * The newest batch of this page still unconfirmed (this turn's too) that `kind` reverts — a
 * write or a redo for an undo, an undo for a redo — or false when a write of this page still
 * unconfirmed ends what could be redone, or undefined when the history is next. Skipped: an
 * action's writes, batches reverted already, and those of the same kind (doing it again goes
 * further back).
 */
function inFlight(replica: Replica, kind: Kind): Batch | false | undefined {
  for (let i = replica.pending.length; i--;) {
    const batch = replica.pending[i]!;
    const by = sentBy.get(batch);
    if (batch.kind === 'ops' && !reverted.has(batch) && by !== kind) return (kind === 'undo' || !!by) && batch;
  }
  return undefined;
}

/** What reverts `batch`, unconfirmed: its inverse against what this page sees before it. */
function revert(replica: Replica, batch: Batch): Entry | undefined {
  const before = cloneJson(replica.confirmed, Infinity) as Container;
  for (const b of replica.pending) {
    if (b === batch) break;
    try {
      applyOpsInPlace(before, b.ops, Infinity);
    } catch {
      // (Left out of the view too: see Replica's rebuild.)
    }
  }
  // (Its values are its own: applying an op copies the values it puts in.)
  return invert(before, batch.ops, replica.maxDepth);
}

function replay(store: object, kind: Kind): void {
  const { replica, history } = historyOf(store, kind);
  const batch = history && inFlight(replica, kind);
  const entry = batch ? revert(replica, batch) : batch ?? history?.[kind].pop();
  if (!entry) {
    throw twinError(ErrorCode.HISTORY, DEV_MODE && `Nothing to ${kind} in store ${JSON.stringify(replica.name)}: ${replica.local ? 'a local store keeps no history' : `no write of this page ${kind === 'undo' ? 'is left to undo' : 'was undone since its last write'}`} (canUndo/canRedo tell).`, `${kind} ${replica.name}`);
  }
  bump(history!);
  try {
    // Tried on the view first, and taken back at once (as the server checks a batch): a change
    // this page already sees refuses it here, and nothing is half-written.
    applyOpsInPlace(replica.root, entry.ops)();
  } catch (err) {
    // Recorded as the store's last refusal (`status(store).error`); 'undo' is no batch's id
    // (those are `client:seq`, or '' for the turn's batch still open, which must stay).
    replica.reject('undo', err as TwinError);
    throw err;
  }
  if (batch) reverted.add(batch);
  for (const op of entry.ops) replica.write(op);
  // The turn's batch now holds the undo (with whatever else this turn wrote).
  sentBy.set(replica.pending.at(-1)!, kind);
}
