// SPDX-License-Identifier: MIT
/**
 * @module fanout
 * Fan-out benchmark (README.md Benchmarks): one writer, N subscribers on loopback, M updates. Three
 * servers in the same run relay the same bytes per update (a chat message pushed to a list:
 * a ~116-byte op in a ~170-byte `sync` message):
 *
 * 1. twin — Koa + `twin(app)`; the writer is a twin client (`createClient`) pushing to a
 *    shared list; the receivers are raw `ws` clients speaking the protocol (`hello`, `sub`).
 * 2. ws one-frame — a plain `ws` server relaying each update as its own frame.
 * 3. ws coalesced — a plain `ws` server sending one frame per client per tick.
 *
 * Figures: delivered messages per second (all clients, first send to last receipt) and p50/p99
 * latency from an update's send to its receipt by the LAST client, medians over repetitions,
 * and the ratios the issue sets as targets (twin ≥ 3× one-frame, ≥ 0.8× coalesced). A miss
 * is printed, never failed: this is a benchmark, and it exits 0.
 *
 * The offered load (updates/s × N) is above what any of the servers delivers here, so each
 * runs at capacity and the latencies include queueing. Uncounted warm-up rounds per server
 * and N also measure its capacity. Twin always gets the full M (its cost per update grows with
 * the list it appends to); a plain relay too slow to get through M updates in
 * {@link MAX_WORK_SECONDS} gets fewer at the same rate (it keeps no state, so M only sets how
 * long it runs), so every case stops within seconds.
 *
 * The servers run in this process; the receivers in two child processes, the writer in a
 * third, so the server does not also do the client work. They all share the machine's cores.
 *
 * Usage: `node --import tsx bench/fanout.ts [--quick] [--n=100,1000] [--reps=3]
 * [--only=twin,frame,coalesce] [--duration=1.5] [--offered=1000000] [--verify]
 * [--twin-writer=client|raw] [--child-prof=DIR]`. `--twin-writer=raw` makes the twin writer a
 * raw `ws` client sending protocol `op` frames instead of the twin client (the same server
 * work without the client library's CPU); `--child-prof` writes CPU profiles of the load
 * processes to DIR (run node with `--cpu-prof` to profile the servers).
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { chatMessage, pushOp, syncText } from './lib/chat-payload.js';
import { spawnChild } from './lib/children.js';
import { canRaiseHardLimit, fileLimits } from './lib/fd-limit.js';
import { MAX_BURST, runCase } from './lib/fanout-case.js';
import type { CaseResult, Peers } from './lib/fanout-case.js';
import { startPlainServer, startTwinServer } from './lib/fanout-servers.js';
import type { BenchServer, ServerKind } from './lib/fanout-servers.js';
import { median } from './lib/stats.js';
import { formatNumber, formatRatio, printTable } from './lib/table.js';

//#region settings

/** Subscriber counts of a full run. */
const FULL_NS = [100, 1000, 5000];
/** Repetitions per case (the median is quoted). */
const FULL_REPS = 3;
/** Seconds the writer sends per case (full run, quick run). */
const FULL_DURATION = 1.5;
const QUICK_DURATION = 0.3;
/**
 * Deliveries per second offered (updates/s × N): above what any of the three servers
 * delivers on a 2-core machine, so each runs at capacity; over {@link FULL_DURATION} that
 * is 1.5 M deliveries, about 2 s of work for the fastest.
 */
const OFFERED_DELIVERIES = 1_000_000;
/**
 * A plain relay whose warm-up rate says M updates would take longer than this gets fewer
 * (the one-frame relay needs ~20× the time of the others)...
 */
const MAX_WORK_SECONDS = 5;
/** ...enough for this long at its warm-up rate. */
const WORK_SECONDS = 2.5;
/** Uncounted warm-up rounds per server and N (JIT, sockets); the last one measures capacity. */
const WARMUP_ROUNDS = 2;
/** Deliveries in a warm-up round. */
const WARMUP_DELIVERIES = 150_000;
/** Bounds on updates per case. */
const MIN_UPDATES = 20;
const MAX_UPDATES = 20_000;
/** More repetitions of one row are skipped once they would take longer than this; one always runs. */
const ROW_BUDGET_MS = 20_000;
/** Receiver processes. */
const RECEIVER_PROCESSES = 2;
/** File descriptors this process needs besides one per client. */
const FD_HEADROOM = 256;
/**
 * The run warns that other work skews its figures when the load average passes the cores
 * plus this run's own busy processes (server, receivers, writer) by this much.
 */
