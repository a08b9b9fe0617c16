// SPDX-License-Identifier: MIT
/**
 * When the hub folds a store's log into a snapshot (server/committer.ts): after 500 batches at
 * most often, and only once the batches since the last snapshot add up to a quarter of its
 * size — so a large store is rewritten rarely, a small one as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineApp, increment, settled } from '../src/index.js';
import { createMemoryStorage } from './index.js';
import { startServer, until } from '../test/helpers/server.js';

/** Server code writes `n` increments to `store`, a batch each. */
async function bump(store: { n: number }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    increment(store, 'n');
    await Promise.resolve();
    if (i % 100 === 99) await settled(store);
  }
  await settled(store);
}

describe('compaction', () => {
  it('rewrites a small store every 500 batches, and a 2 MB one only after a quarter of its size in batches', async (t) => {
    const app = defineApp();
    const small = app.shared('small', () => ({ n: 0 }));
    const big = app.shared('big', () => ({ n: 0, items: Array.from({ length: 20_000 }, (_, i) => ({ id: i, text: 'x'.repeat(90) })) }));
    const storage = createMemoryStorage();
    const srv = await startServer(app, { storage });
    t.after(() => srv.close());
    for (const store of [small, big]) await bump(store, 1_100);
    // The small one was rewritten at about 500 and 1,000 batches: the log no longer reaches back
    // before the last (it keeps the snapshot's own batch).
    await until(async () => (await storage.since('small', 998)) === undefined, 'the small store compacted twice');
    // 1,100 small batches are far from a quarter of 2 MB: the big one keeps its log since its first write.
    assert.equal((await storage.since('big', 0))?.length, 1_100, 'the big store keeps its log');
    assert.equal((await storage.load('big'))?.v, 1_100);
  });
});
