// SPDX-License-Identifier: MIT
/**
 * @module presence
 * Presence fan-out (issue #16): N clients in one store, each moving a pointer at 20 Hz, sent
 * as presence (coalesced by the server to one frame per store per 50 ms, never stored) and,
 * in the same run against the same server, as plain store writes (a `set` of `cursors.<i>`
 * per move: committed, logged, broadcast each). Figures per case: the server's CPU (its own
 * process: the clients are in two child processes) and the bytes and frames per second the
 * clients received, i.e. what the server sent (over the moves and a 0.5 s drain after them).
 * Printed, never failed; it exits 0. In the write case each client keeps one write in flight
 * (it skips moves until its last write is confirmed, as a pointer app would): at 1,000 clients
 * the offered 20,000 writes/s, each broadcast to 1,000 readers, are far past what one node
 * commits, so the write row shows what the server managed (moves/s in) and what it cost.
 *
 * Usage: `node --import tsx bench/presence.ts [--quick] [--n=1000] [--hz=20] [--seconds=5]`.
 * `--quick`: 200 clients for 2 s.
 */
import Koa from 'koa';
import { cpus } from 'node:os';
import { defineApp } from '../src/index.js';
import { twin } from '../server/index.js';
import { spawnChild } from './lib/children.js';
import type { MoveResult } from './lib/presence-movers.js';
import { formatNumber, formatRatio, printTable } from './lib/table.js';

const UNLIMITED = 1e9;
const HOST = '127.0.0.1';
const PROCESSES = 2;

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const quick = process.argv.includes('--quick');
const n = option('n', quick ? 200 : 1000);
const hz = option('hz', 20);
const seconds = option('seconds', quick ? 2 : 5);

async function main(): Promise<void> {
  const app = defineApp();
  app.shared('board', () => ({ cursors: {} as Record<string, { x: number; y: number }> }), { persist: false });
  const server = twin(app, {
    // Every client connects from 127.0.0.1: lift the per-address caps and rates.
    limits: { rate: UNLIMITED, burst: UNLIMITED, maxConnections: UNLIMITED, maxConnectionsPerAddress: UNLIMITED, addressRate: UNLIMITED, addressBurst: UNLIMITED },
    presence: { maxPeers: n + 10 },
  });
  const koa = new Koa();
  koa.use(server.middleware());
  const http = koa.listen(0, HOST);
  await new Promise((resolve) => http.once('listening', resolve));
  server.attach(http);
  await server.ready;
  const url = `ws://${HOST}:${(http.address() as { port: number }).port}/_twin/ws`;

  const children = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => spawnChild(new URL('./lib/presence-movers.ts', import.meta.url), `movers-${i}`)));
  const per = Math.ceil(n / PROCESSES);
  await Promise.all(children.map((c, i) => c.call({ cmd: 'connect', url, n: Math.min(per, n - i * per), first: i * per })));
  console.log(`presence fan-out: ${n} clients in one store, each moving at ${hz} Hz for ${seconds} s; ${cpus().length} cores (shared with the clients)`);

  const rows: (string | number)[][] = [];
  const results: Record<string, { cpu: number; bytes: number; frames: number; sent: number; closed: number; skipped: number }> = {};
  for (const mode of ['presence', 'write'] as const) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const parts = await Promise.all(children.map((c) => c.call<MoveResult>({ cmd: 'move', mode, hz, seconds }, 120_000)));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sum = (k: keyof MoveResult) => parts.reduce((s, p) => s + p[k], 0);
    const r = { cpu: (cpu.user + cpu.system) / 1e6 / wall, bytes: sum('bytes') / wall, frames: sum('frames') / wall, sent: sum('sent') / seconds, closed: sum('closed'), skipped: sum('skipped') };
    results[mode] = r;
    const row = [mode === 'presence' ? 'presence (setPresence)' : 'store writes (set)', formatNumber(r.sent, 0), `${formatNumber(r.cpu * 100, 0)} %`,
      `${formatNumber(r.bytes / 1e6, 1)} MB/s`, formatNumber(r.bytes / n / 1e3, 1), formatNumber(r.frames / n, 1),
      // What one move costs on the wire per reader it reaches (each move goes to every client).
      formatNumber(r.bytes / (r.sent * n), 1), String(r.closed)];
    rows.push(row);
    console.log(`  ${mode}: done (${row.join(' · ')})`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  printTable(['traffic', 'moves/s in', 'server CPU', 'bytes out/s', 'kB/s per client', 'frames/s per client', 'B per move per reader', 'dropped'], rows);
  const p = results.presence!;
  const w = results.write!;
  console.log(`offered: ${formatNumber(n * hz, 0)} moves/s; writes skipped while the previous one was unconfirmed: ${formatNumber(w.skipped / seconds, 0)}/s`);
  console.log(`presence vs writes: CPU ${formatRatio(p.cpu / w.cpu)}, bytes ${formatRatio(p.bytes / w.bytes)}, frames ${formatRatio(p.frames / w.frames)}, moves carried ${formatRatio(p.sent / w.sent)}, CPU per move ${formatRatio((p.cpu / p.sent) / (w.cpu / w.sent))}`);

  await Promise.all(children.map((c) => c.call({ cmd: 'close' }).catch(() => undefined)));
  await Promise.all(children.map((c) => c.stop()));
  await server.close();
  await new Promise((resolve) => http.close(resolve));
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