const BUSY_MARGIN = 1;
/** Targets of the issue. */
const TARGET_VS_FRAME = 3;
const TARGET_VS_COALESCE = 0.8;

const LABELS: Record<ServerKind, string> = {
  twin: 'twin (Koa + twin)',
  frame: 'ws one-frame/update',
  coalesce: 'ws coalesced/tick',
};

interface Settings {
  readonly ns: number[];
  readonly reps: number;
  readonly duration: number;
  readonly offered: number;
  readonly kinds: ServerKind[];
  readonly verify: boolean;
  readonly childProf: string | undefined;
  readonly twinWriter: 'twin' | 'twin-raw';
}

function parseArgs(argv: readonly string[]): Settings {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([\w-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new TypeError(`Unknown argument ${JSON.stringify(arg)}; see the usage at the top of bench/fanout.ts.`);
    flags.set(match[1]!, match[2] ?? 'true');
  }
  const known = new Set(['quick', 'n', 'reps', 'only', 'duration', 'offered', 'verify', 'child-prof', 'twin-writer']);
  for (const name of flags.keys()) {
    if (!known.has(name)) throw new TypeError(`Unknown option --${name}; see the usage at the top of bench/fanout.ts.`);
  }
  const quick = flags.has('quick');
  const number = (name: string, fallback: number) => {
    const value = flags.has(name) ? Number(flags.get(name)) : fallback;
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`--${name} must be a positive number, not ${JSON.stringify(flags.get(name))}.`);
    return value;
  };
  const ns = flags.has('n') ? flags.get('n')!.split(',').map(Number) : quick ? [100] : FULL_NS;
  if (!ns.every((n) => Number.isSafeInteger(n) && n > 0)) throw new RangeError(`--n must list positive integers, not ${JSON.stringify(flags.get('n'))}.`);
  const kinds = (flags.get('only')?.split(',') ?? ['twin', 'frame', 'coalesce']) as ServerKind[];
  if (!kinds.every((k) => k in LABELS)) throw new RangeError(`--only must list twin, frame or coalesce, not ${JSON.stringify(flags.get('only'))}.`);
  const twinWriter = flags.get('twin-writer') ?? 'client';
  if (twinWriter !== 'client' && twinWriter !== 'raw') throw new RangeError(`--twin-writer must be client or raw, not ${JSON.stringify(twinWriter)}.`);
  return {
    ns,
    reps: Math.round(number('reps', quick ? 1 : FULL_REPS)),
    duration: number('duration', quick ? QUICK_DURATION : FULL_DURATION),
    offered: number('offered', OFFERED_DELIVERIES),
    kinds,
    verify: flags.has('verify'),
    childProf: flags.get('child-prof'),
    twinWriter: twinWriter === 'raw' ? 'twin-raw' : 'twin',
  };
}

/** Open files this process needs for N clients on each of `servers` servers at once. */
function filesNeeded(n: number, servers: number): number {
  return n * servers + FD_HEADROOM;
}

//#endregion settings

//#region one N

interface Row {
  readonly kind: ServerKind;
  readonly m: number;
  readonly runs: CaseResult[];
  /** Why there are no runs (clients could not connect, a failure). */
  readonly skipped?: string;
  readonly notes: string[];
}

