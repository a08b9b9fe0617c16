// SPDX-License-Identifier: MIT
/**
 * @module storage-redis
 * The shared backend for several server nodes (node-redis). Each store's op log is a Redis
 * Stream whose entry ids are the versions (`5-0` holds version 5), appended by one Lua script
 * only if the expected versions still hold, so two nodes can never both commit version 5.
 * Every node tails the streams it follows with `XREAD BLOCK` on a dedicated connection and
 * hands each entry to the hub, which broadcasts it to its own clients.
 *
 * Keys are `<prefix>{<hashTag>}:<kind>:<name>` (`twin:{twin}:log:todos`): `log:<store>` the
 * stream (fields `v`, `ops`, `id`), `v:<store>` the version, `snap:<store>` the snapshot JSON
 * `{"v":…,"value":…}`, `client:<id>` a client record and `clients` their index by age (see
 * `storage-redis-scripts`). The shared hash tag puts all keys of one app in one slot, so a
 * Redis Cluster can hold them and run the scripts that touch several. Keys written before
 * the hash tag (`twin:log:<store>`, `twin:seq:<store>`) are not read: an upgrade starts empty.
 */
import { createHash } from 'node:crypto';
import { debuglog } from 'node:util';
import { createClient } from 'redis';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import type { ErrorCode as Code } from '../src/errors.js';
import type { Json } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import type { ClientRecord, StorageAdapter, StoredBatch, StoredState } from './storage.js';
import type { ClientStorageOptions } from './storage-clients.js';
import { checkAppend, checkClient, clientLimits, duplicateError, mergeRecords } from './storage-clients.js';
import type { Follower } from './storage-memory.js';
import { checkCompactVersion, closedError, conflictError, deliver, EMPTY_STATE } from './storage-memory.js';
import {
  APPEND_SCRIPT, CLAIM_SCRIPT, COMPACT_SCRIPT, defaultHashTag, MERGE_SCRIPT, redisKeys, REFUSE_SCRIPT, RESTORE_SCRIPT,
} from './storage-redis-scripts.js';

/** The key prefix when none is given. */
export const DEFAULT_REDIS_PREFIX = 'twin:';
/** A command that gets no reply in this time rejects (Redis unreachable but the socket still open). */
const COMMAND_TIMEOUT_MS = 5_000;
/** How long `createRedisStorage` waits for the first connection. */
const CONNECT_TIMEOUT_MS = 10_000;
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
/** Records `restoreClients` sends at once (pipelined), so a large merge does not build one huge burst. */
const RESTORE_CHUNK = 500;

type RedisClient = ReturnType<typeof createClient>;
interface StreamEntry { id: string; message: Record<string, string> }

/** Options of {@link createRedisStorage}. */
export interface RedisStorageOptions extends ClientStorageOptions {
  /** Prepended to every key, so several apps can share one Redis. Default `'twin:'`. */
  prefix?: string;
  /**
   * The hash tag every key carries (`<prefix>{<hashTag>}:…`), so a Redis Cluster keeps all of
   * an app's keys in one slot. Default: the prefix without its trailing colons (`'twin'`).
   */
  hashTag?: string;
  /**
   * Receives the errors the adapter recovers from by itself: connection loss, reconnects,
   * failed reads of the follow loop. Default: logged with `NODE_DEBUG=twin:server`.
   */
  onIgnoredError?: (err: unknown) => void;
}

/**
 * Connects to the Redis at `url` (`redis://host:port[/db]`) and resolves to a storage adapter
 * shared by every node using the same Redis, prefix and hash tag. Rejects with a
 * `TWIN_ERR_INTERNAL` {@link TwinError} when Redis cannot be reached within 10 s.
 *
 * Connection loss is survived: node-redis reconnects by itself, `follow` resumes from the
 * last version it delivered, and while Redis is unreachable every other method rejects at
 * once with `TWIN_ERR_INTERNAL` instead of queueing. A store that was never compacted is
 * replayed onto `{}`: a hub whose initial state is something else records it first with
 * `compact(store, initial, 0)`. Client records expire by Redis's own `PEXPIRE`, `clientTtlMs`
 * (default 48 h) after their last change; beyond `maxClients` (default 100,000) the least
 * recently changed are deleted.
 *
 * ```ts
 * const storage = await createRedisStorage('redis://127.0.0.1:6379', { prefix: 'chat:' });
 * const stop = storage.follow('room/general', 0, (batch) => console.log(batch.v));
 * ```
 */
