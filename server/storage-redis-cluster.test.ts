// SPDX-License-Identifier: MIT
/**
 * @module storage-redis-cluster.test
 * The Redis backend on a real three-node Redis Cluster (loopback, `redis-cli --cluster
 * create`): every key of one app carries the app's hash tag, so all of them hash to one slot
 * and the scripts that touch several stores and a client record run there as on one Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { ErrorCode } from '../src/errors.js';
import { startRedisCluster } from '../test/helpers/redis-server.js';
import type { TestRedisCluster } from '../test/helpers/redis-server.js';
import type { AppendPart, StorageAdapter, StoredBatch } from './storage.js';
import { createRedisStorage } from './storage-redis.js';

const SUITE_TIMEOUT_MS = 60_000;
const WAIT_MS = 10_000;
const POLL_MS = 20;
/** Stores with names that, untagged, would land in different slots (one holds braces of its own). */
const STORES = ['todos', 'room/{general}', 'profile/42'];

type Client = ReturnType<typeof newClient>;

function newClient(url: string) {
  return createClient({ url });
}

describe('redis storage on a Redis Cluster', { timeout: SUITE_TIMEOUT_MS }, () => {
  let cluster: TestRedisCluster;
  const clients: Client[] = [];
  const adapters: StorageAdapter[] = [];

  before(async () => {
    cluster = await startRedisCluster(3);
    for (const url of cluster.urls) {
      const client = newClient(url);
      await client.connect();
      clients.push(client);
    }
  });
  after(async () => {
    for (const adapter of adapters) await adapter.close();
    for (const client of clients) await client.close();
    await cluster?.stop();
  });

  it('keeps every key of an app in its hash tag\'s slot, where a multi-store append with a client record is atomic', async (t) => {
    const probe = clients[0]!;
    const slotOf = async (key: string): Promise<number> => Number(await probe.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    const untagged = new Set(await Promise.all(STORES.map((store) => slotOf(`twin:log:${store}`))));
    assert.ok(untagged.size > 1, 'without the tag these stores would be spread over several slots');

    // The node that serves the slot of the default tag `twin` (the prefix `twin:` without its colon).
    const slot = await slotOf('{twin}');
    const owner = await nodeServing(probe, slot);
    const url = cluster.urls[cluster.ports.indexOf(owner)]!;
    const storage = await createRedisStorage(url);
    const peer = await createRedisStorage(url);
    adapters.push(storage, peer);

    const heard: string[] = [];
    const stops = STORES.map((store) => peer.follow(store, 0, (batch) => heard.push(`${store}@${batch.v}`)));
    assert.deepEqual(await storage.claim('c1', 'owner-1'), { owner: 'owner-1', seq: 0, refused: [] });
    await storage.append(STORES.map((store) => part(store, 1)), { id: 'c1', seq: 1 });
    // A conflict on the last store leaves the others as they were.
    await assert.rejects(storage.append([part(STORES[0]!, 2), part(STORES[1]!, 2), part(STORES[2]!, 7)], { id: 'c1', seq: 2 }),
      (err: { code?: string; store?: string }) => err.code === ErrorCode.CONFLICT && err.store === STORES[2]);
    await assert.rejects(storage.append([part(STORES[0]!, 2)], { id: 'c1', seq: 1 }), { code: ErrorCode.DUPLICATE });
    // Appends issued in one turn go as one script call in the slot, each with its own outcome.
    const together = await Promise.allSettled([
      storage.append([part(STORES[0]!, 2)], { id: 'c3', seq: 1 }),
      storage.append([part(STORES[1]!, 3)], { id: 'c4', seq: 1 }),
      storage.append([{ ...part(STORES[0]!, 3), after: 'nobody:1' }]),
    ]);
    assert.deepEqual(together.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code)), ['ok', ErrorCode.CONFLICT, ErrorCode.CONFLICT]);
    await storage.refuse('c1', 3, ErrorCode.SCHEMA, 'Refused for good.');
    await storage.restoreClients?.(new Map([['c2', { owner: 'owner-2', seq: 4, refused: [] }]]));
    await storage.compact(STORES[0]!, { v: 1 }, 1);
    await waitFor(() => heard.length === STORES.length + 1);
    for (const stop of stops) stop();

    assert.deepEqual(await peer.load(STORES[0]!), { value: { v: 2 }, v: 2 });
    for (const store of STORES.slice(1)) assert.deepEqual(await peer.load(store), { value: { v: 1 }, v: 1 });
    assert.deepEqual(await peer.client('c1'), { owner: 'owner-1', seq: 1, refused: [[3, ErrorCode.SCHEMA, 'Refused for good.']] });
    assert.deepEqual(heard.sort(), [...STORES.map((store) => `${store}@1`), `${STORES[0]}@2`].sort());

    const keys = (await clients[cluster.ports.indexOf(owner)]!.keys('*')).map(String);
    const kinds = new Set(keys.map((key) => /^twin:\{twin\}:(\w+)/.exec(key)?.[1]));
    assert.deepEqual([...kinds].sort(), ['client', 'clients', 'log', 'snap', 'v']);
    for (const key of keys) assert.equal(await slotOf(key), slot, `${key} is in slot ${slot}`);
    const elsewhere = await Promise.all(clients.map(async (client, i) => (cluster.ports[i] === owner ? 0 : client.dbSize())));
    assert.deepEqual(elsewhere, [0, 0, 0]);
    t.diagnostic(`${keys.length} keys, all in slot ${slot} on the node at port ${owner}; untagged, the stores' logs would be in slots ${[...untagged].join(', ')}`);
  });
});

/** The port of the master serving `slot`, from `CLUSTER SLOTS`. */
async function nodeServing(client: Client, slot: number): Promise<number> {
  const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [number, number, [string, number, ...unknown[]]][];
  const range = ranges.find(([start, end]) => Number(start) <= slot && slot <= Number(end));
  assert.ok(range, `slot ${slot} is served`);
  return Number(range[2][1]);
}

function part(store: string, v: number): AppendPart {
  const batch: StoredBatch = { v, ops: [{ op: 'set', path: ['v'], value: v }] };
  return { store, batch };
}

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`The condition was not met within ${WAIT_MS} ms.`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
