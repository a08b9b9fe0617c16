// SPDX-License-Identifier: MIT
/**
 * @module bench/storage
 * What each storage backend costs a server, in one run: committed batches per second for
 * `memory`, `sqlite` (a temp file, WAL, synchronous = FULL) and `redis` (a throwaway
 * redis-server on loopback), measured two ways —
 *
 * - **client**: one client (`createClient` over `ws`) sends small batches (an increment and a
 *   set) with 20 in flight, to an in-process server; a batch counts once its sender has the
 *   server's confirmation;
 * - **server code**: code on the server writes in a loop, one batch per turn, awaiting
 *   `settled()` every 100 batches (the hub's own rate, no network);
 *
 * each the median of 3 runs after an uncounted warm-up; plus the latency, p50 and p99, from a client's write on node A
 * to its receipt by a client of node B (two in-process nodes on one Redis), next to the same
 * write's receipt by another client of node A (the reference: no cross-node hop).
 *
 *     node --import tsx bench/storage.ts        # BENCH_BATCHES=N to change the run size
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { increment, settled, subscribe } from '../src/index.js';
import type { StorageAdapter } from '../server/index.js';
import { createRedisStorage } from '../server/storage-redis.js';
import { BOARD, defineFixtureApp } from '../test/fixtures/app.js';
import type { Board } from '../test/fixtures/app.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import type { Backend } from './lib/backends.js';
import { withBackends } from './lib/backends.js';

/** Batches per throughput run. */
const BATCHES = Number(process.env['BENCH_BATCHES'] ?? 2_000);
/** Batches a client keeps in flight. */
const IN_FLIGHT = 20;
/** Server code awaits `settled()` every this many batches. */
const SETTLE_EVERY = 100;
const RUNS = 3;
/** Batches of an uncounted first run of each kind (JIT, connections, the SQLite file). */
const WARMUP_BATCHES = 200;
/** Cross-node latency samples, after a warm-up. */
const LATENCY_SAMPLES = 300;
const LATENCY_WARMUP = 30;
/** How long one write may take to arrive before the benchmark gives up. */
const RECEIPT_TIMEOUT_MS = 5_000;
/** The whole benchmark is stopped after this long, whatever happens. */
const WATCHDOG_MS = 240_000;
/** The rate limit is for abusive clients, not for a benchmark. */
const UNLIMITED = { rate: 1e9, burst: 1e9, maxConnectionsPerAddress: 1_000 };


interface Row {
  backend: string;
  client: number[];
  server: number[];
  /** {@link CLIENTS} clients, each writing a store of its own with {@link IN_FLIGHT} in flight. */
  many: number[];
}

/** Clients of the many-stores run, each with a store of its own (`doc/<i>`). */
const CLIENTS = 100;

async function main(): Promise<void> {
  await withBackends('bench/storage', 'bench:', WATCHDOG_MS, async (backends, url) => {
    console.log(`storage benchmark: ${BATCHES} batches per run, median of ${RUNS}; node ${process.version}, ${os.cpus().length} CPUs`);
    const rows: Row[] = [];
    for (const backend of backends) rows.push(await throughput(backend));
    const latency = await crossNodeLatency(url);
    printTable(rows, latency);
  });
}

//#region throughput

/** Runs the client and server-code measurements on one server over `backend`. */
async function throughput(backend: Backend): Promise<Row> {
  const storage = await backend.open();
  const fixture = defineFixtureApp();
  let server: TestServer | undefined;
  try {
    fixture.app.shared('doc', () => ({ n: 0 }), { family: true });
    server = await startServer(fixture.app, { storage, limits: UNLIMITED });
    const client = server.client();
    const board = client.store<Board>(BOARD);
    await until(() => Array.isArray(board.items), `a client of the ${backend.name} server to get the board`);
    const row: Row = { backend: backend.name, client: [], server: [], many: [] };
    await serverRun(fixture.board, WARMUP_BATCHES);
    // The client counts its own batches by the counter: let the server code's arrive first.
    await until(() => board.counter === fixture.board.counter, 'the client to catch up with the server');
    await clientRun(board, WARMUP_BATCHES);
    for (let run = 0; run < RUNS; run++) row.client.push(await clientRun(board, BATCHES));
    for (let run = 0; run < RUNS; run++) row.server.push(await serverRun(fixture.board, BATCHES));
    const writers = await manyWriters(server);
    await manyRun(writers, WARMUP_BATCHES);
    for (let run = 0; run < RUNS; run++) row.many.push(await manyRun(writers, BATCHES * 5));
    process.stdout.write(`  ${backend.name}: done\n`);
    return row;
  } finally {
    await server?.close();
    await storage.close();
  }
}

/** One client sends `n` batches with {@link IN_FLIGHT} in flight; batches per second until the last is confirmed. */
async function clientRun(board: Board, n: number): Promise<number> {
  const before = board.counter;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    increment(board, 'counter');
    board.last = `c${i}`;
    inFlight.push(settled(board));
    await Promise.resolve(); // ends the turn: the next write is a batch of its own
    if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const rate = n / ((performance.now() - start) / 1000);
  check(board.counter === before + n, `the client run committed ${board.counter - before} of ${n} batches`);
  return rate;
}

/** {@link CLIENTS} clients of `server`, each with its own store, loaded. */
async function manyWriters(server: TestServer): Promise<{ n: number }[]> {
  const stores = Array.from({ length: CLIENTS }, (_, i) => server.client().store<{ n: number }>(`doc/w${i}`));
  await until(() => stores.every((s) => typeof s.n === 'number'), 'every writer to get its store', 30_000);
  return stores;
}

