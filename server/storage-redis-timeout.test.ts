// SPDX-License-Identifier: MIT
/**
 * A Redis that stops answering (frozen with SIGSTOP: its connections stay open) fails the
 * adapter's calls after `commandTimeoutMs`, rather than leaving them, and the writes waiting on
 * them, pending for as long as it is frozen; once it answers again, so does the adapter. A
 * connection that goes silent for good (bytes dropped both ways, never reset) is given up and
 * made again, for commands and for following alike.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { createRedisStorage } from './storage-redis.js';
import type { StorageAdapter } from './storage.js';
import { startCutProxy } from '../test/helpers/cut-proxy.js';
import { startRedisProcess } from '../test/helpers/redis-process.js';
import type { RedisProcess } from '../test/helpers/redis-process.js';

const TIMEOUT_MS = 300;
const FROZEN_MS = 2_000;

describe('a frozen Redis', () => {
  let redis: RedisProcess;
  let storage: StorageAdapter;
  before(async () => {
    redis = await startRedisProcess({ appendonly: false });
    storage = await createRedisStorage(redis.url, { prefix: 'frozen:', commandTimeoutMs: TIMEOUT_MS, onIgnoredError: () => {} });
  });
  after(async () => {
    redis.resume();
    await storage.close();
    await redis.dispose();
  });

  it('fails an append and a read after commandTimeoutMs, and answers again once it thaws', async () => {
    await storage.append([{ store: 'notes', batch: { v: 1, ops: [{ op: 'set', path: ['a'], value: 1 }], id: 'c1:1' } }], { id: 'c1', seq: 1 });
    redis.pause();
    const thawed = new Promise((resolve) => setTimeout(resolve, FROZEN_MS)).then(() => redis.resume());
    const started = Date.now();
    const outcomes = await Promise.allSettled([
      storage.append([{ store: 'notes', batch: { v: 2, ops: [{ op: 'set', path: ['a'], value: 2 }], id: 'c1:2' } }], { id: 'c1', seq: 2 }),
      storage.load('notes'),
    ]);
    const waited = Date.now() - started;
    assert.ok(waited < FROZEN_MS, `both failed while Redis was still frozen (after ${waited} ms)`);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.equal((outcome as PromiseRejectedResult).reason.code, ErrorCode.INTERNAL);
    }
    await thawed;
    // The append may have been made after all (it was sent): the client's record says which.
    const loaded = await storage.load('notes');
    const record = await storage.client('c1');
    assert.equal(loaded?.v, record?.seq, 'the record and the store agree on whether the append happened');
    await storage.append([{ store: 'notes', batch: { v: loaded!.v + 1, ops: [{ op: 'set', path: ['b'], value: 3 }], id: 'c1:3' } }], { id: 'c1', seq: 3 });
    assert.equal((await storage.load('notes'))?.v, loaded!.v + 1);
  });
});

describe('a Redis connection that goes silent', () => {
  it('is given up after commandTimeoutMs: appends and the follow loop go on over a new one', { timeout: 60_000 }, async (t) => {
    const redis = await startRedisProcess({ appendonly: false });
    t.after(() => redis.dispose());
    const proxy = await startCutProxy(redis.port);
    t.after(() => proxy.close());
    const options = { prefix: 'silent:', commandTimeoutMs: TIMEOUT_MS, onIgnoredError: () => {} };
    // This node talks to Redis through the proxy; another writes to it directly.
    const node = await createRedisStorage(`redis://127.0.0.1:${proxy.port}`, options);
    t.after(() => node.close());
    const other = await createRedisStorage(redis.url, options);
    t.after(() => other.close());
    const heard: number[] = [];
    const stop = node.follow('notes', 0, (batch) => heard.push(batch.v));
    t.after(stop);
    const append = (storage: StorageAdapter, v: number) => storage.append([{ store: 'notes', batch: { v, ops: [{ op: 'set', path: ['v'], value: v }], id: `w:${v}` } }]);
    await append(other, 1);
    await until(() => heard.includes(1), 'the first batch heard');

    proxy.silence();
    await assert.rejects(node.load('notes'), (err: { code?: string }) => err.code === ErrorCode.INTERNAL, 'a read on the silent connection fails after the timeout');
    // The next calls go over a new connection (after at most another timeout, while it is made).
    await until(async () => (await node.load('notes').catch(() => undefined))?.v === 1, 'a read answered again');
    await append(node, 2);
    await append(other, 3);
    // The follow loop's blocking read gives up too (after its block time and the timeout) and reads anew.
    await until(() => heard.includes(3), 'a batch appended after the silence heard', 15_000);
    assert.deepEqual(heard, [1, 2, 3]);
  });
});

/** Resolves once `check` holds (polled), or fails naming `what` after `ms`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
