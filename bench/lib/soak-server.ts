// SPDX-License-Identifier: MIT
/**
 * @module bench/lib/soak-server
 * The server `bench/soak.ts` measures, in a process of its own so that the figures are the
 * server's alone: `node --expose-gc --import tsx bench/lib/soak-server.ts '<json>'` with
 * `{ storage, clientTtlMs? }`. It prints `{"port":…}` once it listens, then answers each
 * `measure` line on stdin with its memory after full collections, loaded stores and open
 * connections, as one JSON line.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import Koa from 'koa';
import { createStorage, twin } from '../../server/index.js';
import { app } from './soak-app.js';

const GC_ROUNDS = 3;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('Run the soak server with node --expose-gc.');
const { storage: spec, clientTtlMs } = JSON.parse(process.argv[2] ?? '{}') as { storage: string; clientTtlMs?: number };
const storage = await createStorage(spec, clientTtlMs ? { clientTtlMs } : {});
const server = twin(app, {
  storage,
  // Every churning client comes from 127.0.0.1 as fast as it can: lift the per-address limits.
  limits: { maxConnectionsPerAddress: 10_000, addressRate: 1e9, addressBurst: 1e9 },
  logger: { warn: (...args: unknown[]) => console.error(...args), error: (...args: unknown[]) => console.error(...args) },
});
const koa = new Koa();
koa.use(server.middleware());
const http = koa.listen(0, '127.0.0.1');
await once(http, 'listening');
server.attach(http);
await server.ready;
process.stdout.write(`${JSON.stringify({ port: (http.address() as AddressInfo).port })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'measure') continue;
  for (let i = 0; i < GC_ROUNDS; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { rss, heapUsed } = process.memoryUsage();
  let stores = 0;
  for (const _store of server.hub.loaded()) stores++;
  process.stdout.write(`${JSON.stringify({ rss, heapUsed, stores, connections: server.connectionCount })}\n`);
}
await server.close();
await storage.close();
http.close();
