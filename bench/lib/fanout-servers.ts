// SPDX-License-Identifier: MIT
/**
 * @module fanout-servers
 * The three servers the fan-out benchmark compares, all on 127.0.0.1 in the benchmark's own
 * process, relaying the same bytes per update:
 *
 * - `twin`: Koa + `twin(app)` with a shared store family `room/<id>` (`{ messages: [] }`),
 *   default memory storage, and the client rate limit lifted (one writer sends thousands of
 *   batches a second here; the default allows 200).
 * - `frame`: a plain `ws` server that relays each update to every other client as its own frame.
 * - `coalesce`: a plain `ws` server that queues updates per client and sends one frame per
 *   client per tick (`setImmediate`), the messages joined as a JSON array.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { WebSocket, WebSocketServer } from 'ws';
import { defineApp } from '../../src/index.js';
import { twin } from '../../server/index.js';

/** Which server. */
export type ServerKind = 'twin' | 'frame' | 'coalesce';

/** A running server of the benchmark. */
export interface BenchServer {
  readonly kind: ServerKind;
  /** The WebSocket URL clients connect to. */
  readonly url: string;
  /** Open WebSocket connections. */
  connections(): number;
  close(): Promise<void>;
}

/** Messages a twin client may send per second (and in a burst) here: high enough never to bind. */
const UNLIMITED_RATE = 1e9;
const HOST = '127.0.0.1';

/** The app of the benchmark: one family of chat rooms. */
export function chatApp(): ReturnType<typeof defineApp> {
  const app = defineApp();
  app.shared('room', (_id: string) => ({ messages: [] as { user: string; text: string; at: number }[] }), { family: true });
  return app;
}

/** Starts Koa + twin on an ephemeral port. */
export async function startTwinServer(): Promise<BenchServer> {
  const koa = new Koa();
  // Every receiver connects from 127.0.0.1: lift the per-address and total connection caps too.
  const server = twin(chatApp(), { limits: { rate: UNLIMITED_RATE, burst: UNLIMITED_RATE, maxConnections: UNLIMITED_RATE, maxConnectionsPerAddress: UNLIMITED_RATE } });
  koa.use(server.middleware());
  const http = koa.listen(0, HOST);
  await listening(http);
  server.attach(http);
  await server.ready;
  return {
    kind: 'twin',
    url: `ws://${HOST}:${port(http)}/_twin/ws`,
    connections: () => server.connectionCount,
    async close() {
      await server.close();
      await closeHttp(http);
    },
  };
}

/** Starts a plain `ws` relay that sends one frame per update (`frame`) or per client per tick (`coalesce`). */
export async function startPlainServer(kind: 'frame' | 'coalesce'): Promise<BenchServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  if (kind === 'frame') {
    wss.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        for (const client of wss.clients) {
          if (client !== socket && client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
        }
      });
    });
  } else {
    const queues = new Map<WebSocket, Buffer[]>();
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      for (const [client, queue] of queues) {
        if (queue.length === 0) continue;
        queues.set(client, []);
        if (client.readyState !== WebSocket.OPEN) continue;
        client.send(queue.length === 1 ? queue[0]! : joinArray(queue), { binary: false });
      }
    };
    wss.on('connection', (socket) => {
      queues.set(socket, []);
      socket.on('close', () => queues.delete(socket));
      socket.on('message', (data: Buffer) => {
        for (const [client, queue] of queues) if (client !== socket) queue.push(data);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    });
  }
  http.listen(0, HOST);
  await listening(http);
  return {
    kind,
    url: `ws://${HOST}:${port(http)}/`,
    connections: () => wss.clients.size,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closeHttp(http);
    },
  };
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** `[m1,m2,…]` from serialized messages. */
function joinArray(parts: Buffer[]): Buffer {
  const pieces: Buffer[] = [OPEN];
  for (let i = 0; i < parts.length; i++) {
    if (i) pieces.push(COMMA);
    pieces.push(parts[i]!);
  }
  pieces.push(CLOSE);
  return Buffer.concat(pieces);
}

function listening(http: Server): Promise<void> {
  return http.listening ? Promise.resolve() : new Promise((resolve, reject) => {
    http.once('listening', () => resolve());
    http.once('error', reject);
  });
}

function port(http: Server): number {
  return (http.address() as AddressInfo).port;
}

function closeHttp(http: Server): Promise<void> {
  http.closeAllConnections();
  return new Promise((resolve) => http.close(() => resolve()));
}
