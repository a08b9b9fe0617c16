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
  private readonly _pendingUnder = new Map<string, Tracker>();
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

  /** Records that the running consumer asked about the pending writes under top-level `key` ('' for all). */
  trackPending(key: string): void {
    let tracker = this._pendingUnder.get(key);
    if (!tracker) this._pendingUnder.set(key, (tracker = this._tracker()));
    tracker.track();
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

  /** A tracker whose watchers are counted in {@link watched}. */
  private _tracker(): Tracker {
    return createTracker((watched) => {
      const was = this.watched;
      this.watched += watched ? 1 : -1;
      if (!was !== !this.watched) this._onWatched(!was);
    });
  }
}
