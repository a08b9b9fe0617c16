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
import { randomUUID } from 'node:crypto';
import { debuglog } from 'node:util';
import { createClient } from 'redis';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import type { ErrorCode as Code } from '../src/errors.js';
import type { Json } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { AppendPart, ClientRecord, StorageAdapter, StoredState } from './storage.js';
import type { ClientStorageOptions } from './storage-clients.js';
import { checkAppend, checkClient, clientLimits, duplicateError, mergeRecords, startSweeper, sweepInterval } from './storage-clients.js';
import { checkCompactVersion, closedError, conflictError, EMPTY_STATE } from './storage-memory.js';
import { COMMAND_TIMEOUT_MS, createFollowLoop, repliedWithin, toBatch } from './storage-redis-follow.js';
import type { RedisClient } from './storage-redis-follow.js';
import {
  APPEND_SCRIPT, CLAIM_SCRIPT, COMPACT_SCRIPT, defaultHashTag, FORGET_SCRIPT, LACKS_SCRIPT, MERGE_SCRIPT, REAPPEND_SCRIPT, redisKeys, REFUSE_SCRIPT, RESTORE_SCRIPT,
} from './storage-redis-scripts.js';

/** The key prefix when none is given. */
export const DEFAULT_REDIS_PREFIX = 'twin:';
/** How long `createRedisStorage` waits for the first connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Records `restoreClients` sends at once (pipelined), so a large merge does not build one huge burst. */
const RESTORE_CHUNK = 500;
/**
 * The most appends, and characters of ops, one script call makes: Redis runs a script to its
 * end before it serves anyone else (a full group takes it a few ms), and holds the whole call
 * in memory. Appends beyond them start another group, sent right after in the same turn.
 */