export async function createRedisStorage(url: string, options: RedisStorageOptions = {}): Promise<StorageAdapter> {
  const { prefix, hashTag, onIgnoredError, ...rest } = { prefix: DEFAULT_REDIS_PREFIX, onIgnoredError: defaultOnIgnoredError, ...options };
  const limits = clientLimits(rest);
  const key = redisKeys(prefix, hashTag ?? defaultHashTag(prefix));
  /** The arguments every client-record script ends with, after its own. */
  const touchArgs = (id: string): string[] => [String(limits.ttlMs), String(limits.max), key.clientBase, id];

  // Without the offline queue a command issued while Redis is down rejects at once instead
  // of waiting for a reconnect that may never come; the timeout covers a silent peer.
  const main: RedisClient = createClient({ url, disableOfflineQueue: true, commandOptions: { timeout: COMMAND_TIMEOUT_MS } });
  main.on('error', onIgnoredError);
  await connectWithin(main, url);

  let closed = false;
  /** Appends in flight through this adapter; the follow loop lets them resolve before delivering. */
  const appending = new Set<Promise<unknown>>();

  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw closedError('redis');
    try {
      return await fn();
    } catch (err) {
      if (isTwinError(err) || err instanceof TypeError || err instanceof RangeError) throw err;
      throw new TwinError(
        ErrorCode.INTERNAL,
        `Redis storage could not ${what}: ${err instanceof Error ? err.message : String(err)}.`,
        { cause: err, expose: false },
      );
    }
  };
  const ofStore = (store: string): string => `store ${JSON.stringify(store)}`;
  /**
   * Runs a script by its SHA1, sending its text only when Redis does not know it yet (after
   * a restart): the text is kilobytes, and an append is the hot path.
   */
  const script = async (text: string, keys: string[], args: string[]): Promise<unknown> => {
    const options = { keys, arguments: args };
    try {
      return await main.evalSha(sha1(text), options);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return main.eval(text, options);
    }
  };

  const follow = createFollowLoop(main, key.log, key.v, onIgnoredError, appending);

  return {
    load: (store) => run(`load ${ofStore(store)}`, async () => {
      const [snapJson, entries] = await main.multi().get(key.snap(store)).xRange(key.log(store), '-', '+').execTyped();
      if (snapJson == null && !entries?.length) return undefined;
      const snap = snapJson == null ? { v: 0, value: EMPTY_STATE } : (JSON.parse(String(snapJson)) as { v: number; value: Json });
      const log = (entries ?? []).map(toBatch).filter((b) => b.v > snap.v);
      const state: StoredState = { value: applyOps(snap.value, log.flatMap((b) => b.ops)), v: log.at(-1)?.v ?? snap.v };
      return state;
    }),

    append(parts, client) {
      const p = run(`append to ${parts.map((x) => ofStore(x.store)).join(', ') || 'no store'}`, async () => {
        checkAppend(parts, client);
        if (parts.length === 0 && !client) return;
        const keys = [...parts.flatMap(({ store }) => [key.v(store), key.log(store)]), ...(client ? [key.client(client.id), key.clients] : [])];
        const reply = (await script(APPEND_SCRIPT, keys, [
          String(parts.length),
          ...parts.flatMap(({ batch }) => [String(batch.v), JSON.stringify(batch.ops), batch.id ?? '']),
          ...(client ? [String(client.seq), ...touchArgs(client.id)] : ['']),
        ])) as string[];
        const [status, a = '', b = ''] = reply.map(String);
        if (status === 'conflict') {
          const part = parts[Number(a) - 1]!;
          throw conflictError(part.store, part.batch.v, Number(b));
        }
        if (status === 'duplicate') throw duplicateError(client!.id, client!.seq, Number(a));
        if (status === 'refused') {
          const [code, message] = JSON.parse(a) as [string, string];
          throw new TwinError(code as Code, message);
        }
      });
      appending.add(p);
      void p.catch(() => {}).finally(() => appending.delete(p));
      return p;
    },

    since: (store, v) => run(`read ${ofStore(store)}`, async () => {
      const [current, entries] = await main.multi().get(key.v(store)).xRange(key.log(store), `${v + 1}-0`, '+').execTyped();
      if (v >= Number(current ?? 0)) return [];
      const batches = (entries ?? []).map(toBatch);
      // The stream is contiguous, so it reaches back to v+1 exactly when that is its first entry here.
      return batches[0]?.v === v + 1 ? batches : undefined;
    }),

    compact: (store, value, v) => run(`compact ${ofStore(store)}`, async () => {
      checkCompactVersion(store, v);
      const reply = String(await script(COMPACT_SCRIPT, [key.snap(store), key.log(store), key.v(store)],
        [`{"v":${v},"value":${JSON.stringify(value)}}`, String(v), String(v + 1)]));
      if (reply.startsWith('ahead:')) checkCompactVersion(store, v, Number(reply.slice('ahead:'.length)));
    }),

    restore: (store, state) => run(`restore ${ofStore(store)}`, async () => {
      checkCompactVersion(store, state.v);
      const reply = await script(RESTORE_SCRIPT, [key.v(store), key.log(store), key.snap(store)],
        [`{"v":${state.v},"value":${JSON.stringify(state.value)}}`, String(state.v)]);
      return Number(reply) === 1;
    }),

    follow(store, v, onBatch, onBehind) {
      if (closed) throw closedError('redis');
      return follow.add(store, v, onBatch, onBehind);
    },

    client: (id) => run(`read client ${JSON.stringify(id)}`, async () => {
      const fields = await main.hGetAll(key.client(id));
      return fields['seq'] === undefined ? undefined : toRecord(fields);
    }),

    claim: (id, owner) => run(`claim client ${JSON.stringify(id)}`, async () => {
      checkClient(id);
      const flat = (await script(CLAIM_SCRIPT, [key.client(id), key.clients], [owner, ...touchArgs(id)])) as string[];
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
      return toRecord(fields);
    }),

    refuse: (id, seq, code, message) => run(`record a refusal of client ${JSON.stringify(id)}`, async () => {
      checkClient(id, seq);
      await script(REFUSE_SCRIPT, [key.client(id), key.clients], [String(seq), JSON.stringify([code, message]), ...touchArgs(id)]);
    }),

    restoreClients: (records) => run('restore client records', async () => {
      const all = [...records];
      for (let i = 0; i < all.length; i += RESTORE_CHUNK) {
        await Promise.all(all.slice(i, i + RESTORE_CHUNK).map(([id, record]) => {
          checkClient(id);
          // Normalized first, so the script gets each refusal once and at most MAX_REFUSALS.
          const theirs = mergeRecords(undefined, record);
          return script(MERGE_SCRIPT, [key.client(id), key.clients], [theirs.owner, String(theirs.seq), ...touchArgs(id),
            ...theirs.refused.flatMap(([seq, code, message]) => [String(seq), JSON.stringify([code, message])])]);
        }));
      }
    }),

    async close() {
      if (closed) return;
      closed = true;
      await follow.stop();
      await Promise.allSettled(appending);
      if (main.isReady) await main.close().catch(onIgnoredError);
      else main.destroy();
    },
  };
}

