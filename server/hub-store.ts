// SPDX-License-Identifier: MIT
/**
 * @module hub-store
 * A shared store as the hub holds it: its replica (the committed state), its subscribers, its
 * lock, and the log of recent batches that lets a returning client catch up with only what it
 * missed. The log is bounded by count and by bytes — a store that takes large batches keeps
 * fewer of them, and a client behind the log gets a snapshot instead.
 */
import type { StoreDef } from '../src/define.js';
import type { Replica } from '../src/replica.js';
import { snapshotMessages } from './snapshot-parts.js';
import { Lock } from './store-lock.js';
import type { StoredBatch } from './storage.js';

/** Something that receives a store's committed batches: a client connection. */
/** Longest stretch of work on a snapshot before other work gets a turn (ms). */
const SNAPSHOT_SLICE_MS = 4;

export interface Subscriber {
  readonly client: string;
  readonly user: unknown;
  /** Whether `client`'s batches come through this subscriber (it is told their ids). */
  owns(client: string): boolean;
  /** Queues an already serialized message for this subscriber. */
  enqueue(message: Buffer): void;
}

/** One logged batch with its serializations, made once and sent to many. */
export interface Entry extends StoredBatch {
  /** `sync` for everyone but the sender (no id: batch ids are the sender's secret). */
  readonly public: Buffer;
  /** `sync` with the id, for the sender. */
  readonly own: Buffer | undefined;
  /** The sender's client id, parsed once. */
  readonly client: string | undefined;
}

/** Bounds of a store's catch-up log. */
export interface LogBounds {
  /** Batches kept (at least this many, unless bytes say fewer). */
  count: number;
  /** Bytes of serialized batches kept per store. */
  bytes: number;
}

export class HubStore {
  readonly name: string;
  /**
   * Where the store lives in storage: its name behind the `persist` prefix; undefined for a
   * store kept in memory only (`persist: false`), which never reaches the storage calls.
   */
  readonly key: string | undefined;
  readonly def: StoreDef;
  /** The family member's id (`general` of `room/general`). */
  readonly id: string | undefined;
  readonly replica: Replica;
  readonly subscribers = new Set<Subscriber>();
  /** Commits to this store happen one at a time. */
  readonly lock = new Lock();
  /** Recent batches, oldest first, for catch-up. */
  readonly log: Entry[] = [];
  /** Bytes held by {@link log}. */
  logBytes = 0;
  /** False until the store's initial state is in storage (a new store is written on its first commit). */
  stored: boolean;
  /** Which life of the store in storage this node is on (see `StoredState.epoch`). */
  epoch = '';
  /** Batches, and their bytes, since this node last wrote the store's snapshot; that snapshot's bytes. */
  sinceCompact = 0;
  sinceCompactBytes = 0;
  snapshotBytes = 0;
  /** When the store was last used (a commit, a subscriber, a load): idle stores are unloaded. */
  lastUsed = Date.now();
  unfollow: (() => void) | undefined;
  /** The snapshot messages of version `v` of the tree `of` (a reload replaces the tree at the same version). */
  private snapshotCache: { v: number; of: unknown; messages: Promise<Buffer[]> } | undefined;

  constructor(name: string, key: string | undefined, def: StoreDef, id: string | undefined, replica: Replica, stored: boolean) {
    this.name = name;
    this.key = key;
    this.def = def;
    this.id = id;
    this.replica = replica;
    this.stored = stored;
  }

  get v(): number {
    return this.replica.v;
  }

  /**
   * The messages of the current version's snapshot (one, or a large store's skeleton and its
   * parts: `snapshot-parts.ts`), serialized once per version, in slices that let other work in
   * (a 10 MB store does not hold the server up: `json-slices.ts`). Call it holding the store's
   * lock: the value must not change while it is written.
   */
  snapshot(): Promise<Buffer[]> {
    const of = this.replica.confirmed;
    if (this.snapshotCache?.v !== this.v || this.snapshotCache.of !== of) {
      this.snapshotCache = { v: this.v, of, messages: snapshotMessages(this.name, this.v, of, SNAPSHOT_SLICE_MS) };
    }
    return this.snapshotCache.messages;
  }

  /** The batches after version `v` if the log still has them all. */
  since(v: number): Entry[] | undefined {
    if (v === this.v) return [];
    const first = this.log[0];
    if (!first || v < first.v - 1 || v > this.v) return undefined;
    return this.log.slice(v - first.v + 1);
  }

  /** Logs a committed batch; returns the bytes it added. Trims to `bounds` (in chunks: O(1) amortized). */
  record(entry: Entry, bounds: LogBounds): number {
    const size = entrySize(entry);
    this.log.push(entry);
    this.logBytes += size;
    if (this.log.length >= 2 * bounds.count || this.logBytes > bounds.bytes) {
      return size - this.trim(Math.min(bounds.count, this.log.length), bounds.bytes / 2);
    }
    return size;
  }

  /** Drops the oldest batches until at most `count` and `bytes` remain; returns the bytes freed. */
  trim(count: number, bytes: number): number {
    let drop = 0;
    let freed = 0;
    while (drop < this.log.length && (this.log.length - drop > count || this.logBytes - freed > bytes)) freed += entrySize(this.log[drop++]!);
    this.log.splice(0, drop);
    this.logBytes -= freed;
    return freed;
  }

  /** Forgets the log (the state was replaced: the old batches no longer lead to it); returns the bytes freed. */
  clearLog(): number {
    return this.trim(0, 0);
  }

  /** Whether nobody needs this store in memory now: no subscriber, no commit under way, no server writes pending. */
  idle(): boolean {
    return this.subscribers.size === 0 && this.lock.waiting === 0 && this.replica.pending.length === 0 && this.replica.watcherCount === 0;
  }
}

function entrySize(entry: Entry): number {
  // The parsed ops take about as much memory as their serialization.
  return 2 * entry.public.length + (entry.own?.length ?? 0);
}
