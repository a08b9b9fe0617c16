// SPDX-License-Identifier: MIT
/**
 * @module presence-movers
 * A child process of bench/presence.ts holding many raw `ws` clients of one twin store, each
 * "moving a pointer" at a fixed rate: as presence (`presence {store, key, state}`) or as a
 * plain store write (`op` setting `cursors.<i>`), and counting the bytes and frames it
 * receives. Frames are not parsed (the receivers share the machine with the server).
 *
 * Commands: `connect {url, n, first}` (hello subscribed to the store, waits for the snapshot),
 * `move {mode, hz, seconds}` (moves, then resolves with the counts), `close`.
 */
import WebSocket from 'ws';
import { serveParent } from './children.js';

const STORE = 'board';
const CONNECT_CONCURRENCY = 100;
const CONNECT_TIMEOUT = 15_000;

interface Mover {
  readonly ws: WebSocket;
  readonly index: number;
  readonly client: string;
  seq: number;
  /** Write mode: the batch sent and not yet confirmed (its own `sync` carries its id). */
  waiting: Buffer | undefined;
}

/** What `move` answers: what every client here received during the moves (and a short drain after). */
export interface MoveResult {
  readonly bytes: number;
  readonly frames: number;
  /** Frames that carried at least one presence message. */
  readonly presenceFrames: number;
  readonly sent: number;
  /** Clients whose socket closed meanwhile (dropped as too slow, say). */
  readonly closed: number;
  /** Write mode: moves skipped because the client's previous write was not confirmed yet. */
  readonly skipped: number;
}

let movers: Mover[] = [];
let bytes = 0;
let frames = 0;
let presenceFrames = 0;
let closed = 0;
const PRESENCE = Buffer.from('"t":"presence"');

async function connect(url: string, n: number, first: number): Promise<number> {
  const out: Mover[] = [];
  for (let start = 0; start < n; start += CONNECT_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, n - start) }, (_, k) => open(url, first + start + k));
    out.push(...(await Promise.all(batch)));
  }
  movers = out;
  return out.length;
}

function open(url: string, index: number): Promise<Mover> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = `mover-${process.pid}-${index}`;
    const timer = setTimeout(() => reject(new Error(`client ${index} did not get its snapshot in time`)), CONNECT_TIMEOUT);
    let ready = false;
    const mover: Mover = { ws, index, client, seq: 0, waiting: undefined };
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', proto: 1, client, subs: { [STORE]: 0 } })));
    ws.on('message', (data: Buffer) => {
      if (!ready) {
        if (data.includes('"t":"snapshot"')) {
          ready = true;
          clearTimeout(timer);
          resolve(mover);
        }
        return;
      }
      bytes += data.length;
      frames++;
      if (data.includes(PRESENCE)) presenceFrames++;
      if (mover.waiting && data.includes(mover.waiting)) mover.waiting = undefined;
    });
    ws.on('close', () => {
      if (ready) closed++;
    });
    ws.on('error', reject);
  });
}

async function move(mode: 'presence' | 'write', hz: number, seconds: number): Promise<MoveResult> {
  bytes = frames = presenceFrames = closed = 0;
  let sent = 0;
  let skipped = 0;
  for (const m of movers) m.waiting = undefined;
  const period = 1000 / hz;
  const end = Date.now() + seconds * 1000;
  // Clients spread over the period, as real pointers are.
  await new Promise<void>((resolve) => {
    let tick = 0;
    const timer = setInterval(() => {
      const slice = tick++ % 10;
      for (const m of movers) {
        if (m.index % 10 !== slice || m.ws.readyState !== WebSocket.OPEN) continue;
        // A pointer app sends its latest position once the last one is in, as the twin client
        // does with writes: one write in flight per client (else the offered load, far past what
        // one node can commit and broadcast, only piles up in memory).
        if (mode === 'write' && m.waiting) {
          skipped++;
          continue;
        }
        const at = { x: Math.round(Math.random() * 1000), y: Math.round(Math.random() * 1000) };
        const message = mode === 'presence'
          ? { t: 'presence', store: STORE, key: `${m.client}-presence-key`, state: at }
          : { t: 'op', id: `${m.client}:${++m.seq}`, store: STORE, ops: [{ op: 'set', path: ['cursors', String(m.index)], value: at }] };
        if (mode === 'write') m.waiting = Buffer.from(`"id":"${m.client}:${m.seq}"`);
        m.ws.send(JSON.stringify(message));
        sent++;
      }
      if (Date.now() >= end) {
        clearInterval(timer);
        resolve();
      }
    }, period / 10);
  });
  // What was on its way arrives.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { bytes, frames, presenceFrames, sent, closed, skipped };
}

serveParent(async (command) => {
  switch (command.cmd) {
    case 'connect':
      return connect(command.url as string, command.n as number, command.first as number);
    case 'move':
      return move(command.mode as 'presence' | 'write', command.hz as number, command.seconds as number);
    case 'close':
      for (const m of movers) m.ws.terminate();
      movers = [];
      return null;
    default:
      throw new Error(`unknown command ${String(command.cmd)}`);
  }
});
