// SPDX-License-Identifier: MIT
/**
 * @module wire
 * Wire benchmark (README.md Benchmarks, issue 15 item 4): bytes per generation per client of
 * the Game of Life demo (demo/stores/life.ts), in one run and over the same boards — the
 * seeded board (gun, eater, soup) run past its first {@link WARMUP} generations, then
 * {@link FULL_GENERATIONS} more:
 *
 * 1. twin ops, uncompressed: a raw `ws` client that does not offer permessage-deflate;
 * 2. twin ops, permessage-deflate: a raw `ws` client that offers it (as browsers do), the
 *    server with `compression: { threshold: 0 }`. Both kinds of client are on the same server,
 *    counting what arrives on the socket (WebSocket framing included), as
 *    server/compression.test.ts does;
 * 3. the baseline Datastar users measure: the whole board each generation, as an HTML
 *    fragment in a Datastar SSE event, through ONE long-lived Brotli stream
 *    (`zlib.createBrotliCompress`, Node's defaults: quality 11, 4 MB window) flushed after
 *    each generation, counting the bytes it produces (no HTTP chunk framing, which favours it);
 *    and the same with the board as a bare 2,500-character string, the least it could send.
 *
 * Medians over generations (means too: a keyframe every 60 lists costs more). Then the server's
 * CPU (`process.cpuUsage` of its process) for {@link CPU_CLIENTS} clients all compressed and all
 * not, generations run back to back, given per client per second at the demo's 5 generations
 * a second. Misses are printed, never failed: this is a benchmark, and it exits 0.
 *
 * Usage: `node --import tsx bench/wire.ts [--quick] [--generations=300] [--clients=100] [--reps=3]`.
 */
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import zlib from 'node:zlib';
import WebSocket from 'ws';
import { GENERATIONS_PER_SECOND } from '../demo/stores/life.js';
import { CELLS, nextGeneration, seedBoard } from '../demo/stores/life-rules.js';
import { CPU_COMMAND, spawnChild } from './lib/children.js';
import type { ChildHandle } from './lib/children.js';
import { median, summarize } from './lib/stats.js';
import { formatNumber, formatRatio, printTable } from './lib/table.js';

//#region settings

/** Generations run before measuring: the soup's first, chaotic ones. */
const WARMUP = 200;
/** Generations measured (full run, quick run). */
const FULL_GENERATIONS = 300;
const QUICK_GENERATIONS = 60;
/** Clients of the CPU runs. */
const CPU_CLIENTS = 100;
/** CPU runs per mode (compressed / not), alternated; the median is quoted. */
const FULL_REPS = 3;
/** Clients of each kind counting bytes (they all get the same bytes; two check it). */
const BYTE_CLIENTS = 2;
/** The goal, bytes per generation per client with compression. */
const GOAL_BYTES = 100;
/** The longest a generation may take to reach every client. */
const STEP_TIMEOUT_MS = 10_000;

interface Settings {
  readonly generations: number;
  readonly clients: number;
  readonly reps: number;
}

function parseArgs(argv: readonly string[]): Settings {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--(quick|generations|clients|reps)(?:=(\d+))?$/.exec(arg);
    if (!match || (match[1] !== 'quick' && match[2] === undefined)) {
      throw new TypeError(`Unknown argument ${JSON.stringify(arg)}; see the usage at the top of bench/wire.ts.`);
    }
    flags.set(match[1]!, match[2] ?? 'true');
  }
  const quick = flags.has('quick');
  const count = (name: string, fallback: number) => {
    const value = flags.has(name) ? Number(flags.get(name)) : fallback;
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`--${name} must be a positive whole number.`);
    return value;
  };
  return {
    generations: count('generations', quick ? QUICK_GENERATIONS : FULL_GENERATIONS),
    clients: count('clients', CPU_CLIENTS),
    reps: count('reps', quick ? 1 : FULL_REPS),
  };
}

//#endregion settings
//#region clients

/** A raw subscriber of the `life` store, counting socket bytes and syncs. */
interface WireClient {
  /** Bytes read from the socket so far (compressed or not, framing included). */
  bytes: number;
  /** `sync` messages received so far. */
  syncs: number;
  readonly ws: WebSocket;
}

/** The clients of one server, and a wait for every one of them to reach a sync count. */
class Clients {
  readonly all: WireClient[] = [];
  private wake: (() => void) | undefined;

