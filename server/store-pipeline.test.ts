// SPDX-License-Identifier: MIT
/**
 * A store's batches are committed back to back (`store-pipeline.ts`): a client's batches to one
 * store reach storage together, yet none is confirmed before it is durable, a refused one
 * takes none of the others with it, and a failed append never lets a later one land on a
 * version it did not take — on one node, and on two nodes racing through a real Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineApp, ErrorCode, increment, settled } from '../src/index.js';
import { createMemoryStorage } from './index.js';
import { createRedisStorage } from './storage-redis.js';
import { failingStorage } from '../test/helpers/failing-storage.js';
import type { FailingStorage } from '../test/helpers/failing-storage.js';
import { startRedis } from '../test/helpers/redis-server.js';
import type { TestRedis } from '../test/helpers/redis-server.js';
import { nonNegative } from '../test/helpers/hub-kit.js';
import { delay, newClientId, startServer, until } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';

const BATCHES = 20;

function appWithDoc() {
  const app = defineApp();
  app.shared('doc', () => ({ n: 0, log: [] as number[] }), { schema: nonNegative as never });
  return app;
}

interface Setup {
  srv: TestServer;
  disk: FailingStorage;
  raw: RawClient;
}

/** A server over a failing memory storage, and a raw client of its store `doc` (by default `{n, log}` with a schema refusing a negative `n`). */
async function setup(t: { after: (fn: () => Promise<void>) => void }, app = appWithDoc()): Promise<Setup> {
  const disk = failingStorage(createMemoryStorage());
  const srv = await startServer(app, { storage: disk.storage, limits: { rate: 1e6, burst: 1e6 } });
  t.after(() => srv.close());
  const raw = await srv.raw();
  await raw.hello(newClientId(), { doc: 0 });
  await raw.next((m) => m.t === 'snapshot');
  return { srv, disk, raw };
}

/** Batch `seq` of `raw`: sets n and pushes `seq` to the log (each in a frame of its own). */
function push(raw: RawClient, seq: number, n = seq): void {
  raw.send({ t: 'op', id: `${raw.clientId}:${seq}`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: n }, { op: 'push', path: ['log'], values: [seq] }] });
}

/** The answer (`sync` with the id, or `reject`) to each batch of `raw`, by seq. */
function answers(raw: RawClient): Map<number, Message> {
  const byId = new Map<number, Message>();
  for (const m of raw.messages) {
    if ((m.t === 'sync' || m.t === 'reject') && typeof m.id === 'string') byId.set(Number(m.id.split(':')[1]), m);
  }
  return byId;
}

