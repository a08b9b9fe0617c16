// SPDX-License-Identifier: MIT
/**
 * @module bench/soak
 * A hub that runs for months, compressed: churn (each client connects, writes once, leaves) for
 * a fixed count, against a server in a process of its own, printing the server's RSS and heap
 * (after full collections), the bytes its storage holds and its loaded stores at the start, the
 * middle and the end, and after the clients' records could expire (`--ttl`). Then head-of-line
 * blocking: the write latency of store Y, p50/p99, while another client's write to store X runs
 * a 2 s async schema check, beside the same writes with X idle.
 *
 *     node --import tsx bench/soak.ts [--count=20000] [--storage=sqlite|memory|redis] [--concurrency=20] [--ttl=MS] [--quick]
 *
 * `sqlite` uses a temporary file (each commit waits for its fsync, so the pace is the disk's),
 * `redis` a throwaway `redis-server` on loopback.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient as createRedisClient } from 'redis';
import WebSocket from 'ws';
import { startRedis } from '../test/helpers/redis-server.js';
import type { TestRedis } from '../test/helpers/redis-server.js';
import { SLOW_CHECK_MS } from './lib/soak-app.js';

const SERVER = fileURLToPath(new URL('./lib/soak-server.ts', import.meta.url));
const DEFAULT_COUNT = 20_000;
const QUICK_COUNT = 2_000;
const DEFAULT_CONCURRENCY = 20;
/** Longest wait for one churn client's round trip, or one server answer. */
const STEP_TIMEOUT_MS = 10_000;
/** Writes to Y in each latency phase, and the pause between them. */
const Y_WRITES = 40;
const Y_INTERVAL_MS = 50;
const MB = 1 << 20;
/** Progress lines (on stderr) during the churn. */
const PROGRESS_STEPS = 20;

interface Figures {
  rss: number;
  heapUsed: number;
  stores: number;
  connections: number;
}

interface Row extends Figures {
  label: string;
  done: number;
  storageBytes: number | undefined;
}

//#region arguments

const flags = new Map(process.argv.slice(2).map((arg) => {
  const [key, value] = arg.replace(/^--/, '').split('=');
  return [key!, value ?? 'true'] as const;
}));
const count = Number(flags.get('count') ?? (flags.has('quick') ? QUICK_COUNT : DEFAULT_COUNT));
const concurrency = Number(flags.get('concurrency') ?? DEFAULT_CONCURRENCY);
const kind = flags.get('storage') ?? 'sqlite';
const ttl = flags.has('ttl') ? Number(flags.get('ttl')) : undefined;
if (!(count > 0) || !(concurrency > 0) || !['sqlite', 'memory', 'redis'].includes(kind) || (ttl !== undefined && !(ttl > 0))) {
  console.error('Usage: node --import tsx bench/soak.ts [--count=N] [--storage=sqlite|memory|redis] [--concurrency=N] [--ttl=MS] [--quick]');
  process.exit(2);
}

//#endregion arguments
//#region the server process

/** Starts the soak server on `spec`; resolves with its port and a `measure()` of its figures. */
async function startServerProcess(spec: string): Promise<{ port: number; measure(): Promise<Figures>; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SERVER, JSON.stringify({ storage: spec, ...(ttl ? { clientTtlMs: ttl } : {}) })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<unknown> => {
    const line = await withTimeout(lines.next(), 'a line from the server process', 30_000);
    if (line.done) throw new Error('The server process ended.');
    return JSON.parse(line.value as string) as unknown;
  };
  const { port } = (await nextLine()) as { port: number };
  return {
    port,
    async measure() {
      child.stdin!.write('measure\n');
      return (await nextLine()) as Figures;
    },
    async stop() {
      child.stdin!.end();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

//#endregion the server process
//#region clients

/** One churn client: connect, subscribe to the board, add 1, wait for the confirmation, leave. */
async function churnOnce(url: string): Promise<void> {
  const ws = new WebSocket(url);
  const client = randomUUID();
  const id = `${client}:1`;
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
      ws.on('open', () => {
        ws.send(JSON.stringify([
          { t: 'hello', proto: 1, client, subs: { board: 0 } },
          { t: 'op', id, store: 'board', ops: [{ op: 'add', path: ['counter'], delta: 1 }] },
        ]));
      });
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        if (text.includes(`"id":"${id}"`)) {
          if (text.includes('"t":"reject"')) reject(new Error(`refused: ${text.slice(0, 200)}`));
          else resolve();
        }
      });
    }), 'a churn round trip', STEP_TIMEOUT_MS);
  } finally {
    ws.removeAllListeners('close');
    ws.on('error', () => undefined);
    ws.close();
  }
}

/**
 * Latency of writes to Y sent every Y_INTERVAL_MS (without waiting for each other), optionally
 * while a write to X is in its slow check. Resolves with each Y write's round trip in ms.
 */
