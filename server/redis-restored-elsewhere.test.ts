// SPDX-License-Identifier: MIT
/**
 * A node following a store that another node restored (Redis had lost it) from a state this
 * node never saw: the restored store's batches follow on from that state, not from this node's,
 * so the node must not apply them on top of what it holds. It merges into the restored store
 * and takes it as it stands. The restore is made here by hand, with a second adapter, while the
 * node's follow connection stays up — the moment a real restart leaves open, between a node's
 * check of what storage holds and its next read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient as createRedisClient } from 'redis';
import { defineApp, settled, snapshot } from '../src/index.js';
import { startRedisProcess } from '../test/helpers/redis-process.js';
import { startServer } from '../test/helpers/server.js';
import { createRedisStorage } from './storage-redis.js';
import { defaultHashTag, redisKeys } from './storage-redis-scripts.js';

const PREFIX = 'restored:';

describe('a store restored by another node', () => {
  it('is merged into and taken as it stands, not applied on top of what this node holds', { timeout: 30_000 }, async (t) => {
    const redis = await startRedisProcess({ appendonly: false });
    t.after(() => redis.dispose());
    const app = defineApp();
    const notes = app.shared('notes', () => ({ items: [] as string[] }));
    const storage = await createRedisStorage(redis.url, { prefix: PREFIX });
    const node = await startServer(app, { storage });
    t.after(async () => {
      await node.close();
      await storage.close();
    });
    for (const item of ['a', 'b']) {
      notes.items.push(item);
      await settled(notes);
    }
    assert.equal((await storage.load('notes'))?.v, 2);

    // Redis loses the store; another node puts it back from its own state at version 2 (which
    // never had 'b', but 'x'), then writes on.
    const keys = redisKeys(PREFIX, defaultHashTag(PREFIX));
    const raw = createRedisClient({ url: redis.url });
    await raw.connect();
    await raw.del([keys.v('notes'), keys.log('notes'), keys.snap('notes'), keys.epoch('notes'), keys.held('notes')]);
    await raw.quit();
    const other = await createRedisStorage(redis.url, { prefix: PREFIX });
    t.after(() => other.close());
    const epoch = await other.restore!('notes', { value: { items: ['a', 'x'] }, v: 2 });
    assert.ok(epoch);
    await other.append([{ store: 'notes', batch: { v: 3, ops: [{ op: 'push', path: ['items'], values: ['c'] }], id: 'other:1' }, epoch }]);

    // The node hears version 3 of the restored store: it merges (its 'a' and 'b' are older than
    // anything the restoring node's log held, so they count as in its snapshot) and reloads.
    const deadline = Date.now() + 10_000;
    while (snapshot(notes).items.join() !== 'a,x,c' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(snapshot(notes).items, ['a', 'x', 'c'], 'the node holds what storage holds');
    assert.deepEqual((await storage.load('notes'))?.value, { items: ['a', 'x', 'c'] });
  });
});
