// SPDX-License-Identifier: MIT
/**
 * @module storage-redis-follow
 * How the Redis backend hears batches other nodes appended: one blocking connection per
 * adapter tails every followed store's stream with `XREAD BLOCK` and hands each entry to the
 * followers of its store.
 * @internal
 */
import { createClient } from 'redis';
import type { Op } from '../src/ops.js';
import type { StoredBatch } from './storage.js';
import type { Follower } from './storage-memory.js';
import { deliver } from './storage-memory.js';

/** A command that gets no reply in this time rejects (Redis unreachable but the socket still open). */
export const COMMAND_TIMEOUT_MS = 5_000;
/** How long one `XREAD BLOCK` waits before it is reissued (followed stores may have changed). */
const BLOCK_MS = 5_000;
/** How often, and how far apart, a new follower retries waking the blocked read (see `wake`). */
const WAKE_ATTEMPTS = 50;
const WAKE_RETRY_MS = 10;
/** Entries read per stream per `XREAD`, so one busy store cannot build an unbounded reply. */
const READ_COUNT = 100;
/** Backoff of the follow loop after a failed read (Redis down): doubles up to the max. */
const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 1_000;

/** A node-redis client as `createClient` makes it. */
export type RedisClient = ReturnType<typeof createClient>;
interface StreamEntry { id: string; message: Record<string, string> }

/** The one follow loop of an adapter. */
export interface FollowLoop {
  add(store: string, v: number, onBatch: (batch: StoredBatch) => void, onBehind?: (stored: number) => void): () => void;
  stop(): Promise<void>;
}

/**
 * One blocking connection serving every followed store: `XREAD BLOCK` on all their streams,
 * each from the lowest cursor of its followers. A new follower wakes the read in flight with
 * `CLIENT UNBLOCK` so its store (or its older cursor) is read at once. After a failed read
 * (Redis restarted, network down) the loop backs off and reads again from each follower's
 * last delivered version, on the connection node-redis re-establishes.
 */
export function createFollowLoop(
  main: RedisClient,
  logKey: (store: string) => string,
  versionKey: (store: string) => string,
  onIgnoredError: (err: unknown) => void,
  appending: Set<Promise<unknown>>,
  commandTimeoutMs = COMMAND_TIMEOUT_MS,
): FollowLoop {
  const byStore = new Map<string, Set<Follower>>();
  let blocker: RedisClient | undefined;
  let blockerId: number | undefined;
  let running: Promise<void> | undefined;
  /** Cleared in the same tick the loop decides to exit, so `add` never relies on a loop that is leaving. */
  let active = false;
  let stopped = false;
  /** `add` bumps `wanted`; the loop copies it to `seen` each time it builds its list of streams. */
  let wanted = 0;
  let seen = 0;
  /** Ends the loop's backoff early, so `stop` need not wait it out. */
  let interruptBackoff: (() => void) | undefined;

  // The UNBLOCK travels on another connection than the XREAD, so it may arrive before the
  // read it should wake; repeat it until the loop has rebuilt its stream list or a read woke.
  const wake = async (): Promise<void> => {
    const want = ++wanted;
    for (let i = 0; i < WAKE_ATTEMPTS && seen < want && !stopped; i++) {
      if (blockerId !== undefined && (await main.clientUnblock(blockerId).catch(() => 0)) === 1) return;
      await sleep(WAKE_RETRY_MS);
    }
  };

  async function pump(client: RedisClient): Promise<void> {
    let failures = 0;
    let recovering = false;
    for (;;) {
      if (stopped || byStore.size === 0) {
        active = false;
        return;
      }
      try {
        if (!client.isOpen) await client.connect();
        blockerId ??= await client.clientId();
        if (recovering) {
          // Back after a failure: a Redis that restarted without persistence has lost what we
          // follow. Tell the followers whose cursor is past what is stored now.
          const stores = [...byStore.keys()];
          const versions = await client.mGet(stores.map(versionKey));
          recovering = false;
          stores.forEach((store, i) => {
            const stored = Number(versions[i] ?? 0);
            for (const f of byStore.get(store) ?? []) if (f.cursor > stored) f.onBehind?.(stored);
          });
        }
        seen = wanted;
        const storeOf = new Map([...byStore.keys()].map((store) => [logKey(store), store]));
        const streams = [...storeOf].map(([key, store]) => ({ key, id: `${minCursor(byStore.get(store))}-0` }));
        const reply = await repliedWithin(client.xRead(streams, { BLOCK: BLOCK_MS, COUNT: READ_COUNT }), BLOCK_MS + commandTimeoutMs, () => client.destroy());
        failures = 0;
        if (!reply || stopped) continue;
        if (appending.size > 0) {
          // Let this node's own appends resolve (and their callers move on) before their
          // entries are delivered, as the in-process backends do.
          await Promise.allSettled(appending);
          await new Promise((resolve) => setImmediate(resolve));
        }
        for (const stream of reply as { name: string; messages: StreamEntry[] }[]) {
          const store = storeOf.get(String(stream.name));
          const followers = store === undefined ? undefined : byStore.get(store);
          if (!followers) continue;
          try {
            deliver([...followers], stream.messages.map(toBatch));
          } catch (err) {
            // A throwing follower is a bug in the caller: surface it, as an EventEmitter would.
            queueMicrotask(() => { throw err; });
          }
        }
      } catch (err) {
        if (stopped) continue;
        blockerId = undefined; // a reconnect brings a new connection id
        recovering = true;
        onIgnoredError(err);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(RETRY_BASE_MS * 2 ** failures++, RETRY_MAX_MS));
          interruptBackoff = () => { clearTimeout(timer); resolve(); };
        });
        interruptBackoff = undefined;
      }
    }
  }

  return {
    add(store, v, onBatch, onBehind) {
      const follower: Follower = { cursor: v, onBatch, onBehind };
      let set = byStore.get(store);
      if (!set) byStore.set(store, (set = new Set()));
      set.add(follower);
      if (active) {
        void wake();
      } else {
        active = true;
        if (!blocker) {
          blocker = main.duplicate({ commandOptions: { timeout: BLOCK_MS + commandTimeoutMs } });
          blocker.on('error', onIgnoredError);
        }
        running = pump(blocker);
      }
      return () => {
        set.delete(follower);
        if (set.size === 0 && byStore.get(store) === set) byStore.delete(store);
      };
    },

    async stop() {
      stopped = true;
      byStore.clear();
      // Destroying the connection rejects the blocked XREAD at once, rather than after BLOCK_MS.
      blocker?.destroy();
      interruptBackoff?.();
      await running;
    },
  };
}

/**
 * `work`, or a failure after `ms` without its reply, when `giveUp` is called (to drop the
 * connection): one that went silent (a partition, a NAT that dropped it without a reset) would
 * hold its commands until TCP keepalive noticed, minutes later.
 */
export function repliedWithin<T>(work: Promise<T>, ms: number, giveUp: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no reply within ${ms} ms`));
      giveUp();
    }, ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function minCursor(followers: Set<Follower> | undefined): number {
  let min = Infinity;
  for (const f of followers ?? []) min = Math.min(min, f.cursor);
  return min === Infinity ? 0 : min;
}


/** A stream entry as the batch it holds. */
export function toBatch(entry: StreamEntry): StoredBatch {
  const { v, ops, id, ep } = entry.message;
  const batch: StoredBatch = { v: Number(v), ops: JSON.parse(ops ?? '[]') as Op[] };
  if (id !== undefined) batch.id = id;
  if (ep !== undefined) batch.epoch = ep;
  return batch;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
