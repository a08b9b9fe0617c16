// SPDX-License-Identifier: MIT
/**
 * @module snapshot-assembly
 * A large store's snapshot arrives as a skeleton and the parts that complete it, each a message
 * of its own (`server/snapshot-parts.ts`), so the page parses and applies it in short tasks.
 * The parts are applied to the skeleton aside; the store takes the value only when the last is
 * in, so the page never shows a state that never was.
 */
import type { Json } from './json.js';
import { applyOpsInPlace } from './ops.js';
import type { Container } from './reconcile.js';
import type { Part, Snapshot } from './protocol.js';

export interface SnapshotAssembly {
  snapshot(message: Snapshot): void;
  part(message: Part): void;
  /** Forgets snapshots under way (the connection was lost: they are sent again whole). */
  clear(): void;
}

/** Hands each complete snapshot to `reset`. */
export function createSnapshotAssembly(reset: (store: string, value: Json, v: number) => void): SnapshotAssembly {
  const partial = new Map<string, { v: number; value: Json; left: number }>();
  return {
    snapshot({ store, value, v, parts }) {
      partial.delete(store);
      if (parts) partial.set(store, { v, value, left: parts });
      else reset(store, value, v);
    },
    part({ store, v, ops }) {
      const under = partial.get(store);
      if (under?.v !== v) return;
      applyOpsInPlace(under.value as Container, ops);
      if (--under.left) return;
      partial.delete(store);
      reset(store, under.value, v);
    },
    clear: () => partial.clear(),
  };
}