const shas = new Map<string, string>();
function sha1(text: string): string {
  let sha = shas.get(text);
  if (!sha) shas.set(text, (sha = createHash('sha1').update(text).digest('hex')));
  return sha;
}

/** A client record from its hash fields (see `storage-redis-scripts`). */
function toRecord(fields: Record<string, string>): ClientRecord {
  const refused: ClientRecord['refused'] = [];
  for (const [field, json] of Object.entries(fields)) {
    if (!field.startsWith('r:')) continue;
    const [code, message] = JSON.parse(json) as [string, string];
    refused.push([Number(field.slice(2)), code, message]);
  }
  refused.sort((a, b) => a[0] - b[0]);
  return { owner: fields['owner'] ?? '', seq: Number(fields['seq'] ?? 0), refused };
}

//#region follow loop

interface FollowLoop {
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
function createFollowLoop(
  main: RedisClient,
  logKey: (store: string) => string,
  versionKey: (store: string) => string,
  onIgnoredError: (err: unknown) => void,
  appending: Set<Promise<unknown>>,
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
        const reply = await client.xRead(streams, { BLOCK: BLOCK_MS, COUNT: READ_COUNT });
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
          blocker = main.duplicate({ commandOptions: { timeout: BLOCK_MS + COMMAND_TIMEOUT_MS } });
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

function minCursor(followers: Set<Follower> | undefined): number {
  let min = Infinity;
  for (const f of followers ?? []) min = Math.min(min, f.cursor);
  return min === Infinity ? 0 : min;
}

//#endregion follow loop

function toBatch(entry: StreamEntry): StoredBatch {
  const { v, ops, id } = entry.message;
  const batch: StoredBatch = { v: Number(v), ops: JSON.parse(ops ?? '[]') as Op[] };
  if (id !== undefined) batch.id = id;
  return batch;
}

async function connectWithin(client: RedisClient, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } catch (err) {
    client.destroy();
    throw new TwinError(ErrorCode.INTERNAL, `Redis storage could not connect to ${url}: ${err instanceof Error ? err.message : String(err)}.`, {
      cause: err, expose: false,
    });
  } finally {
    clearTimeout(timer);
  }
}

const debug = debuglog('twin:server');

function defaultOnIgnoredError(err: unknown): void {
  debug('redis storage: %s', err instanceof Error ? err.message : String(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