async function yLatencies(url: string, alongsideSlowX: boolean): Promise<number[]> {
  const ws = new WebSocket(url);
  const client = randomUUID();
  const sent = new Map<string, number>();
  const took: number[] = [];
  let allAcked: () => void;
  const acked = new Promise<void>((resolve) => (allAcked = resolve));
  ws.on('message', (data: Buffer) => {
    const now = performance.now();
    for (const message of [JSON.parse(data.toString())].flat() as { t: string; id?: string }[]) {
      const at = message.id === undefined ? undefined : sent.get(message.id);
      if (at === undefined || message.t !== 'sync') continue;
      took.push(now - at);
      sent.delete(message.id!);
      if (took.length === Y_WRITES) allAcked();
    }
  });
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }), 'the latency client to connect', STEP_TIMEOUT_MS);
  ws.send(JSON.stringify({ t: 'hello', proto: 1, client, subs: { fast_y: 0 } }));
  let seq = 0;
  // Another client writes X: one client's own batches commit in the order it made them (that
  // is what makes re-sends exact), so isolation is between stores of different writers.
  let xWriter: WebSocket | undefined;
  if (alongsideSlowX) {
    xWriter = new WebSocket(url);
    await withTimeout(new Promise((resolve, reject) => {
      xWriter!.once('open', resolve);
      xWriter!.once('error', reject);
    }), 'the X writer to connect', STEP_TIMEOUT_MS);
    const other = randomUUID();
    xWriter.send(JSON.stringify({ t: 'hello', proto: 1, client: other, subs: { slow_x: 0 } }));
    xWriter.send(JSON.stringify({ t: 'op', id: `${other}:1`, store: 'slow_x', ops: [{ op: 'add', path: ['n'], delta: 1 }] }));
  }
  for (let i = 0; i < Y_WRITES; i++) {
    await sleep(Y_INTERVAL_MS);
    const id = `${client}:${++seq}`;
    sent.set(id, performance.now());
    ws.send(JSON.stringify({ t: 'op', id, store: 'fast_y', ops: [{ op: 'add', path: ['n'], delta: 1 }] }));
  }
  await withTimeout(acked, 'every write to Y to be confirmed', SLOW_CHECK_MS * 4);
  ws.close();
  xWriter?.close();
  return took;
}

//#endregion clients
//#region storage

/** Bytes the storage holds now: SQLite's files, Redis's used_memory; undefined for memory (it is in the RSS). */
async function storageBytes(spec: { file?: string; redis?: string }): Promise<number | undefined> {
  if (spec.file) {
    let total = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        total += fs.statSync(spec.file + suffix).size;
      } catch {
        // not there (yet): no bytes
      }
    }
    return total;
  }
  if (spec.redis) {
    const client = createRedisClient({ url: spec.redis });
    await client.connect();
    const info = await client.info('memory');
    await client.quit();
    return Number(/used_memory:(\d+)/.exec(info)?.[1]);
  }
  return undefined;
}

//#endregion storage

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}.`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? 'in RSS' : `${(bytes / MB).toFixed(1)} MB`);

async function main(): Promise<void> {
  let redis: TestRedis | undefined;
  let dir: string | undefined;
  const storage: { spec: string; file?: string; redis?: string } = { spec: 'memory' };
  if (kind === 'sqlite') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-soak-'));
    storage.file = path.join(dir, 'soak.db');
    storage.spec = `sqlite:${storage.file}`;
  } else if (kind === 'redis') {
    redis = await startRedis();
    storage.spec = storage.redis = redis.url;
  }
  const server = await startServerProcess(storage.spec);
  const url = `ws://127.0.0.1:${server.port}/_twin/ws`;
  const rows: Row[] = [];
  const record = async (label: string, done: number) => {
    const figures = await server.measure();
    rows.push({ label, done, ...figures, storageBytes: await storageBytes(storage) });
  };
  try {
    console.log(`Soak: ${count.toLocaleString('en')} clients, each connects, writes once and leaves, ${concurrency} at a time; storage ${kind}${ttl ? `, client records expire after ${ttl} ms` : ''}. Node ${process.version}, ${os.cpus().length} cores.`);
    await record('start', 0);
    let next = 0;
    let done = 0;
    let failed = 0;
    let middleTaken: Promise<void> | undefined;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await churnOnce(url).catch((err: unknown) => {
          if (++failed <= 3) console.error(`  a churn client failed: ${(err as Error).message}`);
        });
        done++;
        if (done === Math.floor(count / 2)) middleTaken = record('middle', done);
        if (done % Math.max(1, Math.floor(count / PROGRESS_STEPS)) === 0) {
          process.stderr.write(`  ${done.toLocaleString('en')} clients, ${Math.round(done / ((performance.now() - started) / 1000))}/s\r`);
        }
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write('\n');
    await middleTaken;
    await sleep(1_000); // the last sockets close on the server too
    await record('end', done);
    if (ttl) {
      await sleep(ttl + 2_000); // the records expire; sweeps run on writes and on a timer
      await churnOnce(url).catch(() => undefined); // one write, which prunes too
      await record(`end + ${((ttl + 2_000) / 1000).toFixed(0)} s`, done + 1);
    }
    console.log(`${done.toLocaleString('en')} clients in ${seconds.toFixed(1)} s (${Math.round(done / seconds).toLocaleString('en')}/s), ${failed} failed.\n`);
    console.log('point            clients   RSS        heap       storage    stores  connections');
    console.log('---------------  --------  ---------  ---------  ---------  ------  -----------');
    for (const row of rows) {
      console.log(`${row.label.padEnd(15)}  ${String(row.done).padStart(8)}  ${mb(row.rss).padStart(9)}  ${mb(row.heapUsed).padStart(9)}  ${mb(row.storageBytes).padStart(9)}  ${String(row.stores).padStart(6)}  ${String(row.connections).padStart(11)}`);
    }

    const baseline = await yLatencies(url, false);
    const blocked = await yLatencies(url, true);
    console.log(`\nWrites to Y (${Y_WRITES}, one every ${Y_INTERVAL_MS} ms), round trip:`);
    console.log(`  X idle:                              p50 ${percentile(baseline, 50).toFixed(1)} ms, p99 ${percentile(baseline, 99).toFixed(1)} ms`);
    console.log(`  X in a ${SLOW_CHECK_MS / 1000} s async schema check:        p50 ${percentile(blocked, 50).toFixed(1)} ms, p99 ${percentile(blocked, 99).toFixed(1)} ms`);
  } finally {
    await server.stop();
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
