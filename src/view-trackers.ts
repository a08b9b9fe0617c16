// SPDX-License-Identifier: MIT
/**
 * @module view-trackers
 * Who reads what of a replica's view. A tracker (a TC39 signal) per object key read and per
 * array as a whole, one for any change, and one per top-level key for the pending writes under
 * it: a change bumps only the trackers of what changed, so only the consumers that read it
 * run again. The watched trackers are counted, so the replica knows when the first consumer
 * comes and the last one goes (a client then subscribes to the store, or lets it go).
 */
import type { Json } from './json.js';
import type { Op } from './ops.js';
import { createTracker, isTracking } from './signals.js';
import type { Tracker } from './signals.js';

/** The key of an object's set of keys, and of an array as a whole. */
const KEYS = Symbol('keys');
/** Past this many pending trackers, the ones no consumer watches are dropped (see `trackPending`). */
export const PENDING_TRACKERS_KEPT = 64;

type Container = Record<string, Json> | Json[];

export class ViewTrackers {
  /** Trackers watched by a signal consumer right now. */
  watched = 0;
  /** Bumped on every change of the view (snapshots and status read it). */
  readonly any: Tracker;
  /** Per view container, its trackers: one per key read, and {@link KEYS}. */
  private readonly _byNode = new WeakMap<object, Map<string | symbol, Tracker>>();
  /**
   * Per top-level key, bumped when the pending writes under it change (a write made,
   * confirmed or refused); `''`: under any key. Per top-level key, so a write re-checks the
   * readers of its own part of the store, not every reader of the store.
   */
  private readonly _pendingUnder = new Map<string, Tracker & { watched?: boolean }>();
  private _sweeping = false;
  private readonly _onWatched: (watched: boolean) => void;

  /** @param onWatched told when the first tracker becomes watched (true) and the last one stops (false) */
  constructor(onWatched: (watched: boolean) => void) {
    this._onWatched = onWatched;
    this.any = this._tracker();
  }

  /**
   * Records that the running consumer read `key` of the view object `node`; without `key`, its
   * set of keys. Reading an array (an element, its length, anything) tracks the array as a whole.
   */
  track(node: Container, key?: string): void {
    if (!isTracking()) return;
    let map = this._byNode.get(node);
    if (!map) this._byNode.set(node, (map = new Map()));
    const k = key === undefined || Array.isArray(node) ? KEYS : key;
    let tracker = map.get(k);
    if (!tracker) map.set(k, (tracker = this._tracker()));
    tracker.track();
  }

  /** Tells the consumers of `key` of `node` (without `key`, of `node` as a whole) that it changed. */
  bump(node: Container, key?: string): void {
    this._byNode.get(node)?.get(key === undefined || Array.isArray(node) ? KEYS : key)?.bump();
    this.any.bump();
  }

  /**
   * Records that the running consumer asked about the pending writes under top-level `key` ('' for
   * all). A store whose top-level keys are ids (a map of rows) would leave a tracker per key ever
   * asked about: past {@link PENDING_TRACKERS_KEPT}, those no consumer watches now are dropped, in
   * a microtask (a signal cannot be set while a consumer runs), each bumped once so a consumer
   * that read it unwatched reads again and tracks a fresh one.
   */
  trackPending(key: string): void {
    if (!isTracking()) return;
    let tracker = this._pendingUnder.get(key);
    if (!tracker) {
      const made: Tracker & { watched?: boolean } = this._tracker((watched) => (made.watched = watched));
      this._pendingUnder.set(key, (tracker = made));
      if (this._pendingUnder.size > PENDING_TRACKERS_KEPT && !this._sweeping) {
        this._sweeping = true;
        queueMicrotask(() => {
          this._sweeping = false;
          for (const [k, t] of this._pendingUnder) {
            if (t.watched) continue;
            this._pendingUnder.delete(k);
            t.bump();
          }
        });
      }
    }
    tracker.track();
  }

  /** How many pending trackers are kept (for tests of their bound). */
  get pendingTrackers(): number {
    return this._pendingUnder.size;
  }

  /** The pending writes of `ops` came or went. */
  pendingChanged(ops: readonly Op[]): void {
    for (const op of ops) {
      if (!op.path.length) {
        for (const tracker of this._pendingUnder.values()) tracker.bump();
        return;
      }
      this._pendingUnder.get(String(op.path[0]))?.bump();
    }
    if (ops.length) this._pendingUnder.get('')?.bump();
  }

  /** A tracker whose watchers are counted in {@link watched} (and told to `onWatch`). */
  private _tracker(onWatch?: (watched: boolean) => void): Tracker {
    return createTracker((watched) => {
      onWatch?.(watched);
      const was = this.watched;
      this.watched += watched ? 1 : -1;
      if (!was !== !this.watched) this._onWatched(!was);
    });
  }
}
