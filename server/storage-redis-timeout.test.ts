// SPDX-License-Identifier: MIT
/**
 * A Redis that stops answering (frozen with SIGSTOP: its connections stay open) fails the
 * adapter's calls after `commandTimeoutMs`, rather than leaving them, and the writes waiting on
 * them, pending for as long as it is frozen; once it answers again, so does the adapter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { createRedisStorage } from './storage-redis.js';
import type { StorageAdapter } from './storage.js';
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
