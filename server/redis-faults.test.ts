// SPDX-License-Identifier: MIT
/**
 * @module redis-faults.test
 * Two server nodes on one real `redis-server`, under the faults that used to cost writes:
 * actions racing across nodes (each must run again on the state the other node committed),
 * and Redis restarted again and again while clients write — empty each time (no persistence),
 * and with an append-only file. Every acknowledged write must survive exactly once, no write
 * reported refused may be applied, and the nodes must agree at the end. The counts are printed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { defineApp, snapshot } from '../src/index.js';
import { defineFixtureApp, BOARD } from '../test/fixtures/app.js';
import type { Board } from '../test/fixtures/app.js';
import { BoardWriter, boardClient, delay, eventually } from '../test/fixtures/board-writer.js';
import type { BoardClient } from '../test/fixtures/board-writer.js';
import { startRedisProcess } from '../test/helpers/redis-process.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { createRedisStorage } from './storage-redis.js';

const TEST_TIMEOUT_MS = 90_000;
/** Restarts of Redis in the loop, and the pause between two. */
const RESTARTS = 10;
const BETWEEN_RESTARTS_MS = 400;

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

/** What the writers' boards and the nodes say about every write, counted. */
function tally(writers: readonly BoardWriter[], final: Board): { written: number; acknowledged: number; lost: number; duplicated: number; refused: number; refusedButApplied: number } {
  const counts = new Map<string, number>();
  for (const tag of final.items) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  let written = 0;
  let acknowledged = 0;
  let lost = 0;
  let refused = 0;
  let refusedButApplied = 0;
  for (const w of writers) {
    written += w.written.length;
    acknowledged += w.acked.size;
    for (const tag of w.acked) if (!counts.has(tag)) lost++;
    refused += w.failures.length;
  }
  const duplicated = [...counts.values()].filter((n) => n > 1).length;
  // A writer's failures carry no tag; a refused write shows as written, not acknowledged, and on the board.
  for (const w of writers) for (const tag of w.written) if (!w.acked.has(tag) && counts.has(tag) && w.failures.length) refusedButApplied++;
  return { written, acknowledged, lost, duplicated, refused, refusedButApplied };
}

async function restartLoop(t: TestContext, appendonly: boolean): Promise<void> {
  const redis = await startRedisProcess({ appendonly });
  t.after(() => redis.dispose());
  const { nodes } = await twoNodes(t, redis, () => defineFixtureApp());
  const clients: BoardClient[] = [];
  for (const node of [nodes[0]!, nodes[0]!, nodes[1]!, nodes[1]!]) clients.push(boardClient(node.url));
  t.after(() => {
    for (const c of clients) c.close();
  });
  await eventually(() => clients.every((c) => c.ready()), 'the clients to get the board');
  const writers = clients.map((c, i) => new BoardWriter(`w${i}`, c, { interval: 15 }).start());
  for (let i = 0; i < RESTARTS; i++) {
    await delay(BETWEEN_RESTARTS_MS);
    // SIGTERM: with an append-only file, Redis keeps what it acknowledged; without, it comes back empty.
    await redis.stop();
    await redis.start();
  }
  await delay(BETWEEN_RESTARTS_MS);
  await Promise.all(writers.map((w) => w.stop()));
  await Promise.all(writers.map((w) => w.drained(30_000)));
  const states = await eventually(async () => {
    const s = await Promise.all(nodes.map(async (node) => (await node.server.hub.load(BOARD))!));
    return s[0]!.v === s[1]!.v && s;
  }, 'both nodes to reach the same version');
  const final = structuredClone(states[0]!.replica.confirmed) as unknown as Board;
  assert.deepEqual(states[1]!.replica.confirmed, states[0]!.replica.confirmed, 'the nodes agree');
  const counts = tally(writers, final);
  t.diagnostic(`${appendonly ? 'AOF' : 'no persistence'}, ${RESTARTS} restarts: written ${counts.written}, acknowledged ${counts.acknowledged}, lost ${counts.lost}, duplicated ${counts.duplicated}, refused ${counts.refused}, refused but applied ${counts.refusedButApplied}`);
  assert.equal(counts.lost, 0, 'no acknowledged write lost');
  assert.equal(counts.duplicated, 0, 'no write applied twice');
  assert.equal(counts.refusedButApplied, 0, 'no refused write applied');
  assert.equal(counts.acknowledged + counts.refused, counts.written, 'every write ended, confirmed or refused');
  await eventually(() => clients.every((c) => c.state().v === states[0]!.v), 'every client to reach the nodes\' version');
  for (const c of clients) assert.deepEqual(c.state().value, final, 'every client holds what the nodes hold');
}

describe('Redis restarted while two nodes take writes', () => {
  it(`empty each time (no persistence), ${RESTARTS} times: nothing acknowledged is lost, nothing applied twice`, { timeout: TEST_TIMEOUT_MS }, (t) => restartLoop(t, false));
  it(`with an append-only file, ${RESTARTS} times: the same`, { timeout: TEST_TIMEOUT_MS }, (t) => restartLoop(t, true));
});
