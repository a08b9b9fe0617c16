// SPDX-License-Identifier: MIT
/**
 * @module view-writer
 * How a replica's live view is changed in place: the `Writer` that applies ops to the view's
 * own tree (`ops.ts` walks them) and bumps exactly the trackers of what it changed — a key
 * set or deleted bumps that key's readers, and a key added or removed, or an array spliced,
 * bumps the readers of the container's keys as a whole.
 *
 * Apart from `replica.ts`, which decides when the view changes (a write here, a batch from the
 * server) and keeps confirmed and pending: this is what one change does to the view.
 */
import type { Json } from './json.js';
import { spliceLarge } from './ops.js';
import type { Writer } from './ops.js';
import { reuse } from './reconcile.js';
import type { ViewTrackers } from './view-trackers.js';

/** A writer that mutates the view in place and bumps the `trackers` of what it changes. */
export function notifyingWriter(trackers: ViewTrackers): Writer {
  return {
    enter: (_parent, _key, child) => child,
    set: (target, key, value) => {
      const added = !Object.hasOwn(target, key);
      (target as Record<string | number, Json>)[key] = value;
      trackers.bump(target, key as string);
      if (added) trackers.bump(target);
    },
    del: (target, key) => {
      delete target[key];
      trackers.bump(target, key);
      trackers.bump(target);
    },
    splice: (target, index, remove, values) => {
      spliceLarge(target, index, remove, reuse(target, index, remove, values));
      trackers.bump(target);
    },
  };
}