/**
 * `n` batches in all from the {@link CLIENTS} writers, each keeping {@link IN_FLIGHT} in flight
 * to its own store; batches per second until the last is confirmed. Commits to different
 * stores run at once: what storage can make durable together shows here.
 */
async function manyRun(stores: { n: number }[], n: number): Promise<number> {
  const per = Math.ceil(n / stores.length);
  const start = performance.now();
  await Promise.all(stores.map(async (store) => {
    const before = store.n;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < per; i++) {
      increment(store, 'n');
      inFlight.push(settled(store));
      await Promise.resolve();
      if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
    check(store.n === before + per, `a writer committed ${store.n - before} of ${per} batches`);
  }));
  return (per * stores.length) / ((performance.now() - start) / 1000);
}

/** Server code writes `n` batches, awaiting `settled()` every {@link SETTLE_EVERY}; batches per second. */
async function serverRun(board: Board, n: number): Promise<number> {
  const before = board.counter;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    increment(board, 'counter');
    board.last = `s${i}`;
    await Promise.resolve();
    if ((i + 1) % SETTLE_EVERY === 0) await settled(board);
  }
  await settled(board);
  const rate = n / ((performance.now() - start) / 1000);
  check(board.counter === before + n, `the server-code run committed ${board.counter - before} of ${n} batches`);
  return rate;
}

//#endregion throughput
//#region latency

interface Latency {
  crossNode: number[];
  sameNode: number[];
}

/**
 * Two nodes on one Redis; a client of A writes, one after another, and we time when a client
 * of B and another client of A see each write.
 */
async function crossNodeLatency(url: string): Promise<Latency> {
  const storages: StorageAdapter[] = [];
  const servers: TestServer[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const storage = await createRedisStorage(url, { prefix: 'latency:' });
      storages.push(storage);
      servers.push(await startServer(defineFixtureApp().app, { storage, limits: UNLIMITED }));
    }
    const [a, b] = servers as [TestServer, TestServer];
    const writer = a.client().store<Board>(BOARD);
    const peerOnA = a.client().store<Board>(BOARD);
    const onB = b.client().store<Board>(BOARD);
    await until(() => [writer, peerOnA, onB].every((s) => Array.isArray(s.items)), 'the latency clients to get the board');

    const result: Latency = { crossNode: [], sameNode: [] };
    for (let i = 0; i < LATENCY_WARMUP + LATENCY_SAMPLES; i++) {
      const tag = `ping-${i}`;
      const seenOnB = receipt(onB, tag);
      const seenOnA = receipt(peerOnA, tag);
      const start = performance.now();
      writer.last = tag;
      const [atB, atA] = await Promise.all([seenOnB, seenOnA]);
      if (i < LATENCY_WARMUP) continue;
      result.crossNode.push(atB - start);
      result.sameNode.push(atA - start);
    }
    return result;
  } finally {
    await Promise.allSettled(servers.map((s) => s.close()));
    await Promise.allSettled(storages.map((s) => s.close()));
  }
}

/** Resolves with the time at which `board.last` becomes `tag` (it is checked on every change). */
function receipt(board: Board, tag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`The write ${tag} did not arrive within ${RECEIPT_TIMEOUT_MS} ms.`));
    }, RECEIPT_TIMEOUT_MS);
    const stop = subscribe(board, () => {
      if (board.last !== tag) return;
      const at = performance.now();
      clearTimeout(timer);
      stop();
      resolve(at);
    });
  });
}

//#endregion latency
//#region output

function printTable(rows: Row[], latency: Latency): void {
  const fmt = (rate: number) => Math.round(rate).toLocaleString('en-US');
  const range = (values: number[]) => `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
  const header = ['backend', 'client, 20 in flight (batches/s)', 'runs', 'server code (batches/s)', 'runs', `${CLIENTS} clients, own stores (batches/s)`, 'runs'];
  const body = rows.map((r) => [r.backend, fmt(median(r.client)), range(r.client), fmt(median(r.server)), range(r.server), fmt(median(r.many)), range(r.many)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log();
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const cells of body) console.log(line(cells));
  const memory = rows.find((r) => r.backend === 'memory');
  if (memory) {
    console.log(`\nrelative to memory (client / server code / ${CLIENTS} clients): ${rows.filter((r) => r !== memory)
      .map((r) => `${r.backend} ${(median(r.client) / median(memory.client)).toFixed(2)}× / ${(median(r.server) / median(memory.server)).toFixed(2)}× / ${(median(r.many) / median(memory.many)).toFixed(2)}×`).join(', ')}`);
  }
  const ms = (values: number[], p: number) => `${percentile(values, p).toFixed(2)} ms`;
  console.log(`\nlatency of a client's write on node A (redis, ${latency.crossNode.length} writes, one at a time):`);
  console.log(`  to a client of node B:            p50 ${ms(latency.crossNode, 50)}, p99 ${ms(latency.crossNode, 99)}`);
  console.log(`  to another client of node A (ref): p50 ${ms(latency.sameNode, 50)}, p99 ${ms(latency.sameNode, 99)}`);
}

function median(values: number[]): number {
  return percentile(values, 50);
}

/** The `p`th percentile (nearest rank). */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

//#endregion output

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`bench/storage: ${message}.`);
}

async function until(condition: () => boolean, what: string, timeoutMs = RECEIPT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`bench/storage: timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

await main();
