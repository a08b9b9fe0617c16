// SPDX-License-Identifier: MIT
/**
 * @module fanout-writer
 * A child process that writes the updates of a fan-out (see bench/fanout.ts) at a steady rate.
 *
 * - `twin`: a real twin client (`createClient` with the `ws` WebSocket) that pushes chat
 *   messages to `room/<id>.messages`, each push in its own turn, so each is one batch, one
 *   commit, one version, one `sync` for every subscriber.
 * - `twin-raw`: a raw `ws` client speaking the twin protocol (`hello`, `sub`, `op` frames):
 *   the same server work without the twin client's own CPU.
 * - `plain`: a raw `ws` client that sends, per update, the bytes twin would broadcast for the
 *   same push (`{"t":"sync","store":…,"v":k,"ops":[…]}`), which the plain servers relay as is.
 *
 * Every update carries its send time (`at`, epoch ms from `performance.timeOrigin +
 * performance.now()`, comparable across processes); the writer also returns all send times.
 * Pacing: a timer about every millisecond sends the burst that is due, so the offered rate
 * is steady without spinning a core the server needs.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createClient, snapshot } from '../../src/index.js';
import type { Client, WebSocketClass } from '../../src/index.js';
import { chatMessage, pushOp, syncText } from './chat-payload.js';
import type { ChatMessage } from './chat-payload.js';
import { serveParent } from './children.js';
import type { Command } from './children.js';

/** Time allowed to connect and get a store's snapshot. */
const READY_TIMEOUT = 15_000;
/** Pause between bursts (timers do not fire much more often than this). */
const TICK_MS = 1;

/** What {@link handle} answers to `run`. */
export interface WriteResult {
  /** Per version 1..m, the epoch time (ms) it was sent. */
  readonly sendTimes: Float64Array;
  /** Epoch ms of the first and last send. */
  readonly first: number;
  readonly last: number;
}

interface Writer {
  /** Gets ready to write to `store` (twin: subscribes and waits for its snapshot). */
  prepare(store: string): Promise<void>;
  /** Writes update `v` of `store`. */
  write(store: string, v: number, at: number): void;
  close(): void;
}

/** How the writer talks to the server: the twin client, raw twin protocol, or plain `ws`. */
export type WriterKind = 'twin' | 'twin-raw' | 'plain';

/** One writer per server (group), so the servers can be measured in turns. */
const writers = new Map<string, Writer>();

function writerOf(group: unknown): Writer {
  const writer = writers.get(group as string);
  if (!writer) throw new Error(`No writer is connected for ${JSON.stringify(group)}.`);
  return writer;
}

const now = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;

async function twinWriter(url: string): Promise<Writer> {
  const client: Client = createClient({ url, WebSocket: WebSocket as unknown as WebSocketClass }).connect();
  const rooms = new Map<string, { messages: ChatMessage[] }>();
  return {
    async prepare(store) {
      const room = client.store<{ messages: ChatMessage[] }>(store);
      rooms.set(store, room);
      const deadline = Date.now() + READY_TIMEOUT;
      // The replica starts empty; the server's snapshot brings `messages`.
      while (!Array.isArray((snapshot(room) as { messages?: unknown }).messages)) {
        if (Date.now() > deadline) throw new Error(`The twin writer got no snapshot of ${store} within ${READY_TIMEOUT} ms (state ${client.state}).`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    write(store, _v, at) {
      rooms.get(store)!.messages.push(chatMessage(at));
    },
    close() {
      client.close();
    },
  };
}

/**
 * A raw `ws` client speaking the twin protocol (`hello`, `sub`, one `op` frame per push):
 * the same server work as {@link twinWriter} without the client library's own CPU, to tell
 * the server's cost from the client's on a machine with few cores.
 */
async function twinRawWriter(url: string): Promise<Writer> {
  const socket = await openSocket(url);
  const client = `bench-writer-${Math.random().toString(36).slice(2, 10)}`;
  let seq = 0;
  let waiting: { marker: Buffer; resolve: () => void } | undefined;
  socket.on('message', (data: Buffer) => {
    if (waiting && data.includes(waiting.marker)) waiting.resolve();
  });
  const expect = (marker: string, send: string, what: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The raw twin writer got no ${what} within ${READY_TIMEOUT} ms.`)), READY_TIMEOUT);
    waiting = { marker: Buffer.from(marker), resolve: () => {
      clearTimeout(timer);
      waiting = undefined;
      resolve();
    } };
    socket.send(send);
  });
  await expect('{"t":"welcome"', JSON.stringify({ t: 'hello', proto: 1, client, subs: {} }), 'welcome');
  return {
    prepare: (store) => expect(`{"t":"snapshot","store":${JSON.stringify(store)}`, JSON.stringify({ t: 'sub', store, v: 0 }), `snapshot of ${store}`),
    write(store, _v, at) {
      socket.send(JSON.stringify({ t: 'op', id: `${client}:${++seq}`, store, ops: [pushOp(chatMessage(at))] }));
    },
    close() {
      socket.close();
    },
  };
}

async function plainWriter(url: string): Promise<Writer> {
  const socket = await openSocket(url);
  return {
    async prepare() {},
    write(store, v, at) {
      socket.send(syncText(store, v, chatMessage(at)));
    },
    close() {
      socket.close();
    },
  };
}

function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Sends updates 1..m to `store` at `rate` per second, at most `maxBurst` per tick. Each twin
 * push gets its own turn (a microtask boundary), so it is its own batch.
 */
async function run(w: Writer, store: string, m: number, rate: number, maxBurst: number): Promise<WriteResult> {
  const sendTimes = new Float64Array(m + 1);
  const start = now();
  let sent = 0;
  while (sent < m) {
    const due = Math.min(m, sent + maxBurst, Math.floor(((now() - start) * rate) / 1000) + 1);
    while (sent < due) {
      const at = now();
      sendTimes[++sent] = at;
      w.write(store, sent, at);
      await undefined; // end the turn: the next push is the next batch
    }
    if (sent < m) await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  return { sendTimes, first: sendTimes[1]!, last: sendTimes[m]! };
}

const WRITERS: Record<WriterKind, (url: string) => Promise<Writer>> = {
  twin: twinWriter,
  'twin-raw': twinRawWriter,
  plain: plainWriter,
};

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      writers.get(command.group as string)?.close();
      writers.set(command.group as string, await WRITERS[command.kind as WriterKind](command.url as string));
      return true;
    case 'prepare':
      await writerOf(command.group).prepare(command.store as string);
      return true;
    case 'run':
      return run(writerOf(command.group), command.store as string, command.m as number, command.rate as number, command.maxBurst as number);
    case 'close':
      for (const writer of writers.values()) writer.close();
      writers.clear();
      return true;
    default:
      throw new Error(`Unknown command ${JSON.stringify(command.cmd)}.`);
  }
}

serveParent(handle);
