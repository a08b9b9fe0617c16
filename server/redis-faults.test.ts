// SPDX-License-Identifier: MIT
/**
 * @module redis-faults.test
 * Two server nodes on one real `redis-server`, under the faults that used to cost writes:
 * actions racing across nodes (each must run again on the state the other node committed),
 * and Redis stopped and started again and again while clients write, so appends fail half-way
 * and their replies are lost — with an append-only file, and without one (Redis comes back
 * empty: one node restores the store from what it holds, the others merge into it what only
 * they hold). Every acknowledged write must survive exactly once, no write reported refused
 * may be applied, nothing may be confirmed that is not stored, and the nodes must agree at the
 * end. The counts are printed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { defineApp, snapshot } from '../src/index.js';
import { defineFixtureApp, BOARD } from '../test/fixtures/app.js';
import type { Board } from '../test/fixtures/app.js';
import { delay, eventually } from '../test/fixtures/board-writer.js';
import { trackedWriter } from '../test/helpers/tracked-writer.js';
import type { TrackedWriter } from '../test/helpers/tracked-writer.js';
import { startRedisProcess } from '../test/helpers/redis-process.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { createRedisStorage } from './storage-redis.js';

const TEST_TIMEOUT_MS = 90_000;
/** Restarts of Redis in the loop, and the pause between two. */
const RESTARTS = 10;
const BETWEEN_RESTARTS_MS = 400;
/** Pause between two writes of one writer. */
const WRITE_INTERVAL_MS = 15;

/** Two nodes on `redis`, each running its own copy of the app `make()` defines. */
async function twoNodes<A extends { app: ReturnType<typeof defineApp> }>(t: TestContext, redis: { url: string }, make: () => A): Promise<{ nodes: TestServer[]; apps: A[] }> {
  const nodes: TestServer[] = [];
  const apps: A[] = [];
  for (let n = 0; n < 2; n++) {
    const storage = await createRedisStorage(redis.url);
    const made = make();
    apps.push(made);
    const node = await startServer(made.app, { storage });
    nodes.push(node);
    t.after(async () => {
      await node.close();
      await storage.close();
    });
  }
  return { nodes, apps };
}

describe('actions on two nodes of one Redis', () => {
  it('200 read-then-set calls split between the nodes all count: a call that lost the race runs again', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const redis = await startRedisProcess({ appendonly: false });
    t.after(() => redis.dispose());
    const make = () => {
      const app = defineApp();
      const counter = app.shared('counter', () => ({ n: 0 }));
      app.action('bump', async () => {
        const n = counter.n;
        await new Promise((resolve) => setImmediate(resolve)); // the other node may commit meanwhile
        counter.n = n + 1;
      });
      return { app, counter };
    };
    const { nodes, apps } = await twoNodes(t, redis, make);
    const clients = nodes.map((node) => node.client());
    await Promise.all(Array.from({ length: 200 }, (_, i) => clients[i % 2]!.call('bump', [])));
    await eventually(() => apps.every(({ counter }) => snapshot(counter).n === 200), 'both nodes at n = 200', undefined,
      () => `n = ${apps.map(({ counter }) => snapshot(counter).n).join(' and ')}`);
  });
});

async function restartLoop(t: TestContext, appendonly: boolean): Promise<void> {
  const redis = await startRedisProcess({ appendonly });
  t.after(() => redis.dispose());
  const { nodes } = await twoNodes(t, redis, () => defineFixtureApp());
  const writers: TrackedWriter[] = [];
  for (const node of [nodes[0]!, nodes[0]!, nodes[1]!, nodes[1]!]) writers.push(trackedWriter(node.url));
  t.after(() => {
    for (const w of writers) w.close();
  });
  await Promise.all(writers.map((w) => w.ready()));
  let writing = true;
  const loops = writers.map(async (w, i) => {
    for (let k = 0; writing; k++) {
      w.writeOne(`w${i}-${k}`, 1);
      await delay(WRITE_INTERVAL_MS);
    }
  });
  for (let i = 0; i < RESTARTS; i++) {
    await delay(BETWEEN_RESTARTS_MS);
    // SIGTERM: with an append-only file Redis keeps what it acknowledged (fsync always);
    // without one it comes back empty, and the nodes put the store back and merge into it.
    await redis.stop();
    await redis.start();
  }
  await delay(BETWEEN_RESTARTS_MS);
  writing = false;
  await Promise.all(loops);
  const label = appendonly ? 'AOF' : 'no persistence';
  const board = async (n: number) => structuredClone((await nodes[n]!.server.hub.load(BOARD))!.replica.confirmed) as unknown as Board;
  for (const [i, w] of writers.entries()) await w.quiesced(30_000, { t, label: `${label} writer ${i}`, server: () => ({ items: [], counter: 0, last: '' }) });
  const versions = async () => Promise.all(nodes.map(async (node) => (await node.server.hub.load(BOARD))!.v));
  await eventually(async () => new Set(await versions()).size === 1, 'both nodes to reach the same version');
  const final = await board(0);
  assert.deepEqual(await board(1), final, 'the nodes agree');
  await eventually(() => writers.every((w) => snapshot(w.board).items.length === final.items.length), 'every client to hold the nodes\' board');
  for (const [i, w] of writers.entries()) w.judge(t, `${label}, ${RESTARTS} restarts, writer ${i}`, final, false);
}

describe('Redis restarted while two nodes take writes', () => {
  it(`with an append-only file, ${RESTARTS} times: nothing acknowledged is lost, applied twice or confirmed unstored`, { timeout: TEST_TIMEOUT_MS }, (t) => restartLoop(t, true));
  it(`empty each time (no persistence), ${RESTARTS} times: the same — the nodes restore and merge`, { timeout: TEST_TIMEOUT_MS }, (t) => restartLoop(t, false));
});