describe('a store pipeline', () => {
  it('sends a client\'s batches to storage together, and confirms each only once stored, in order', async (t) => {
    const { srv, disk, raw } = await setup(t);
    disk.holding = true;
    for (let seq = 1; seq <= BATCHES; seq++) push(raw, seq);
    await until(() => disk.atTheDoor === BATCHES, `all ${BATCHES} appends at storage at once (${disk.atTheDoor} now)`);
    assert.equal(answers(raw).size, 0, 'nothing is confirmed before it is stored');
    assert.equal(srv.server.hub.storage === undefined, false);
    disk.holding = false;
    await until(() => answers(raw).size === BATCHES, 'every batch answered');
    const versions = [...answers(raw).entries()].sort(([a], [b]) => a - b).map(([, m]) => m.v);
    assert.deepEqual(versions, Array.from({ length: BATCHES }, (_, i) => i + 1));
    const stored = await disk.storage.load('doc');
    assert.deepEqual(stored?.value, { n: BATCHES, log: Array.from({ length: BATCHES }, (_, i) => i + 1) });
  });

  it('refuses a batch that breaks the schema on what storage holds, and commits the rest', async (t) => {
    const { disk, raw } = await setup(t);
    disk.holding = true;
    for (let seq = 1; seq <= 10; seq++) push(raw, seq, seq === 5 ? -1 : seq);
    // Batch 5 breaks it on top of 1-4 on their way: it waits for them to land, then is refused
    // on what storage holds (not on what might yet fail); 6-10 follow.
    await until(() => disk.atTheDoor === 4, 'four appends at storage');
    await delay(50);
    assert.equal(disk.atTheDoor, 4, 'nothing goes past the batch to be checked again');
    disk.holding = false;
    await until(() => answers(raw).size === 10, 'every batch answered');
    const got = answers(raw);
    assert.equal(got.get(5)!.t, 'reject');
    assert.equal(got.get(5)!.code, ErrorCode.SCHEMA);
    const confirmed = [...got].filter(([seq]) => seq !== 5).sort(([a], [b]) => a - b).map(([, m]) => m.v);
    assert.deepEqual(confirmed, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 10, log: [1, 2, 3, 4, 6, 7, 8, 9, 10] });
  });

  it('after an append that failed, confirms nothing made on top of it; the client sends them again and each lands once', async (t) => {
    const { srv, disk, raw } = await setup(t);
    const other = await srv.raw();
    await other.hello(newClientId(), { doc: 0 });
    disk.holding = true;
    for (let seq = 1; seq <= 6; seq++) push(raw, seq);
    disk.failOnce(`${raw.clientId}:3`, 'before');
    await until(() => disk.atTheDoor === 6, 'six appends at storage');
    push(other, 1, 100);
    await until(() => disk.atTheDoor === 7, "the other client's append at storage too");
    disk.holding = false;
    await until(() => answers(raw).size === 6 && answers(other).size === 1, 'every batch answered');
    const got = answers(raw);
    assert.deepEqual([1, 2].map((seq) => got.get(seq)!.v), [1, 2]);
    assert.equal(got.get(3)!.code, ErrorCode.UNAVAILABLE);
    for (const seq of [4, 5, 6]) assert.equal(got.get(seq)!.code, ErrorCode.ORDER, `batch ${seq} waits behind batch 3`);
    for (const seq of [3, 4, 5, 6]) assert.equal(got.get(seq)!.retry, true);
    // Another client's batch behind them is checked again on what was stored, not refused.
    assert.equal(answers(other).get(1)!.t, 'sync');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 100, log: [1, 2, 1] });
    // The client sends them again, in order: each lands once.
    const from = raw.messages.length;
    for (let seq = 3; seq <= 6; seq++) push(raw, seq);
    await until(() => raw.since(from).filter((m) => m.t === 'sync' && m.id).length === 4, 'the re-sent batches confirmed');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 6, log: [1, 2, 1, 3, 4, 5, 6] });
  });

  it('after an append that wrote but failed to answer, confirms it and the ones after it exactly once', async (t) => {
    const { disk, raw } = await setup(t);
    disk.holding = true;
    for (let seq = 1; seq <= 6; seq++) push(raw, seq);
    disk.failOnce(`${raw.clientId}:3`, 'after');
    await until(() => disk.atTheDoor === 6, 'six appends at storage');
    disk.holding = false;
    await until(() => answers(raw).size === 6 && [...answers(raw).values()].every((m) => m.t === 'sync' && (m.ops as unknown[]).length > 0),
      'every batch confirmed with its ops');
    assert.equal(raw.messages.filter((m) => m.t === 'sync' && m.id).length, 6, 'one confirmation each');
    assert.deepEqual([...answers(raw)].sort(([a], [b]) => a - b).map(([, m]) => m.v), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 6, log: [1, 2, 3, 4, 5, 6] });
  });
});

describe('a store pipeline and server code', () => {
  it('confirms a write of server code whose append wrote but failed to answer, once', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const disk = failingStorage(createMemoryStorage());
    const warnings: string[] = [];
    const srv = await startServer(app, { storage: disk.storage, logger: { warn: (...args: unknown[]) => void warnings.push(args.map(String).join(' ')), error: () => {} } });
    t.after(() => srv.close());
    await srv.server.hub.load('doc');
    disk.failNth(1, 'after');
    doc.n = 1;
    await settled(doc);
    await delay(20); // (a refusal would be logged right after)
    assert.equal(disk.wroteButFailed, 1);
    assert.deepEqual(warnings.filter((w) => /server code .* was refused/.test(w)), [], 'not reported refused');
    assert.deepEqual(await disk.storage.load('doc'), { value: { n: 1 }, v: 1 });
    assert.equal(doc.n, 1);
  });
});

