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
 * Printed per backend: the median of 3 closed-loop runs (and their range), its ratio to memory,
 * the server's CPU per batch, and the acknowledgement latency p50/p99 of an open-loop run at
 * half that rate.
 *
 *     node --import tsx bench/commits.ts      # BENCH_BATCHES=N for the size of a run,
 *                                             # BENCH_ONLY=sqlite,redis for some backends
 */
import os from 'node:os';
import { defineFixtureApp } from '../test/fixtures/app.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import type { Backend } from './lib/backends.js';
import { withBackends } from './lib/backends.js';
import { spawnChild } from './lib/children.js';
import type { LoadResult } from './lib/commit-load.js';
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
}

async function main(): Promise<void> {
  await withBackends('bench/commits', 'commits:', WATCHDOG_MS, async (backends) => {
    console.log(`commit benchmark: ${CLIENTS} clients × ${IN_FLIGHT} in flight, own stores, ${BATCHES} batches per run, median of ${RUNS}; load in a child process; node ${process.version}, ${os.cpus().length} CPUs`);
    const rows: Row[] = [];
    const only = process.env['BENCH_ONLY']?.split(',');
    for (const backend of backends) if (!only || only.includes(backend.name)) rows.push(await measure(backend));
    const memory = rows[0]!;
    printTable(['backend', 'acknowledged batches/s', 'runs', '× memory', 'server CPU per batch', 'at half rate: p50 / p99'], rows.map((row) => [
      row.backend,
      Math.round(median(row.rates)).toLocaleString('en-US'),
      `${Math.round(Math.min(...row.rates)).toLocaleString('en-US')}–${Math.round(Math.max(...row.rates)).toLocaleString('en-US')}`,
      memory.backend === 'memory' ? `${(median(row.rates) / median(memory.rates)).toFixed(2)}×` : '',
      `${row.cpuPerBatch.toFixed(1)} µs`,
      `${Math.round(row.halfRate).toLocaleString('en-US')}/s: ${row.p50.toFixed(1)} / ${row.p99.toFixed(1)} ms`,
    ]));
  });
}

async function measure(backend: Backend): Promise<Row> {
  const storage = await backend.open();
  const fixture = defineFixtureApp();
  fixture.app.shared('doc', () => ({ n: 0 }), { family: true });
  let server: TestServer | undefined;
  const load = await spawnChild(new URL('./lib/commit-load.ts', import.meta.url), `load-${backend.name}`);
  try {
    server = await startServer(fixture.app, { storage, limits: UNLIMITED });
    await load.call({ cmd: 'open', url: server.url, clients: CLIENTS });
    const run = async (command: { batches: number; rate?: number }): Promise<LoadResult> => {
      const result = await load.call<LoadResult>({ cmd: 'run', inFlight: IN_FLIGHT, ...command }, RUN_TIMEOUT_MS);
      if (result.refused > 0 || result.acked !== command.batches) throw new Error(`${backend.name}: ${result.acked} of ${command.batches} acknowledged, ${result.refused} refused.`);
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
    const timed = await run({ batches: Math.round(halfRate * LATENCY_SECONDS), rate: halfRate });
    process.stdout.write(`  ${backend.name}: done\n`);
    return {
      backend: backend.name,
      rates,
      cpuPerBatch: (cpu.user + cpu.system) / (RUNS * BATCHES),
      halfRate,
      p50: percentile(timed.latencies, 50),
      p99: percentile(timed.latencies, 99),
    };
  } finally {
    await load.call({ cmd: 'close' }).catch(() => {});
    await load.stop();
    await server?.close();
    await storage.close();
  }
}

await main();
