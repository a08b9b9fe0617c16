// SPDX-License-Identifier: MIT
/**
 * @module bench/commits
 * How many client batches a server acknowledges per second, per storage backend, with the load
 * in another process: 100 raw `ws` clients (bench/lib/commit-load.ts), each keeping 20 batches
 * in flight to a store of its own, against a server in this process over `memory`, `sqlite`
 * (a temp file, WAL, synchronous = FULL) and `redis` (a throwaway redis-server on loopback).
 * A batch counts when its sender has the server's `sync` for it, which the server sends only
 * once the batch is durable. Memory is the reference: what the server does without storage.
 *
 * The first row is the ceiling: a plain `ws` server that only parses each batch and answers it
 * (bench/lib/plain-ack-server.ts), against the same load. On two cores shared with the load
 * process, no server can acknowledge faster than that.
 *
 * Printed per backend: the median of 3 closed-loop runs (and their range), its ratio to the
 * plain server and to memory, the server's CPU per batch, and the acknowledgement latency
 * p50/p99 of an open-loop run at half that rate, with how long the server's thread waited for a
 * core meanwhile (bench/lib/cpu-wait.ts): on two shared cores the tail is mostly that wait.
 *
 *     node --import tsx bench/commits.ts      # BENCH_BATCHES=N for the size of a run,
 *                                             # BENCH_ONLY=sqlite,redis for some backends
 */
import os from 'node:os';
import { defineFixtureApp } from '../test/fixtures/app.js';
import { startServer } from '../test/helpers/server.js';
import type { Backend } from './lib/backends.js';
import { withBackends } from './lib/backends.js';
import { spawnChild } from './lib/children.js';
import type { LoadResult } from './lib/commit-load.js';
import { measureCpuWait } from './lib/cpu-wait.js';
import { startPlainAckServer } from './lib/plain-ack-server.js';
import { median, percentile } from './lib/stats.js';
import { printTable } from './lib/table.js';

const CLIENTS = 100;
const IN_FLIGHT = 20;
const BATCHES = Number(process.env['BENCH_BATCHES'] ?? 40_000);
const RUNS = 3;
/** The open-loop run lasts about this long. */
const LATENCY_SECONDS = 3;
const WATCHDOG_MS = 300_000;
const RUN_TIMEOUT_MS = 120_000;
const UNLIMITED = { rate: 1e9, burst: 1e9, maxConnectionsPerAddress: 1_000 };


interface Row {
  readonly backend: string;
  readonly rates: number[];
  /** Server CPU (user + system) per acknowledged batch, µs, over the closed-loop runs. */
  readonly cpuPerBatch: number;
  readonly halfRate: number;
  readonly p50: number;
  readonly p99: number;
  /** During the open-loop run: how long the server's thread ran and how long it waited for a core, ms. */
  readonly cpu?: { ranMs: number; waitedMs: number } | undefined;
}

async function main(): Promise<void> {
  await withBackends('bench/commits', 'commits:', WATCHDOG_MS, async (backends) => {
    console.log(`commit benchmark: ${CLIENTS} clients × ${IN_FLIGHT} in flight, own stores, ${BATCHES} batches per run, median of ${RUNS}; load in a child process; node ${process.version}, ${os.cpus().length} CPUs`);
    const rows: Row[] = [await measure('plain ws (ack only)', startPlainAckServer)];
    const only = process.env['BENCH_ONLY']?.split(',');
    for (const backend of backends) if (!only || only.includes(backend.name)) rows.push(await measureTwin(backend));
    const ratio = (row: Row, to: Row | undefined) => (to ? `${(median(row.rates) / median(to.rates)).toFixed(2)}×` : '');
    const plain = rows[0];
    const memory = rows.find((row) => row.backend === 'memory');
    printTable(['server', 'acknowledged batches/s', 'runs', '× plain ws', '× memory', 'server CPU per batch', 'at half rate: p50 / p99', 'server ran / waited for a core'], rows.map((row) => [
      row.backend,
      Math.round(median(row.rates)).toLocaleString('en-US'),
      `${Math.round(Math.min(...row.rates)).toLocaleString('en-US')}–${Math.round(Math.max(...row.rates)).toLocaleString('en-US')}`,
      ratio(row, plain),
      ratio(row, memory),
      `${row.cpuPerBatch.toFixed(1)} µs`,
      `${Math.round(row.halfRate).toLocaleString('en-US')}/s: ${row.p50.toFixed(1)} / ${row.p99.toFixed(1)} ms`,
      row.cpu ? `${Math.round(row.cpu.ranMs)} / ${Math.round(row.cpu.waitedMs)} ms` : 'n/a',
    ]));
    console.log(`The last column covers the ${LATENCY_SECONDS} s at half rate: time the server's thread was ready to run but sat behind other processes is latency no server code can remove.`);
  });
}

/** A twin server on `backend`, with a family of stores the load's clients each write one of. */
async function measureTwin(backend: Backend): Promise<Row> {
  const storage = await backend.open();
  try {
    return await measure(backend.name, () => {
      const fixture = defineFixtureApp();
      fixture.app.shared('doc', () => ({ n: 0 }), { family: true });
      return startServer(fixture.app, { storage, limits: UNLIMITED });
    });
  } finally {
    await storage.close();
  }
}

/** The load against the server `start` starts in this process: closed-loop runs, then the latency at half rate. */
async function measure(name: string, start: () => Promise<{ url: string; close(): Promise<void> }>): Promise<Row> {
  let server: { url: string; close(): Promise<void> } | undefined;
  const load = await spawnChild(new URL('./lib/commit-load.ts', import.meta.url), `load-${name}`);
  try {
    server = await start();
    await load.call({ cmd: 'open', url: server.url, clients: CLIENTS });
    const run = async (command: { batches: number; rate?: number }): Promise<LoadResult> => {
      const result = await load.call<LoadResult>({ cmd: 'run', inFlight: IN_FLIGHT, ...command }, RUN_TIMEOUT_MS);
      if (result.refused > 0 || result.acked !== command.batches) throw new Error(`${name}: ${result.acked} of ${command.batches} acknowledged, ${result.refused} refused.`);
      return result;
    };
    await run({ batches: BATCHES / 4 }); // warm-up: JIT, the stores' first commits, the SQLite file
    const rates: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < RUNS; i++) {
      const result = await run({ batches: BATCHES });
      rates.push(result.acked / result.seconds);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const halfRate = median(rates) / 2;
    const cpuWait = measureCpuWait();
    const timed = await run({ batches: Math.round(halfRate * LATENCY_SECONDS), rate: halfRate });
    const waited = cpuWait?.();
    process.stdout.write(`  ${name}: done\n`);
    return {
      backend: name,
      rates,
      cpuPerBatch: (cpu.user + cpu.system) / (RUNS * BATCHES),
      halfRate,
      p50: percentile(timed.latencies, 50),
      p99: percentile(timed.latencies, 99),
      cpu: waited,
    };
  } finally {
    await load.call({ cmd: 'close' }).catch(() => {});
    await load.stop();
    await server?.close();
  }
}

await main();
