// SPDX-License-Identifier: MIT
/**
 * @module server-helpers
 * A real twin server for tests: Koa + `twin(app, options)` listening on an ephemeral loopback
 * port with the WebSocket endpoint attached, plus two kinds of clients — the high-level
 * `Client` of `twin-state` (over `ws`) and a raw `ws` socket that records every message it
 * receives, so tests can assert on the exact protocol traffic. Every wait here is bounded, and
 * `close()` releases every socket, timer and client made through it, so `node --test` exits.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Koa from 'koa';
import WebSocket from 'ws';
import type { ClientOptions as WsClientOptions } from 'ws';
import { createClient } from '../../src/index.js';
import type { App, Client, ClientOptions, Json, WebSocketClass } from '../../src/index.js';
import { twin } from '../../server/index.js';
import type { TwinOptions, TwinServer } from '../../server/index.js';

/** The longest any helper waits by default. */
export const DEFAULT_TIMEOUT_MS = 2000;
/** The longest any helper may be asked to wait. */
export const MAX_TIMEOUT_MS = 5000;
const HOST = '127.0.0.1';

/** A message as received: parsed JSON with at least its type. */
export type Message = { t: string; [key: string]: Json | undefined };

//#region waiting

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `check()` is truthy (polled every 10 ms); rejects with `what` after `timeoutMs`. */
export async function until(check: () => unknown, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + Math.min(timeoutMs, MAX_TIMEOUT_MS);
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await delay(10);
  }
}

/** `promise`, or a rejection naming `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`)), Math.min(timeoutMs, MAX_TIMEOUT_MS));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A fresh, valid client id (a UUID: 36 characters of `[\w-]`). */
export function newClientId(): string {
  return randomUUID();
}

//#endregion waiting
//#region raw client