const MAX_GROUP_APPENDS = 256;
const MAX_GROUP_CHARS = 1 << 20;


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
  /**
   * How long a call waits for Redis to answer before it fails (`TWIN_ERR_INTERNAL`): a Redis
   * that stopped answering (frozen, a network partition) must not leave writes waiting for
   * ever. An append failed this way may still be made later; the hub asks the client's record
   * before it reports it refused. Default 5,000 ms.
   */
  commandTimeoutMs?: number;
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
  const { prefix, hashTag, onIgnoredError, commandTimeoutMs, ...rest } = { prefix: DEFAULT_REDIS_PREFIX, onIgnoredError: defaultOnIgnoredError, commandTimeoutMs: COMMAND_TIMEOUT_MS, ...options };
  const limits = clientLimits(rest);
  const key = redisKeys(prefix, hashTag ?? defaultHashTag(prefix));
  /** The arguments every client-record script ends with, after its own. */
  const touchArgs = (id: string): string[] => [String(limits.ttlMs), String(limits.max), key.clientBase, id];

  // Without the offline queue a command issued while Redis is down rejects at once instead
  // of waiting for a reconnect that may never come; the timeout covers a silent peer.
  const main: RedisClient = createClient({ url, disableOfflineQueue: true, commandOptions: { timeout: commandTimeoutMs } });
  main.on('error', onIgnoredError);
  await connectWithin(main, url);

  let closed = false;
  /** Appends in flight through this adapter; the follow loop lets them resolve before delivering. */
  const appending = new Set<Promise<unknown>>();

  /**
   * A connection that leaves a command unanswered for `commandTimeoutMs` is given up and made
   * again. A Redis that froze answers on the new one once it thaws; a connection that went
   * silent (a NAT or a partition that dropped it without a reset) would otherwise hold every
   * later command until TCP keepalive noticed, minutes later. Commands wait for the new one.
   */
  let renewing: Promise<void> | undefined;
  const renew = (): void => {
    if (renewing || closed) return;
    main.destroy();
    renewing = main.connect().then(() => {}, onIgnoredError).finally(() => (renewing = undefined));
  };
  /**
   * `work()`, or a failure once Redis took `commandTimeoutMs` to answer (the connection is
   * renewed then): node-redis's own timeout stops counting once a command is written, so a
   * frozen Redis would hold it for ever.
   */
  const answered = <T>(work: () => Promise<T>): Promise<T> => repliedWithin(renewing ? renewing.then(work) : work(), commandTimeoutMs, renew);
  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw closedError('redis');
    try {
      return await answered(fn);
    } catch (err) {
      throw internalError(what, err);
    }
  };
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

  /**
   * Group commit: the appends asked for in one turn of the event loop (from any connections, to
   * any stores) go to Redis as one script call, which makes them one after the other, each with
   * its own outcome (see APPEND_SCRIPT). A call that fails (connection lost, timeout) fails
   * every append of its group, each as it would have failed alone.
   */
  let group: QueuedAppend[] = [];
  let groupChars = 0;
  const enqueue = (append: QueuedAppend): void => {
    if (group.push(append) === 1) {
      const appends = group;
      const sent = new Promise<void>((done) => setImmediate(() => void sendGroup(appends).then(done)));
      appending.add(sent);
      void sent.then(() => appending.delete(sent));
    }
    for (const ops of append.ops) groupChars += ops.length;
    // A full group takes no more: the next append starts another, sent after it.
    if (group.length >= MAX_GROUP_APPENDS || groupChars >= MAX_GROUP_CHARS) closeGroup();
  };
  const closeGroup = (): void => {
    group = [];
    groupChars = 0;
  };
  /** Sends a group; never rejects (each append settles on its own). */
  const sendGroup = async (appends: QueuedAppend[]): Promise<void> => {
    if (appends === group) closeGroup();
    let replies: unknown;
    try {
      const keys = [key.clients];
      const args = [String(limits.ttlMs), String(limits.max), key.clientBase, String(appends.length)];
      for (const { parts, ops, client } of appends) {
        for (const { store } of parts) keys.push(key.v(store), key.log(store), key.epoch(store));
        if (client) keys.push(key.client(client.id));
        args.push(String(parts.length), client ? String(client.seq) : '', client ? client.id : '');
        parts.forEach(({ batch, after, epoch }, i) => args.push(String(batch.v), ops[i]!, batch.id ?? '', after ?? '', epoch ?? ''));
      }
      replies = await answered(() => script(APPEND_SCRIPT, keys, args));
    } catch (err) {
      for (const append of appends) append.reject(internalError(appendWhat(append.parts), err));
      return;
    }
    appends.forEach((append, i) => {
      try {
        const reply = Array.isArray(replies) ? (replies[i] as unknown) : undefined;
        if (!Array.isArray(reply)) throw new Error(`unexpected reply ${JSON.stringify(replies)}`);
        const failure = appendFailure(append, reply.map(String));
        if (failure) append.reject(failure);
        else append.resolve();
      } catch (err) {
        append.reject(internalError(appendWhat(append.parts), err));
      }
    });
  };

  const follow = createFollowLoop(main, key.log, key.v, onIgnoredError, appending, commandTimeoutMs);
  // Redis drops the expired records itself; this only trims their entries from the index
  // while nobody writes (each node does it, which is harmless).
  const stopSweeper = startSweeper(sweepInterval(limits.ttlMs),
    async () => (closed || !main.isReady ? 0 : Number(await script(FORGET_SCRIPT, [key.clients], [String(limits.ttlMs)]))),
    onIgnoredError);

  return {
    load: (store) => run(`load ${ofStore(store)}`, async () => {
      const [snapJson, entries, epoch] = await main.multi().get(key.snap(store)).xRange(key.log(store), '-', '+').get(key.epoch(store)).execTyped();
      if (snapJson == null && !entries?.length) return undefined;
      const snap = snapJson == null ? { v: 0, value: EMPTY_STATE } : (JSON.parse(String(snapJson)) as { v: number; value: Json });
      const log = (entries ?? []).map(toBatch).filter((b) => b.v > snap.v);
      const state: StoredState = { value: applyOps(snap.value, log.flatMap((b) => b.ops)), v: log.at(-1)?.v ?? snap.v, ...(epoch ? { epoch: String(epoch) } : {}) };
      return state;
    }),

    append(parts, client) {
      try {
        if (closed) throw closedError('redis');
        checkAppend(parts, client);
        if (parts.length === 0 && !client) return Promise.resolve();
        // Serialized now, so a batch that cannot be fails alone rather than its whole group.
        const ops = parts.map(({ batch, json }) => json ?? JSON.stringify(batch.ops));
        return new Promise<void>((resolve, reject) => enqueue({ parts, ops, client, resolve, reject }));
      } catch (err) {
        return Promise.reject(internalError(appendWhat(parts), err));
      }
    },

    since: (store, v) => run(`read ${ofStore(store)}`, async () => {
      const [current, entries] = await main.multi().get(key.v(store)).xRange(key.log(store), `${v + 1}-0`, '+').execTyped();
      if (v >= Number(current ?? 0)) return [];
      const batches = (entries ?? []).map(toBatch);
      // The stream is contiguous, so it reaches back to v+1 exactly when that is its first entry here.
      return batches[0]?.v === v + 1 ? batches : undefined;
    }),

    compact: (store, value, v, json) => run(`compact ${ofStore(store)}`, async () => {
      checkCompactVersion(store, v);
      const reply = String(await script(COMPACT_SCRIPT, [key.snap(store), key.log(store), key.v(store)],
        [`{"v":${v},"value":${json ?? JSON.stringify(value)}}`, String(v), String(v)]));
      if (reply.startsWith('ahead:')) checkCompactVersion(store, v, Number(reply.slice('ahead:'.length)));
    }),

    restore: (store, state, held = { from: state.v + 1, ids: [] }) => run(`restore ${ofStore(store)}`, async () => {
      checkCompactVersion(store, state.v);
      const reply = String(await script(RESTORE_SCRIPT, [key.v(store), key.log(store), key.snap(store), key.epoch(store), key.held(store)],
        [`{"v":${state.v},"value":${JSON.stringify(state.value)}}`, String(state.v), randomUUID().slice(0, 8), String(held.from), ...held.ids]));
      return reply === '' ? undefined : reply;
    }),

    lacks: (store, batches, base, epoch) => run(`merge into ${ofStore(store)}`, async () => {
      const reply = (await script(LACKS_SCRIPT, [key.log(store), key.epoch(store), key.held(store)], [epoch, String(base), ...batches.flatMap(({ id, v }) => [id, String(v)])])) as string[];
      if (reply[0] === 'epoch') throw Object.assign(conflictError(store, 0, -1), { epoch: '' });
      return reply.map(String);
    }),

    reappend: (store, batch, base, epoch) => run(`merge into ${ofStore(store)}`, async () => {
      const reply = String(await script(REAPPEND_SCRIPT, [key.v(store), key.log(store), key.epoch(store)], [epoch, String(base), JSON.stringify(batch.ops), batch.id]));
      if (reply === 'epoch') throw Object.assign(conflictError(store, 0, -1), { epoch: '' });
      return reply as 'appended' | 'present';
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
      stopSweeper();
      await follow.stop();
      await Promise.allSettled(appending);
      // (QUIT on a connection that went silent would wait for ever.)
      if (main.isReady) await repliedWithin(main.close(), commandTimeoutMs, () => main.destroy()).catch(onIgnoredError);
      else main.destroy();
    },
  };
}