  /** Connects a client (offering permessage-deflate when `deflate`) and waits for its snapshot. */
  async add(url: string, deflate: boolean): Promise<WireClient> {
    const ws = new WebSocket(url, { perMessageDeflate: deflate });
    const client: WireClient = { bytes: 0, syncs: 0, ws };
    await once(ws, 'open');
    // What arrives on the socket, before ws inflates it (as server/compression.test.ts counts).
    (ws as unknown as { _socket: NodeJS.EventEmitter })._socket.on('data', (chunk: Buffer) => (client.bytes += chunk.length));
    let snapshot!: () => void;
    const gotSnapshot = new Promise<void>((resolve) => (snapshot = resolve));
    ws.on('message', (data: Buffer) => {
      const parsed = JSON.parse(data.toString()) as { t: string; message?: string } | { t: string }[];
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        if (message.t === 'sync') client.syncs++;
        else if (message.t === 'snapshot') snapshot();
        else if (message.t === 'error' || message.t === 'reject') console.error('wire bench: the server refused:', JSON.stringify(message));
      }
      this.wake?.();
    });
    ws.send(JSON.stringify({ t: 'hello', proto: 1, client: randomUUID(), subs: { life: 0 } }));
    await gotSnapshot;
    this.all.push(client);
    return client;
  }

  /** Resolves once every client has received `count` syncs. */
  async reach(count: number): Promise<void> {
    const done = () => this.all.every((c) => c.syncs >= count);
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`A generation took over ${STEP_TIMEOUT_MS} ms to reach every client.`)), STEP_TIMEOUT_MS);
      this.wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((c) => (c.ws.readyState === WebSocket.CLOSED ? undefined : (c.ws.close(), once(c.ws, 'close')))));
  }
}

/** A wire-server child (compressing or not), past the warm-up. */
async function startServer(compress: boolean): Promise<{ child: ChildHandle; url: string }> {
  const child = await spawnChild(new URL('./lib/wire-server.ts', import.meta.url), `wire-server-${compress ? 'on' : 'off'}`, { args: [compress ? 'on' : 'off'] });
  await child.call({ cmd: 'warmup', count: WARMUP });
  return { child, url: await child.call<string>({ cmd: 'url' }) };
}

/** Server CPU time so far, in µs (user + system). */
async function cpuOf(child: ChildHandle): Promise<number> {
  const { user, system } = await child.call<NodeJS.CpuUsage>({ cmd: CPU_COMMAND });
  return user + system;
}

//#endregion clients
//#region runs

/** Bytes per generation of each client kind, on one server that compresses for those that ask. */
async function twinBytes(generations: number): Promise<{ plain: number[]; deflate: number[] }> {
  const { child, url } = await startServer(true);
  const clients = new Clients();
  try {
    // The first BYTE_CLIENTS do not offer the extension, the next BYTE_CLIENTS do.
    await Promise.all(Array.from({ length: BYTE_CLIENTS }, () => clients.add(url, false)));
    const deflate = await Promise.all(Array.from({ length: BYTE_CLIENTS }, () => clients.add(url, true)));
    if (!deflate.every((c) => /permessage-deflate/.test(c.ws.extensions))) throw new Error('permessage-deflate was not negotiated.');
    const perGen = { plain: [] as number[], deflate: [] as number[] };
    for (let g = 1; g <= generations; g++) {
      const before = clients.all.map((c) => c.bytes);
      await child.call({ cmd: 'step' });
      await clients.reach(g);
      const sent = clients.all.map((c, i) => c.bytes - before[i]!);
      perGen.plain.push(...sent.slice(0, BYTE_CLIENTS));
      perGen.deflate.push(...sent.slice(BYTE_CLIENTS));
    }
    return perGen;
  } finally {
    await clients.close();
    await child.stop();
  }
}

/** The baseline's bytes per generation: each board through one Brotli stream, flushed each time. */
async function brotliBytes(generations: number, render: (cells: Uint8Array) => string): Promise<number[]> {
  const stream = zlib.createBrotliCompress();
  let produced = 0;
  stream.on('data', (chunk: Buffer) => (produced += chunk.length));
  const flushed = () => new Promise<void>((resolve) => stream.flush(zlib.constants.BROTLI_OPERATION_FLUSH, () => resolve()));
  let board: Uint8Array = Uint8Array.from(seedBoard());
  for (let g = 0; g < WARMUP; g++) board = nextGeneration(board);
  // The page a new visitor gets holds the board of the warm-up's end: the stream starts there.
  stream.write(render(board));
  await flushed();
  const perGen: number[] = [];
  for (let g = 0; g < generations; g++) {
    board = nextGeneration(board);
    const before = produced;
    stream.write(render(board));
    await flushed();
    perGen.push(produced - before);
  }
  stream.end();
  return perGen;
}

