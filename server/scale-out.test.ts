// SPDX-License-Identifier: MIT
/**
 * @module scale-out.test
 * Several server nodes on one real `redis-server` (README.md's storage table: "several servers
 * behind any load balancer converge"), and what happens when parts of that fail: a node is SIGKILLed and its
 * clients fail over through a TCP load balancer to the other node; Redis itself restarts
 * (empty: the test Redis keeps nothing on disk); one batch reaches two nodes at once (a client
 * that re-sends on another node while the first is still committing). In every case: no
 * acknowledged batch is lost, none is applied twice, and every client and node ends identical.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { increment, settled } from '../src/index.js';
import type { Json } from '../src/index.js';
import { defineFixtureApp, BOARD } from '../test/fixtures/app.js';
import type { Board } from '../test/fixtures/app.js';
import { BoardWriter, boardClient, delay, eventually } from '../test/fixtures/board-writer.js';
import type { BoardClient } from '../test/fixtures/board-writer.js';
import { startNode } from '../test/helpers/node-process.js';
import type { NodeProcess } from '../test/helpers/node-process.js';
import { startRedis } from '../test/helpers/redis-server.js';
import type { TestRedis } from '../test/helpers/redis-server.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { RawClient, TestServer } from '../test/helpers/server.js';
import { startTcpProxy } from '../test/helpers/tcp-proxy.js';
import type { TcpProxy } from '../test/helpers/tcp-proxy.js';
import { createRedisStorage } from './storage-redis.js';
import type { StorageAdapter } from './storage.js';
import type { TwinServer } from './twin.js';

const APP = 'test/fixtures/app.ts';
/** How long writers write in each phase. */
const WRITE_MS = 1_500;
const TEST_TIMEOUT_MS = 60_000;
/** Batches sent to both nodes at once in the duplicate test. */
const DOUBLE_SENDS = 20;

/** The committed state of the board on an in-process node. */
async function nodeState(server: TwinServer): Promise<{ value: Board; v: number }> {
  const store = await server.hub.load(BOARD);
  assert.ok(store, 'the board store exists');
  // A copy: the node keeps changing its committed tree in place.
  return { value: structuredClone(store.replica.confirmed) as unknown as Board, v: store.v };
}

/** Checks a final board against what the writers wrote: each batch exactly once, the counter exact. */
function assertExactlyOnce(value: Board, writers: readonly BoardWriter[]): void {
  const written = writers.flatMap((w) => w.written);
  const counts = new Map<string, number>();
  for (const tag of value.items) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  assert.deepEqual(written.filter((tag) => !counts.has(tag)), [], 'every batch written is in the list');
  assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'no batch was applied twice');
  assert.equal(value.items.length, written.length, 'the list holds exactly the batches written');
  for (const w of writers) {
    assert.deepEqual(value.items.filter((tag) => tag.startsWith(`${w.name}-`)), w.written, `${w.name}'s pushes are in the order it wrote them`);
  }
  assert.equal(value.counter, writers.reduce((sum, w) => sum + w.incrementsWritten, 0), 'the counter counts every increment exactly once');
}

/** Stops the writers, waits until all they wrote is confirmed, and checks nothing was refused. */
async function finish(writers: readonly BoardWriter[]): Promise<void> {
  await Promise.all(writers.map((w) => w.stop()));
  await Promise.all(writers.map((w) => w.drained()));
  for (const w of writers) {
    assert.deepEqual(w.failures, [], `${w.name}: a batch was refused`);
    assert.deepEqual(w.target.rejects, [], `${w.name}: the server refused something`);
  }
}

/** Waits until every client holds version `v`, then checks they all hold `value`. */
async function assertClientsHold(clients: readonly BoardClient[], value: Board, v: number, what: string): Promise<void> {
  await eventually(() => clients.every((c) => c.state().v === v), `every client to reach version ${v} (${what})`, undefined,
    () => `versions: ${clients.map((c) => c.state().v).join(', ')}.`);
  for (const [i, c] of clients.entries()) assert.deepEqual(c.state().value, value, `client ${i} holds the same board as ${what}`);
}