/** A raw `ws` socket speaking the twin protocol by hand, recording all it receives. */
export interface RawClient {
  readonly ws: WebSocket;
  /** Every message received, in order, frames (arrays) flattened. */
  readonly messages: Message[];
  /** Every frame received, as text. */
  readonly frames: string[];
  /** Bytes of all frames received so far. */
  readonly bytesReceived: number;
  /** The client id given to {@link hello}, if any. */
  readonly clientId: string | undefined;
  /** Resolves with the close code and reason once the socket is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Sends an object (as JSON) or a string as one text frame, or a Buffer as a binary frame. */
  send(message: unknown): void;
  /** Sends `hello` and resolves with the `welcome`. */
  hello(clientId?: string, subs?: Record<string, number>): Promise<Message>;
  /**
   * The first message matching `predicate` after the one the previous `next` returned
   * (messages already received count), waiting up to `timeoutMs` for it.
   */
  next(predicate: (message: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Messages received from index `from` on. */
  since(from: number): Message[];
  /** Closes the socket (no-op if closed) and waits for it to be closed. */
  close(): Promise<void>;
}

/** Options of {@link rawClient}: those of `ws` (headers, origin...). */
export type RawClientOptions = WsClientOptions;

/** Opens a raw WebSocket to `url` and resolves once it is open. */
export async function rawClient(url: string, options: RawClientOptions = {}): Promise<RawClient> {
  const ws = new WebSocket(url, options);
  const messages: Message[] = [];
  const frames: string[] = [];
  let bytes = 0;
  let cursor = 0;
  let clientId: string | undefined;
  const waiters = new Set<() => void>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters) wake();
    });
  });
  ws.on('error', () => undefined); // 'close' follows; tests look at that
  ws.on('message', (data: Buffer, isBinary) => {
    const text = isBinary ? '' : data.toString();
    bytes += data.length;
    frames.push(text);
    let parsed: Message | Message[];
    try {
      parsed = JSON.parse(text) as Message | Message[];
    } catch {
      parsed = { t: '<not json>', text }; // the server must never send this; tests will see it
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) messages.push(message);
    for (const wake of waiters) wake();
  });
  await within(Promise.race([
    once(ws, 'open'),
    once(ws, 'unexpected-response').then(() => Promise.reject(new Error(`The upgrade to ${url} was refused.`))),
    once(ws, 'close').then(() => Promise.reject(new Error(`The socket to ${url} closed before opening.`))),
  ]), `a WebSocket to ${url} to open`);

  const client: RawClient = {
    ws,
    messages,
    frames,
    get bytesReceived() {
      return bytes;
    },
    get clientId() {
      return clientId;
    },
    closed,
    send(message) {
      if (Buffer.isBuffer(message)) ws.send(message, { binary: true });
      else ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
    async hello(id = newClientId(), subs = {}) {
      clientId = id;
      client.send({ t: 'hello', proto: 1, client: id, subs });
      return client.next((m) => m.t === 'welcome');
    },
    next(predicate, timeoutMs = DEFAULT_TIMEOUT_MS) {
      const found = (): Message | undefined => {
        for (let i = cursor; i < messages.length; i++) {
          if (predicate(messages[i]!)) {
            cursor = i + 1;
            return messages[i];
          }
        }
        return undefined;
      };
      const now = found();
      if (now) return Promise.resolve(now);
      return new Promise<Message>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(wake);
          const seen = messages.slice(cursor).map((m) => JSON.stringify(m).slice(0, 200));
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for a message; received since: ${seen.join(' | ') || 'nothing'}.`));
        }, Math.min(timeoutMs, MAX_TIMEOUT_MS));
        const wake = () => {
          const message = found();
          if (message) {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve(message);
          } else if (ws.readyState === WebSocket.CLOSED) {
            clearTimeout(timer);
            waiters.delete(wake);
            reject(new Error('The socket closed while waiting for a message.'));
          }
        };
        waiters.add(wake);
      });
    },
    since(from) {
      return messages.slice(from);
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      const timer = setTimeout(() => ws.terminate(), 1000);
      await closed;
      clearTimeout(timer);
    },
  };
  return client;
}

//#endregion raw client
//#region server

/** A running test server. */
export interface TestServer {
  /** `ws://127.0.0.1:<port>/_twin/ws` */
  readonly url: string;
  /** `http://127.0.0.1:<port>` */
  readonly http: string;
  readonly port: number;
  readonly server: TwinServer;
  readonly koa: Koa;
  readonly httpServer: Server;
  /** A high-level client connected to this server, closed with it. */
  client(options?: ClientOptions): Client;
  /** A raw client connected to this server (optionally with `?query`), closed with it. */
  raw(options?: RawClientOptions & { query?: string }): Promise<RawClient>;
  /** Closes the clients made here, the twin server and the http server (with every socket). */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Listen on this port (to restart a server where clients expect it). Default: any free one. */
  port?: number;
  /** Adds Koa middleware after the twin middleware. */
  after?: (koa: Koa) => void;
}

/** The `ws` WebSocket class, typed as the client expects (it only uses the browser-like API). */
export const NodeWebSocket = WebSocket as unknown as WebSocketClass;

/** Starts Koa + `twin(app, options)` on 127.0.0.1, attaches the hub and waits for `ready`. */
export async function startServer(app: App, options: TwinOptions = {}, start: StartOptions = {}): Promise<TestServer> {
  const koa = new Koa();
  koa.silent = true;
  const server = twin(app, options);
  koa.use(server.middleware());
  start.after?.(koa);
  const httpServer = koa.listen(start.port ?? 0, HOST);
  const sockets = new Set<Socket>();
  httpServer.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await within(once(httpServer, 'listening'), 'the http server to listen');
  server.attach(httpServer);
  await within(server.ready, 'the twin server to be ready');
  const port = (httpServer.address() as AddressInfo).port;
  const url = `ws://${HOST}:${port}/_twin/ws`;
  const clients = new Set<Client>();
  const raws = new Set<RawClient>();
  let closing: Promise<void> | undefined;

  return {
    url,
    http: `http://${HOST}:${port}`,
    port,
    server,
    koa,
    httpServer,
    client(clientOptions = {}) {
      const client = createClient({ url, WebSocket: NodeWebSocket, ...clientOptions });
      clients.add(client);
      return client.connect();
    },
    async raw({ query, ...wsOptions } = {}) {
      const raw = await rawClient(query ? `${url}?${query}` : url, wsOptions);
      raws.add(raw);
      return raw;
    },
    close() {
      closing ??= (async () => {
        for (const client of clients) client.close();
        await Promise.all([...raws].map((raw) => raw.close()));
        await within(server.close(), 'the twin server to close');
        const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await within(stopped, 'the http server to close');
      })();
      return closing;
    },
  };
}

//#endregion server