/** The board as a Datastar server patches it in: an SSE event holding the board's HTML. */
function datastarEvent(cells: Uint8Array): string {
  let html = '<div id="board">';
  for (let i = 0; i < CELLS; i++) html += cells[i] ? '<i class="on"></i>' : '<i></i>';
  return `event: datastar-patch-elements\ndata: elements ${html}</div>\n\n`;
}

/** The board as 2,500 '0'/'1' characters, one line per generation. */
function bareBoard(cells: Uint8Array): string {
  return `${cells.join('')}\n`;
}

/** Server CPU µs per generation per client, with `clients` clients all compressed or all not. */
async function cpuPerClientGen(compress: boolean, clients: number, generations: number): Promise<number> {
  const { child, url } = await startServer(compress);
  const pool = new Clients();
  try {
    for (let i = 0; i < clients; i++) await pool.add(url, compress);
    // A few uncounted generations: JIT, socket buffers, deflate contexts.
    for (let g = 1; g <= 5; g++) {
      await child.call({ cmd: 'step' });
      await pool.reach(g);
    }
    const start = await cpuOf(child);
    for (let g = 6; g < 6 + generations; g++) {
      await child.call({ cmd: 'step' });
      await pool.reach(g);
    }
    return (await cpuOf(child) - start) / generations / clients;
  } finally {
    await pool.close();
    await child.stop();
  }
}

/** The mean of a sample. */
function mean(values: readonly number[]): number {
  return summarize(values).mean;
}

//#endregion runs
//#region main

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  console.log(`Wire bytes per generation per client: the Game of Life demo's 50×50 board, generations ${WARMUP + 1}–${WARMUP + settings.generations} of its seeded start.`);
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}.\n`);

  const twin = await twinBytes(settings.generations);
  const html = await brotliBytes(settings.generations, datastarEvent);
  const bare = await brotliBytes(settings.generations, bareBoard);
  const deflated = median(twin.deflate);
  const rows: [string, number[]][] = [
    ['twin ops, uncompressed', twin.plain],
    ['twin ops, permessage-deflate (threshold 0)', twin.deflate],
    ['whole board, Datastar SSE HTML, one Brotli stream', html],
    ['whole board, 2,500-char string, one Brotli stream', bare],
  ];
  printTable(
    ['approach', 'median B/gen', 'mean B/gen', 'max B/gen', 'twin deflate vs this'],
    rows.map(([label, bytes]) => [label, median(bytes), mean(bytes), Math.max(...bytes), formatRatio(deflated / median(bytes))]),
  );
  const met = deflated <= GOAL_BYTES;
  console.log(`\nGoal (issue 15): ≤ ${GOAL_BYTES} bytes per generation per client with compression: ${met ? 'met' : 'NOT met'} (median ${formatNumber(deflated)} B; mean ${formatNumber(mean(twin.deflate))} B with the keyframes).`);

  console.log(`\nServer CPU, ${settings.clients} clients, ${settings.generations} generations back to back, ${settings.reps} run(s) per mode (median):`);
  const off: number[] = [];
  const on: number[] = [];
  for (let rep = 0; rep < settings.reps; rep++) {
    off.push(await cpuPerClientGen(false, settings.clients, settings.generations));
    on.push(await cpuPerClientGen(true, settings.clients, settings.generations));
  }
  const perSecond = (usPerGen: number) => usPerGen * GENERATIONS_PER_SECOND;
  // µs per second per client, times 1,000 clients, over the 1,000,000 µs of a core's second, in %.
  const corePercent = (usPerGen: number) => (perSecond(usPerGen) * 1000 / 1e6) * 100;
  const [plainUs, deflateUs] = [median(off), median(on)];
  printTable(
    ['server', 'CPU µs/gen/client', `CPU µs/s/client at ${GENERATIONS_PER_SECOND} gen/s`, '% of a core per 1,000 clients'],
    [
      ['uncompressed', plainUs, perSecond(plainUs), corePercent(plainUs)],
      ['permessage-deflate', deflateUs, perSecond(deflateUs), corePercent(deflateUs)],
    ],
  );
  console.log(`\nCompression costs ${formatNumber(perSecond(deflateUs - plainUs))} µs of server CPU per client per second at ${GENERATIONS_PER_SECOND} generations/s (${formatRatio(deflateUs / plainUs)} the uncompressed server's), and saves ${formatNumber((median(twin.plain) - deflated) * GENERATIONS_PER_SECOND)} bytes per client per second.`);
}

await main();

//#endregion main
