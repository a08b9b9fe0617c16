// SPDX-License-Identifier: MIT
/**
 * @module commit-load
 * A child process that loads a twin server with client batches (see bench/commits.ts): raw
 * `ws` clients speaking the twin protocol, each writing a store of its own (`doc/w<i>`, an
 * `add` of 1 per batch). A batch counts once its sender has the server's `sync` with its id
 * (the server's acknowledgement: durable by then). Raw clients, so the twin client's own CPU
 * does not count against the server, which has the other core.
 *
 * - `open`: connects `clients` clients and subscribes each to its store.
 * - `run`: each client keeps `inFlight` batches unacknowledged (closed loop) until `batches`
 *   were sent in all; or, with `rate`, the clients send `rate` batches per second between them
 *   (open loop, paced every millisecond) and the time from send to acknowledgement is recorded.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { serveParent } from './children.js';
import type { Command } from './children.js';

const READY_TIMEOUT = 20_000;
const TICK_MS = 1;

/** What `run` answers. */
export interface LoadResult {
  readonly acked: number;
  readonly refused: number;
  readonly seconds: number;
  /** Send → acknowledgement, ms, of every batch (open loop only). */
  readonly latencies: Float64Array;
}

interface LoadClient {
  readonly ws: WebSocket;
  readonly id: string;
  readonly store: string;
  seq: number;
  outstanding: number;
  /** Send times by seq (open loop). */
  readonly sentAt: Map<number, number>;
}

let clients: LoadClient[] = [];
let onAnswer: (client: LoadClient, seq: number, ok: boolean) => void = () => {};

async function open(url: string, count: number, first: number): Promise<void> {
  clients = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client: LoadClient = { ws, id: randomUUID(), store: `doc/w${first + i}`, seq: 0, outstanding: 0, sentAt: new Map() };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('A load client did not get its snapshot in time.')), READY_TIMEOUT);
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', proto: 1, client: client.id, subs: { [client.store]: 0 } })));
      ws.on('message', (data) => {
        const parsed = JSON.parse(String(data)) as Message | Message[];
        for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
          if (m.t === 'snapshot') {
            clearTimeout(timer);
            resolve();
          } else if ((m.t === 'sync' || m.t === 'reject') && typeof m.id === 'string') {
            onAnswer(client, Number(m.id.slice(m.id.lastIndexOf(':') + 1)), m.t === 'sync');
          }
        }
      });
    });
    return client;
  }));
}

interface Message {
  readonly t: string;
  readonly id?: unknown;
}

function send(client: LoadClient): void {
  const seq = ++client.seq;
  client.outstanding++;
  client.sentAt.set(seq, performance.now());
  client.ws.send(`{"t":"op","id":"${client.id}:${seq}","store":"${client.store}","ops":[{"op":"add","path":["n"],"delta":1}]}`);
}

/** Closed loop: every client keeps `inFlight` batches out until `batches` were sent. */
function closedLoop(batches: number, inFlight: number): Promise<LoadResult> {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    let refused = 0;
    const start = performance.now();
    onAnswer = (client, seq, ok) => {
      client.outstanding--;
      client.sentAt.delete(seq);
      if (ok) acked++;
      else refused++;
      if (sent < batches) {
        sent++;
        send(client);
      }
      if (acked + refused === batches) resolve({ acked, refused, seconds: (performance.now() - start) / 1000, latencies: new Float64Array() });
    };
    for (const client of clients) {
      for (let i = 0; i < inFlight && sent < batches; i++, sent++) send(client);
    }
  });
}

/** Open loop: `rate` batches per second in all, round robin over the clients, for `batches`. */
function openLoop(batches: number, rate: number): Promise<LoadResult> {
  return new Promise((resolve) => {
    const latencies = new Float64Array(batches);
    let sent = 0;
    let answered = 0;
    let acked = 0;
    let refused = 0;
    let next = 0;
    const start = performance.now();
    onAnswer = (client, seq, ok) => {
      client.outstanding--;
      const at = client.sentAt.get(seq);
      client.sentAt.delete(seq);
      if (ok) {
        if (at !== undefined) latencies[acked] = performance.now() - at;
        acked++;
      } else {
        refused++;
      }
      if (++answered === batches) {
        clearInterval(timer);
        resolve({ acked, refused, seconds: (performance.now() - start) / 1000, latencies: latencies.subarray(0, acked) });
      }
    };
    const timer = setInterval(() => {
      const due = Math.min(batches, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) send(clients[next++ % clients.length]!);
    }, TICK_MS);
  });
}

serveParent(async (command: Command) => {
  switch (command.cmd) {
    case 'open':
      await open(command['url'] as string, command['clients'] as number, (command['first'] as number | undefined) ?? 0);
      return clients.length;
    case 'run': {
      const batches = command['batches'] as number;
      const rate = command['rate'] as number | undefined;
      return rate === undefined ? closedLoop(batches, command['inFlight'] as number) : openLoop(batches, rate);
    }
    case 'close':
      for (const client of clients) client.ws.close();
      clients = [];
      return true;
    default:
      throw new Error(`Unknown command ${command.cmd}`);
  }
});
