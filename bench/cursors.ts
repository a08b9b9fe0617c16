// SPDX-License-Identifier: MIT
/**
 * @module cursors
 * The cursors demo's wire cost (demo/cursors.html, issue #16): N visitors on one board, each
 * moving a pointer at 20 Hz, sending what demo/cursors.js sends — `{ name, color, x, y }` with
 * x and y as 3-decimal fractions — as presence, and, in the same run against the same server,
 * the same moves as plain store writes (a `set` of `cursors.<visitor>` each: committed, logged,
 * broadcast one by one). Printed per client: bytes and frames per second received (what the
 * server sent it) and bytes per second sent. Where bench/presence.ts asks how far one node
 * goes (1,000 clients), this asks what one visitor of a small board costs on the wire.
 *
 * Clients are raw `ws` sockets in this process (no compression, as the CLI's default), sending
 * the messages the twin client sends. Bytes count from the first move to 300 ms after the last
 * (what was on its way), divided by the seconds of moves. Printed, never failed.
 *
 * Usage: `node --import tsx bench/cursors.ts [--quick] [--n=10] [--hz=20] [--seconds=5]`.
 * `--quick`: 2 s.
 */
import Koa from 'koa';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { defineApp } from '../src/index.js';
import { twin } from '../server/index.js';
import { formatNumber, formatRatio, printTable } from './lib/table.js';

const HOST = '127.0.0.1';
const STORE = 'board';
const DRAIN_MS = 300;

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const quick = process.argv.includes('--quick');
const n = option('n', 10);
const hz = option('hz', 20);
const seconds = option('seconds', quick ? 2 : 5);

interface Visitor {
  readonly ws: WebSocket;
  readonly index: number;
  /** The tab's secret presence key: 36 hex characters, as src/presence.ts makes it. */
  readonly key: string;
  seq: number;
  bytesIn: number;
  framesIn: number;
  bytesOut: number;
}

type Mode = 'presence' | 'write';

function connect(url: string, index: number): Promise<Visitor> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const v: Visitor = { ws, index, key: index.toString(16).padStart(36, 'a'), seq: 0, bytesIn: 0, framesIn: 0, bytesOut: 0 };
    let ready = false;
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', proto: 1, client: `visitor-${index}`, subs: { [STORE]: 0 } })));
    ws.on('message', (data: Buffer) => {
      // The join (welcome, snapshot, the peers so far) is not a move's cost.
      if (!ready) {
        if (data.includes('"t":"snapshot"')) {
          ready = true;
          resolve(v);
        }
        return;
      }
      v.bytesIn += data.length;
      v.framesIn++;
    });
    ws.on('error', reject);
  });
}

/** What demo/cursors.js publishes for visitor `i` at move `k`: a point on a circle of its own. */
function cursorState(i: number, k: number) {
  const angle = (k / hz) * Math.PI + i;
  const fraction = (v: number) => Math.round(v * 1000) / 1000;
  return { name: `Visitor ${i + 1}`, color: `hsl(${(i * 37) % 360} 70% 45%)`, x: fraction(0.5 + 0.4 * Math.cos(angle)), y: fraction(0.5 + 0.4 * Math.sin(angle)) };
}

/** Every visitor moves at `hz` for `seconds`, spread over the period as real pointers are. */
async function moveAll(visitors: readonly Visitor[], mode: Mode): Promise<void> {
  for (const v of visitors) v.bytesIn = v.framesIn = v.bytesOut = 0;
  const period = 1000 / hz;
  const moves = Math.round(seconds * hz);
  await Promise.all(visitors.map(async (v) => {
    await delay((period * v.index) / visitors.length);
    for (let k = 0; k < moves; k++) {
      const started = performance.now();
      const state = cursorState(v.index, k);
      const text = JSON.stringify(mode === 'presence'
        ? { t: 'presence', store: STORE, key: v.key, state }
        : { t: 'op', id: `visitor-${v.index}:${++v.seq}`, store: STORE, ops: [{ op: 'set', path: ['cursors', String(v.index)], value: state }] });
      v.ws.send(text);
      v.bytesOut += Buffer.byteLength(text);
      await delay(Math.max(0, period - (performance.now() - started)));
    }
  }));
  await delay(DRAIN_MS);
}

async function main(): Promise<void> {
  const app = defineApp();
  app.shared(STORE, () => ({ cursors: {} as Record<string, unknown> }), { persist: false });
  // Every client comes from 127.0.0.1: lift the per-address cap on connections.
  const server = twin(app, { limits: { maxConnectionsPerAddress: n + 10 } });
  await server.ready;
  const koa = new Koa();
  koa.use(server.middleware());
  const http = koa.listen(0, HOST);
  await once(http, 'listening');
  server.attach(http);
  const url = `ws://${HOST}:${(http.address() as { port: number }).port}/_twin/ws`;
  const visitors = await Promise.all(Array.from({ length: n }, (_, i) => connect(url, i)));
  console.log(`cursors: ${n} visitors on one board, each moving at ${hz} Hz for ${seconds} s; the state ${JSON.stringify(cursorState(0, 0))}`);

  const rows: (string | number)[][] = [];
  const per: Record<Mode, { in: number; out: number; frames: number }> = { presence: { in: 0, out: 0, frames: 0 }, write: { in: 0, out: 0, frames: 0 } };
  for (const mode of ['presence', 'write'] as const) {
    await moveAll(visitors, mode);
    const sum = (k: 'bytesIn' | 'framesIn' | 'bytesOut') => visitors.reduce((s, v) => s + v[k], 0) / n / seconds;
    per[mode] = { in: sum('bytesIn'), out: sum('bytesOut'), frames: sum('framesIn') };
    rows.push([mode === 'presence' ? 'presence (setPresence)' : 'store writes (set)', formatNumber(per[mode].in / 1e3, 1), formatNumber(per[mode].frames, 1), formatNumber(per[mode].out / 1e3, 2)]);
    await delay(500);
  }
  printTable(['per client', 'kB/s in', 'frames/s in', 'kB/s out'], rows);
  const p = per.presence;
  const w = per.write;
  console.log(`presence vs writes, per client: bytes in ${formatRatio(p.in / w.in)}, frames in ${formatRatio(p.frames / w.frames)}, bytes out ${formatRatio(p.out / w.out)}`);

  for (const v of visitors) v.ws.terminate();
  await server.close();
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