describe('two nodes on one Redis', () => {
  let redis: TestRedis;
  const storages: StorageAdapter[] = [];
  const servers: TestServer[] = [];
  const clients: BoardClient[] = [];
  const writers: BoardWriter[] = [];

  before(async () => {
    redis = await startRedis();
    for (let n = 0; n < 2; n++) {
      const storage = await createRedisStorage(redis.url);
      storages.push(storage);
      servers.push(await startServer(defineFixtureApp().app, { storage }));
    }
  });
  after(async () => {
    await Promise.allSettled(writers.map((w) => w.stop()));
    for (const c of clients) c.close();
    await Promise.allSettled(servers.map((s) => s.close()));
    await Promise.allSettled(storages.map((s) => s.close()));
    await redis?.stop();
  });

  it('clients on both nodes writing at once all end identical, every batch applied once', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [a, b] = servers as [TestServer, TestServer];
    for (const server of [a, a, b, b]) clients.push(boardClient(server.url));
    await eventually(() => clients.every((c) => c.ready()), 'the clients to get the board');
    for (const [i, c] of clients.entries()) writers.push(new BoardWriter(`n${i < 2 ? 'a' : 'b'}${i}`, c).start());

    await delay(WRITE_MS);
    await finish(writers);

    const onA = await eventually(async () => {
      const [sa, sb] = await Promise.all([nodeState(a.server), nodeState(b.server)]);
      return sa.v === sb.v && sa;
    }, 'both nodes to reach the same version');
    const onB = await nodeState(b.server);
    assert.deepEqual(onB.value, onA.value, 'both nodes hold the same board');
    assertExactlyOnce(onA.value, writers);
    assert.equal(onA.v, writers.reduce((sum, w) => sum + w.written.length, 0), 'one version per batch');
    await assertClientsHold(clients, onA.value, onA.v, 'the nodes');
  });

  it('a batch that reaches both nodes at once (a re-send on another node) is applied once', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const id = newClientId();
    const rawA: RawClient = await a.raw();
    const rawB: RawClient = await b.raw();
    // Subscribed, as a client always is: a batch is confirmed by the sync it produces.
    await rawA.hello(id, { [BOARD]: 0 });
    await rawB.hello(id, { [BOARD]: 0 });
    for (let seq = 1; seq <= DOUBLE_SENDS; seq++) {
      const op = { t: 'op', id: `${id}:${seq}`, store: BOARD, ops: [{ op: 'push', path: ['items'], values: [`twice-${seq}`] }, { op: 'add', path: ['counter'], delta: 1 }] };
      rawA.send(op);
      rawB.send(op);
      const confirmed = (m: { t: string; id?: Json }): boolean => (m.t === 'sync' || m.t === 'reject') && m.id === op.id;
      const [ackA, ackB] = await Promise.all([rawA.next(confirmed), rawB.next(confirmed)]);
      assert.equal(ackA.t, 'sync', `node A confirms ${op.id}`);
      assert.equal(ackB.t, 'sync', `node B confirms ${op.id}`);
    }
    const [sa, sb] = await eventually(async () => {
      const states = await Promise.all([nodeState(a.server), nodeState(b.server)]);
      return states[0].v === states[1].v && states;
    }, 'both nodes to reach the same version');
    assert.deepEqual(sb.value, sa.value, 'both nodes hold the same board');
    const twice = sa.value.items.filter((tag) => tag.startsWith('twice-'));
    assert.deepEqual(twice, Array.from({ length: DOUBLE_SENDS }, (_, i) => `twice-${i + 1}`), 'each batch is in the list once, in order');
  });
});