/** An append waiting in its group (see `sendGroup`), with its batches' ops already serialized. */
interface QueuedAppend {
  parts: readonly AppendPart[];
  ops: string[];
  client: { id: string; seq: number } | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Why an append failed, from its reply in APPEND_SCRIPT's group reply; undefined if it was made. */
function appendFailure({ parts, client }: QueuedAppend, [status, a = '', b = '']: string[]): unknown {
  switch (status) {
    case 'ok':
      return undefined;
    case 'epoch': {
      const part = parts[Number(a) - 1]!;
      return Object.assign(conflictError(part.store, part.batch.v, -1), {
        epoch: b, message: `Store ${JSON.stringify(part.store)} was restored by another node (epoch ${JSON.stringify(b)}); merge into it first.`,
      });
    }
    case 'conflict': {
      const part = parts[Number(a) - 1]!;
      return conflictError(part.store, part.batch.v, Number(b));
    }
    case 'duplicate':
      return duplicateError(client!.id, client!.seq, Number(a));
    case 'refused': {
      const [code, message] = JSON.parse(a) as [string, string];
      return new TwinError(code as Code, message);
    }
    default:
      return internalError(appendWhat(parts), new Error(status === 'error' ? a : `unexpected reply ${JSON.stringify(status)}`));
  }
}

function ofStore(store: string): string {
  return `store ${JSON.stringify(store)}`;
}

function appendWhat(parts: readonly AppendPart[]): string {
  return `append to ${parts.map((x) => ofStore(x.store)).join(', ') || 'no store'}`;
}

/**
 * `err` as what a method rejects with: our own errors and argument errors as they are, any
 * other (Redis unreachable, a timeout) as a `TWIN_ERR_INTERNAL` not shown to clients.
 */
function internalError(what: string, err: unknown): unknown {
  if (isTwinError(err) || err instanceof TypeError || err instanceof RangeError) return err;
  return new TwinError(ErrorCode.INTERNAL, `Redis storage could not ${what}: ${err instanceof Error ? err.message : String(err)}.`, {
    cause: err, expose: false,
  });
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