describe('a store pipeline and a client\'s order', () => {
  it('does not commit a later batch that was slow to arrive past one refused for now; the re-sent one lands', async (t) => {
    const app = defineApp();
    app.shared('doc', () => ({ log: [] as number[] }), {
      // Batch 3 takes a while to be authorized: it is admitted before batch 2 is refused.
      authorize: async ({ ops }) => {
        if ((ops[0] as { values: number[] }).values[0] === 3) await delay(100);
        return true;
      },
    });
    const { disk, raw } = await setup(t, app);
    const push = (seq: number) => raw.send({ t: 'op', id: `${raw.clientId}:${seq}`, store: 'doc', ops: [{ op: 'push', path: ['log'], values: [seq] }] });
    push(1);
    await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:1`);
    disk.failOnce(`${raw.clientId}:2`, 'before');
    disk.holding = true;
    push(2);
    push(3);
    await until(() => disk.atTheDoor === 1, 'batch 2 at storage');
    await delay(30); // batch 3 is in authorize
    disk.holding = false;
    await until(() => answers(raw).has(2) && answers(raw).has(3), 'both answered');
    assert.equal(answers(raw).get(2)!.code, ErrorCode.UNAVAILABLE);
    assert.equal(answers(raw).get(3)!.code, ErrorCode.ORDER, 'batch 3 waits behind batch 2');
    // The client sends them again, in order.
    const from = raw.messages.length;
    push(2);
    push(3);
    await until(() => raw.since(from).filter((m) => m.t === 'sync' && m.id).length === 2, 'the re-sent batches confirmed');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { log: [1, 2, 3] });
  });

  it('does not refuse for good a batch that fails only on top of a batch that then fails', async (t) => {
    const app = defineApp();
    app.shared('doc', () => ({ n: 10, log: [] as number[] }), { schema: nonNegative as never });
    const disk = failingStorage(createMemoryStorage());
    const srv = await startServer(app, { storage: disk.storage, limits: { rate: 1e6, burst: 1e6 } });
    t.after(() => srv.close());
    const [a, b] = [await srv.raw(), await srv.raw()];
    for (const raw of [a, b]) {
      await raw.hello(newClientId(), { doc: 0 });
      await raw.next((m) => m.t === 'snapshot');
    }
    disk.failOnce(`${b.clientId}:1`, 'before');
    disk.holding = true;
    b.send({ t: 'op', id: `${b.clientId}:1`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: 0 }] });
    await until(() => disk.atTheDoor === 1, "b's batch at storage");
    // On top of b's n = 0 this breaks the schema; on what storage holds (n = 10) it does not.
    a.send({ t: 'op', id: `${a.clientId}:1`, store: 'doc', ops: [{ op: 'add', path: ['n'], delta: -5 }] });
    await delay(50);
    disk.holding = false;
    await until(() => answers(a).has(1) && answers(b).has(1), 'both answered');
    assert.equal(answers(b).get(1)!.code, ErrorCode.UNAVAILABLE);
    assert.equal(answers(a).get(1)!.t, 'sync', `a's batch lands on what storage holds (${JSON.stringify(answers(a).get(1))})`);
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 5, log: [] });
  });
});

describe('store pipelines on two nodes sharing a real Redis', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis.stop());

  it('lose no write when both pipeline batches to one store at once', async (t) => {
    const nodes: TestServer[] = [];
    for (let i = 0; i < 2; i++) {
      const app = defineApp(); // an app per hub, as each node has its own
      app.shared('counter', () => ({ n: 0 }));
      const storage = await createRedisStorage(redis.url, { prefix: 'pipeline:' });
      const srv = await startServer(app, { storage, limits: { rate: 1e6, burst: 1e6 } });
      nodes.push(srv);
      t.after(async () => {
        await srv.close();
        await storage.close();
      });
    }
    const WRITES = 300;
    const stores = nodes.map((srv) => srv.client().store<{ n: number }>('counter'));
    await until(() => stores.every((s) => s.n === 0), 'both clients to read the counter');
    for (let i = 0; i < WRITES; i++) {
      for (const store of stores) increment(store, 'n');
      await Promise.resolve(); // a batch per turn
    }
    await Promise.all(stores.map((s) => settled(s)));
    await until(() => stores.every((s) => s.n === 2 * WRITES), `both clients at ${2 * WRITES} (${stores.map((s) => s.n)})`, 10_000);
    const check = await createRedisStorage(redis.url, { prefix: 'pipeline:' });
    t.after(() => check.close());
    const stored = await check.load('counter');
    assert.deepEqual(stored?.value, { n: 2 * WRITES });
    assert.equal(stored?.v, 2 * WRITES);
  });
});