describe('a node is killed behind a load balancer', () => {
  let redis: TestRedis;
  const nodes: NodeProcess[] = [];
  const clients: BoardClient[] = [];
  const writers: BoardWriter[] = [];
  let proxy: TcpProxy | undefined;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.allSettled(writers.map((w) => w.stop()));
    for (const c of clients) c.close();
    await proxy?.close();
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await redis?.stop();
  });

  it('its clients reconnect to the other node, lose nothing and converge', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [a, b] = await Promise.all([startNode({ app: APP, storage: redis.url }), startNode({ app: APP, storage: redis.url })]);
    nodes.push(a, b);
    proxy = await startTcpProxy([a.port, b.port]);
    clients.push(boardClient(proxy.url), boardClient(proxy.url), boardClient(b.url));
    await eventually(() => clients.every((c) => c.ready()), 'the clients to get the board');
    assert.equal(proxy.connections().get(a.port), 2, 'the balancer sends both of its clients to node A');
    for (const [i, c] of clients.entries()) writers.push(new BoardWriter(i < 2 ? `lb${i}` : 'direct', c).start());

    await delay(WRITE_MS);
    await a.kill();
    await eventually(() => proxy!.connections().get(b.port) === 2 && clients.every((c) => c.ready()),
      'the balanced clients to come back online through node B', undefined, () => `open connections: ${JSON.stringify([...proxy!.connections()])}.`);
    await delay(WRITE_MS);
    await finish(writers);

    const checker = boardClient(b.url);
    clients.push(checker);
    await eventually(() => checker.ready(), 'a checking client on node B');
    const final = checker.state();
    assertExactlyOnce(final.value, writers);
    assert.equal(final.v, writers.reduce((sum, w) => sum + w.written.length, 0), 'one version per batch');
    await assertClientsHold(clients, final.value, final.v, 'node B');
  });
});

/** Two nodes on one Redis with a client each, 10 batches committed, and then Redis restarted (empty). */
interface RestartScenario {
  readonly nodes: TestServer[];
  readonly clients: BoardClient[];
  /** What both nodes held when Redis restarted. */
  readonly before: { value: Board; v: number };
  /** Starts one more node on the same Redis. */
  startNode(): Promise<TestServer>;
  /** The URL of the Redis. */
  redisUrl(): string;
}

/** Sets up a {@link RestartScenario} in `before` (and tears it down in `after`) of the enclosing `describe`. */
function restartScenario(): RestartScenario {
  let redis: TestRedis;
  const storages: StorageAdapter[] = [];
  const scenario = { nodes: [] as TestServer[], clients: [] as BoardClient[], before: { value: { items: [], counter: 0, last: '' }, v: 0 } as RestartScenario['before'],
    async startNode(): Promise<TestServer> {
      const storage = await createRedisStorage(redis.url);
      storages.push(storage);
      const server = await startServer(defineFixtureApp().app, { storage });
      scenario.nodes.push(server);
      return server;
    },
    redisUrl: () => redis.url,
  };

  before(async () => {
    redis = await startRedis();
    const a = await scenario.startNode();
    const b = await scenario.startNode();
    const onA = boardClient(a.url);
    const onB = boardClient(b.url);
    scenario.clients.push(onA, onB);
    await eventually(() => onA.ready() && onB.ready(), 'the clients to get the board');
    for (let i = 0; i < 5; i++) {
      onA.board.items.push(`before-a-${i}`);
      onB.board.items.push(`before-b-${i}`);
      increment(onA.board, 'counter', 1);
      await Promise.all([settled(onA.board), settled(onB.board)]);
    }
    scenario.before = await eventually(async () => {
      const [sa, sb] = await Promise.all([nodeState(a.server), nodeState(b.server)]);
      return sa.v === 10 && sb.v === 10 && sa;
    }, 'both nodes to hold the 10 batches');
    await redis.restart();
  });
  after(async () => {
    for (const c of scenario.clients) c.close();
    await Promise.allSettled(scenario.nodes.map((s) => s.close()));
    await Promise.allSettled(storages.map((s) => s.close()));
    await redis?.stop();
  });
  return scenario;
}

/**
 * Writes a fresh tag on `client` until the server acknowledges it. A refusal with
 * TWIN_ERR_INTERNAL (the node's Redis connection is still coming back) is retried, as a user
 * would; any other refusal fails the test at once.
 */
