// SPDX-License-Identifier: MIT
/**
 * @module presence-redis.test
 * Presence across two server nodes on one real `redis-server` (`presence-redis.ts`): a peer on
 * node A sees a peer on node B and its leave; a reload that lands on the other node shows no
 * leave/join; a node that dies without a word loses its peers after three refresh periods.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineApp } from '../src/index.js';
import type { Json } from '../src/index.js';
import { startRedis } from '../test/helpers/redis-server.js';
import type { TestRedis } from '../test/helpers/redis-server.js';
import { delay, startServer, until } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';
import { peerId } from './presence.js';
import { createRedisPresenceBus } from './presence-redis.js';
import type { RedisPresenceBus } from './presence-redis.js';

const GRACE_MS = 300;
const KEY_A = 'presence-key-node-a-tab-0001';
const KEY_B = 'presence-key-node-b-tab-0002';

function peersSeen(raw: RawClient): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const m of raw.messages.filter((x: Message) => x.t === 'presence' && x.self === undefined)) {
    for (const [id, state] of Object.entries(m.peers as Record<string, Json>)) {
      if (state === null) delete out[id];
      else out[id] = state;
    }
  }
  return out;
}

async function joined(srv: TestServer): Promise<RawClient> {
  const raw = await srv.raw();
  await raw.hello(undefined, { room: 0 });
  await raw.next((m) => m.t === 'snapshot');
  return raw;
}

describe('presence on two nodes and one Redis', () => {
  let redis: TestRedis;
  const buses: RedisPresenceBus[] = [];
  const nodes: TestServer[] = [];

  /** A node; `prefix` keeps each test's nodes apart from the last test's (still running). */
  async function node(prefix: string, graceMs = GRACE_MS): Promise<TestServer> {
    const bus = await createRedisPresenceBus(redis.url, { prefix });
    buses.push(bus);
    const app = defineApp();
    // In memory on each node: presence does not need shared storage, only the bus.
    app.shared('room', () => ({}), { persist: false });
    const srv = await startServer(app, { presence: { graceMs, bus } });
    nodes.push(srv);
    return srv;
  }

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await Promise.all(buses.map((b) => b.close()));
    await redis.stop();
  });

  it('a peer on node A sees a peer on node B, its changes and its leave; a reload onto the other node shows no flicker', async () => {
    const a = await node('one:');
    const b = await node('one:');
    const onA = await joined(a);
    const onB = await joined(b);
    onA.send({ t: 'presence', store: 'room', key: KEY_A, state: { name: 'Ada' } });
    onB.send({ t: 'presence', store: 'room', key: KEY_B, state: { name: 'Bob' } });
    await until(() => peersSeen(onA)[peerId(KEY_B)] && peersSeen(onB)[peerId(KEY_A)], 'each to see the other across nodes');
    onB.send({ t: 'presence', store: 'room', key: KEY_B, state: { name: 'Bob', typing: true } });
    await until(() => (peersSeen(onA)[peerId(KEY_B)] as { typing?: boolean }).typing === true, 'a change to cross');
    // A newcomer on A gets B's peer too (asked for when A first needed the store, then kept).
    const late = await joined(a);
    await until(() => peersSeen(late)[peerId(KEY_B)], 'a late reader on A to see B\'s peer');

    // Bob reloads and lands on node A: nobody sees him leave or come back.
    const seenBefore = onA.messages.length;
    await onB.close();
    const reloaded = await joined(a);
    reloaded.send({ t: 'presence', store: 'room', key: KEY_B, state: { name: 'Bob', typing: true } });
    await delay(GRACE_MS * 3);
    const flicker = onA.since(seenBefore).filter((m) => m.t === 'presence' && Object.values(m.peers as object).includes(null));
    assert.deepEqual(flicker, [], 'no leave seen on A');
    assert.ok(b.server.presence.peers('room')[peerId(KEY_B)], "node B holds Bob as A's peer now");

    // Bob leaves for good: both nodes see it after the grace.
    await reloaded.close();
    const watcherOnB = await joined(b);
    await until(() => peersSeen(watcherOnB)[peerId(KEY_B)], 'B\'s reader to see Bob first');
    await until(() => !peersSeen(watcherOnB)[peerId(KEY_B)] && !peersSeen(onA)[peerId(KEY_B)], 'Bob\'s leave on both nodes', GRACE_MS * 6);
    assert.ok(peersSeen(watcherOnB)[peerId(KEY_A)], 'Ada stays');
  });

  it('a node that dies without a word: its peers are dropped by the others after three refresh periods', async () => {
    const a = await node('two:');
    const b = await node('two:');
    const onA = await joined(a);
    const onB = await joined(b);
    onB.send({ t: 'presence', store: 'room', key: 'presence-key-doomed-node-0003', state: 1 });
    await until(() => peersSeen(onA)[peerId('presence-key-doomed-node-0003')], 'A to see B\'s peer');
    // B stops talking on the bus (as if killed): no leave is ever sent.
    b.server.presence.close();
    await until(() => !peersSeen(onA)[peerId('presence-key-doomed-node-0003')], 'the dead node\'s peer to expire', 3000);
  });

  it('a node that gets its first reader of a store asks the others for their peers (no wait for a refresh)', async () => {
    // A long grace: the refresh (every graceMs / 2) would take 5 s.
    const a = await node('three:', 10_000);
    const b = await node('three:', 10_000);
    const onB = await joined(b);
    onB.send({ t: 'presence', store: 'room', key: KEY_B, state: { name: 'Bob' } });
    await onB.next((m) => m.t === 'presence' && typeof m.self === 'string');
    await delay(200); // B's change went out while A had no reader of the store: A kept nothing
    const started = Date.now();
    const onA = await joined(a);
    await until(() => peersSeen(onA)[peerId(KEY_B)], "A's first reader to see B's peer");
    assert.ok(Date.now() - started < 2000, `asked, not refreshed (${Date.now() - started} ms)`);
  });
});