/** Splits `n` clients over the receiver processes. */
function shares(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

function describe(result: CaseResult): string {
  const cpu = result.cpu;
  return `${formatNumber(result.rate)} msgs/s, p50 ${formatNumber(result.p50)} ms, p99 ${formatNumber(result.p99)} ms, M ${result.m}, sent in ${result.sendSeconds.toFixed(2)} s, `
    + `${formatNumber(result.frames / result.n)} frames/client, CPU s: server ${cpu.server.toFixed(2)} receivers ${cpu.receivers.toFixed(2)} writer ${cpu.writer.toFixed(2)}`
    + (result.problems.length ? ` (${result.problems.join('; ')})` : '');
}

/** Per server: its row, and what deciding on more repetitions needs. */
interface RowState {
  readonly server: BenchServer;
  m: number;
  runs: CaseResult[];
  notes: string[];
  skipped?: string;
  /** Time spent in its counted repetitions. */
  spent: number;
  /** No more repetitions (time budget, timeout, failure). */
  done: boolean;
  previous: string | undefined;
}

/**
 * Measures every server at one N: connects N clients to each (all stay connected), warms each
 * up (which also sizes its M), then runs the repetitions in turns — twin, one-frame,
 * coalesced, twin, … — so a change in the machine's load mid-run touches every server alike.
 */
async function runN(peers: Peers, servers: readonly BenchServer[], n: number, m: number, rate: number, settings: Settings): Promise<Row[]> {
  const states: RowState[] = servers.map((server) => ({ server, m, runs: [], notes: [], spent: 0, done: false, previous: undefined }));
  const counts = shares(n, peers.receivers.length);
  try {
    for (const state of states) {
      const { kind, url } = state.server;
      const connecting = performance.now();
      await peers.writer.call({ cmd: 'connect', group: kind, kind: kind === 'twin' ? settings.twinWriter : 'plain', url });
      const tag = `${kind}${n}-${Math.random().toString(36).slice(2, 8)}`;
      const connected = await Promise.all(peers.receivers.map((r, i) => r.call<{ connected: number; error?: string }>(
        { cmd: 'connect', group: kind, url, count: counts[i], kind: kind === 'twin' ? 'twin' : 'plain', tag: `${tag}-${i}` }, 180_000)));
      const total = connected.reduce((sum, c) => sum + c.connected, 0);
      const error = connected.find((c) => c.error)?.error;
      console.log(`  [${kind}] ${total}/${n} clients connected in ${((performance.now() - connecting) / 1000).toFixed(1)} s${error ? ` (${error})` : ''}`);
      if (total < n) {
        state.skipped = `only ${total} of ${n} clients could connect: ${error ?? 'unknown reason'}`;
        state.done = true;
      }
    }
    // Warm-up rounds: the JIT and the sockets get going; not counted; the last measures capacity.
    const warmM = Math.max(MIN_UPDATES, Math.min(m, Math.round(WARMUP_DELIVERIES / n)));
    for (const state of states.filter((s) => !s.done)) {
      const kind = state.server.kind;
      try {
        let warm: CaseResult | undefined;
        for (let round = 1; round <= WARMUP_ROUNDS; round++) {
          const store = `room/n${n}w${round}`;
          warm = await runCase(peers, { server: state.server, store, previous: state.previous, n, m: warmM, rate, verify: settings.verify });
          state.previous = store;
        }
        console.log(`  [${kind}] warm-up: ${describe(warm!)}`);
        if (kind !== 'twin' && (n * m) / warm!.rate > MAX_WORK_SECONDS) {
          state.m = Math.max(MIN_UPDATES, Math.round((warm!.rate * WORK_SECONDS) / n));
          state.notes.push(`M cut to ${state.m} (~${WORK_SECONDS} s at its warm-up rate)`);
        }
      } catch (err) {
        state.skipped = `warm-up failed: ${(err as Error).message.split('\n')[0]}`;
        state.done = true;
      }
    }
    for (let rep = 1; rep <= settings.reps; rep++) {
      for (const state of states) {
        if (state.done) continue;
        const kind = state.server.kind;
        if (rep > 1 && state.spent + state.spent / (rep - 1) > ROW_BUDGET_MS) {
          state.notes.push(`${rep - 1} of ${settings.reps} reps (time budget)`);
          state.done = true;
          continue;
        }
        const store = `room/n${n}r${rep}`;
        const started = performance.now();
        try {
          const result = await runCase(peers, { server: state.server, store, previous: state.previous, n, m: state.m, rate, verify: settings.verify });
          state.previous = store;
          state.runs.push(result);
          console.log(`  [${kind}] rep ${rep}: ${describe(result)}`);
          // What a timed-out case left queued would spill into its next one.
          if (result.timedOut) state.done = true;
        } catch (err) {
          state.notes.push(`rep ${rep} failed: ${(err as Error).message.split('\n')[0]}`);
          state.done = true;
        }
        state.spent += performance.now() - started;
      }
    }
  } finally {
    for (const state of states) {
      await Promise.all(peers.receivers.map((r) => r.call({ cmd: 'disconnect', group: state.server.kind }, 60_000)));
    }
  }
  return states.map((s) => ({ kind: s.server.kind, m: s.m, runs: s.runs, notes: s.notes, ...(s.skipped ? { skipped: s.skipped } : {}) }));
}

//#endregion one N
//#region report

function medianOf(runs: readonly CaseResult[], pick: (r: CaseResult) => number): number {
  return runs.length ? median(runs.map(pick)) : Number.NaN;
}

/** Prints the table of one N and the target verdicts; returns the two ratios. */
function report(n: number, m: number, updatesPerSecond: number, rows: readonly Row[]): { vsFrame: number; vsCoalesce: number } {
  console.log(`\nN = ${n.toLocaleString('en-US')} clients, M = ${m.toLocaleString('en-US')} updates at ${formatNumber(updatesPerSecond)}/s offered (${formatNumber(updatesPerSecond * n)} deliveries/s). Medians of the reps:`);
  printTable(
    ['server', 'msgs/s', 'p50 ms', 'p99 ms', 'M', 'frames/client', 'server CPU %', 'reps', 'notes'],
    rows.map((row) => {
      const runs = row.runs;
      const notes = row.skipped ?? [...row.notes, ...new Set(runs.flatMap((r) => r.problems))].join('; ');
      const busy = medianOf(runs, (r) => (100 * r.cpu.server * r.rate) / Math.max(1, r.delivered));
      return [
        LABELS[row.kind],
        medianOf(runs, (r) => r.rate),
        medianOf(runs, (r) => r.p50),
        medianOf(runs, (r) => r.p99),
        runs.length ? row.m.toLocaleString('en-US') : '-',
        medianOf(runs, (r) => r.frames / r.n),
        busy,
        String(runs.length),
        notes,
      ];
    }),
  );
  const rate = (kind: ServerKind) => medianOf(rows.find((r) => r.kind === kind)?.runs ?? [], (r) => r.rate);
  const vsFrame = rate('twin') / rate('frame');
  const vsCoalesce = rate('twin') / rate('coalesce');
  const verdict = (ratio: number, target: number) => (Number.isFinite(ratio) ? (ratio >= target ? 'PASS' : 'MISS') : 'n/a');
  console.log(`twin / one-frame = ${formatRatio(vsFrame)}  (target >= ${TARGET_VS_FRAME}x: ${verdict(vsFrame, TARGET_VS_FRAME)})`);
  console.log(`twin / coalesced = ${formatRatio(vsCoalesce)}  (target >= ${TARGET_VS_COALESCE}x: ${verdict(vsCoalesce, TARGET_VS_COALESCE)})`);
  return { vsFrame, vsCoalesce };
}

//#endregion report
//#region main

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const limits = fileLimits();
  const began = performance.now();
  const cores = availableParallelism();
  const op = Buffer.byteLength(JSON.stringify(pushOp(chatMessage(1.7e12 + 0.123))));
  const sync = Buffer.byteLength(syncText('room/n1000r1', 1234, chatMessage(1.7e12 + 0.123)));
  console.log(`Fan-out benchmark: ${settings.kinds.map((k) => LABELS[k]).join(' vs ')}, N = ${settings.ns.join(', ')}.`);
  console.log(`Machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, open-file limit ${limits.soft} (hard ${limits.hard}).`);
  console.log(`Processes: the servers run in this one, the receiving clients in ${RECEIVER_PROCESSES} child processes, the writer in a third; all share the ${cores} cores (with whatever else runs on the machine: load average ${loadavg()[0]!.toFixed(1)} now), so client work competes with the server's (see the CPU figures). Servers take turns per repetition.`);
  console.log(`Per update: a ${op}-byte push op in a ${sync}-byte sync message, the same bytes from every server. The twin server's client rate limit is lifted for the one fast writer.`);
  console.log(`Twin writer: ${settings.twinWriter === 'twin' ? 'the twin client (createClient) pushing to room.messages, one batch per push' : 'a raw ws client sending protocol op frames (--twin-writer=raw)'}.`);
  console.log(`Writer: steady rate, bursts of up to ${MAX_BURST} per ~1 ms tick, for ${settings.duration} s (${formatNumber(settings.offered)} deliveries/s offered); ${settings.reps} rep(s) after a warm-up; latency = last client's receipt - send time.${settings.verify ? ' Verify mode: receivers parse every frame.' : ''}`);

  const here = new URL('./lib/', import.meta.url);
  const execArgv = settings.childProf ? ['--cpu-prof', `--cpu-prof-dir=${settings.childProf}`] : [];
  const [writer, ...receivers] = await Promise.all([
    spawnChild(new URL('fanout-writer.ts', here), 'writer', { execArgv }),
    ...Array.from({ length: RECEIVER_PROCESSES }, (_, i) => spawnChild(new URL('fanout-receivers.ts', here), `receivers-${i + 1}`, { execArgv })),
  ]);
  const peers: Peers = { writer: writer!, receivers };
  const servers: BenchServer[] = [];
  for (const kind of settings.kinds) servers.push(kind === 'twin' ? await startTwinServer() : await startPlainServer(kind));

  const misses: string[] = [];
  const unmeasured: string[] = [];
  const busyAt: string[] = [];
  try {
    for (const n of settings.ns) {
      const m = Math.round(Math.min(MAX_UPDATES, Math.max(MIN_UPDATES, (settings.offered / n) * settings.duration)));
      const rate = m / settings.duration;
      const rows: Row[] = [];
      console.log(`\n--- N = ${n}`);
      const load = loadavg()[0]!;
      console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
      if (load > availableParallelism() + RECEIVER_PROCESSES + 2 + BUSY_MARGIN) busyAt.push(`N=${n} (load ${load.toFixed(1)})`);
      const files = filesNeeded(n, servers.length);
      if (files > limits.soft) {
        const raise = canRaiseHardLimit(files) ? `start it under \`ulimit -n ${files}\`` : 'raising the hard limit is not permitted here';
        const fits = Math.floor((limits.soft - FD_HEADROOM) / servers.length);
        const why = `N = ${n} needs ~${files} open files in this process (N per server, all connected at once); the limit is ${limits.soft} (Node raised the soft limit to the hard one already; ${raise}); the largest N that fits is ${fits}`;
        console.log(`  skipped: ${why}.`);
        for (const server of servers) rows.push({ kind: server.kind, m, runs: [], skipped: 'skipped: open-file limit (see above)', notes: [] });
      } else {
        rows.push(...await runN(peers, servers, n, m, rate, settings));
      }
      const { vsFrame, vsCoalesce } = report(n, m, rate, rows);
      if (vsFrame < TARGET_VS_FRAME) misses.push(`N=${n} twin/one-frame ${formatRatio(vsFrame)}`);
      if (vsCoalesce < TARGET_VS_COALESCE) misses.push(`N=${n} twin/coalesced ${formatRatio(vsCoalesce)}`);
      if (!Number.isFinite(vsFrame) || !Number.isFinite(vsCoalesce)) unmeasured.push(`N=${n}`);
    }
  } finally {
    await writer!.call({ cmd: 'close' }).catch(() => undefined);
    await Promise.all([writer!, ...receivers].map((c) => c.stop()));
    for (const server of servers) await server.close();
  }
  const verdict = misses.length ? `Targets missed: ${misses.join(', ')}.` : unmeasured.length ? 'No target missed where measured.' : 'All targets met.';
  const partial = unmeasured.length ? ` Ratios not measured at ${unmeasured.join(', ')}.` : '';
  console.log(`\n${verdict}${partial} (Misses are reported, not failed: this is a benchmark.)`);
  if (busyAt.length) {
    console.log(`Warning: other processes were competing for the CPU at ${busyAt.join(', ')}; a low "server CPU %" means the server waited for a core. Figures taken on a busy machine are unreliable: rerun on an idle one.`);
  }
  console.log(`Total time ${((performance.now() - began) / 1000).toFixed(1)} s.`);
}

//#endregion main

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(0); // a benchmark reports; it does not fail the run
  },
);