async function writeUntilAcknowledged(client: BoardClient, tag: string): Promise<string> {
  return eventually(async () => {
    const attempt = `${tag}-${Date.now()}`;
    const before = client.rejects.length;
    client.board.items.push(attempt);
    increment(client.board, 'counter', 1);
    try {
      await settled(client.board);
      return attempt;
    } catch {
      const refusal = client.rejects.slice(before).find((r) => r.code !== 'TWIN_ERR_INTERNAL');
      if (refusal) assert.fail(`The write after the Redis restart was refused with ${refusal.code}: ${refusal.message}`);
      await delay(200);
      return undefined;
    }
  }, 'a write after the Redis restart to be acknowledged');
}

describe('Redis restarts (empty, as the test Redis keeps nothing on disk), then a client writes', () => {
  const scenario = restartScenario();

  it('the nodes recover by themselves: the write reaches clients on both nodes, and what was committed before stays', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [a, b] = scenario.nodes as [TestServer, TestServer];
    const [onA, onB] = scenario.clients as [BoardClient, BoardClient];
    const tag = await writeUntilAcknowledged(onA, 'after');
    await eventually(() => onB.state().value.items.includes(tag), 'the write made on node A after the restart to reach the client of node B', undefined,
      () => `node B's client holds v${onB.state().v}: ${JSON.stringify(onB.state().value.items.slice(-3))}.`);
    const [sa, sb] = await eventually(async () => {
      const states = await Promise.all([nodeState(a.server), nodeState(b.server)]);
      return states[0].v === states[1].v && states;
    }, 'both nodes to reach the same version');
    assert.deepEqual(sb.value, sa.value, 'both nodes hold the same board');
    assert.deepEqual(sa.value.items, [...scenario.before.value.items, tag], 'what was committed before the restart is still there, then the new write');
    assert.equal(sa.value.counter, scenario.before.value.counter + 1, 'the counter kept its value and counted the new increment');
    await assertClientsHold([onA, onB], sa.value, sa.v, 'the nodes');

    // Redis holds the board again: a node started now serves it too.
    const c = await scenario.startNode();
    const onC = boardClient(c.url);
    scenario.clients.push(onC);
    await eventually(() => onC.ready(), 'a client of a third node to get the board');
    assert.deepEqual(onC.state(), { value: sa.value, v: sa.v, pending: 0 }, 'a node started after the recovery serves the same board');
  });
});

describe('Redis restarts (empty), and no one writes', () => {
  const scenario = restartScenario();
  const probes: StorageAdapter[] = [];
  after(async () => {
    await Promise.allSettled(probes.map((p) => p.close()));
  });

  it('the nodes put what they hold back into Redis; a node started then serves it and its writes reach the others', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [a, b] = scenario.nodes as [TestServer, TestServer];
    assert.deepEqual(await nodeState(a.server), scenario.before, 'the running nodes still hold what was committed before the restart');
    const probe = await createRedisStorage(scenario.redisUrl());
    probes.push(probe);
    await eventually(async () => (await probe.load(BOARD))?.v === scenario.before.v, 'the nodes to write the board back into the restarted Redis', undefined,
      () => 'Redis still has no board (or an older one).');
    assert.deepEqual((await probe.load(BOARD))?.value, scenario.before.value, 'Redis holds the board the nodes hold');

    const c = await scenario.startNode();
    const onC = boardClient(c.url);
    scenario.clients.push(onC);
    await eventually(() => onC.ready(), 'a client of the new node to get the board');
    assert.deepEqual(onC.state(), { value: scenario.before.value, v: scenario.before.v, pending: 0 }, 'the new node serves the board the running nodes hold');

    onC.board.items.push('from-c');
    await settled(onC.board);
    const [onA, onB] = scenario.clients as [BoardClient, BoardClient];
    await eventually(() => onA.state().value.items.includes('from-c') && onB.state().value.items.includes('from-c'),
      'the write on the new node to reach the clients of the other two');
    const [sa, sb] = [await nodeState(a.server), await nodeState(b.server)];
    assert.deepEqual(sb, sa, 'both nodes hold the same board');
    assert.deepEqual(sa.value.items, [...scenario.before.value.items, 'from-c'], 'nothing was lost or reordered');
  });
});
