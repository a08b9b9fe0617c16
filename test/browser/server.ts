// SPDX-License-Identifier: MIT
/**
 * @module test/browser/server
 * The real server of the browser tests (Node side): Koa + `twin(app)` on a loopback port, its
 * WebSocket endpoint also attached to the test runner's own server (so pages served by the
 * runner reach `/_twin/ws` on their own origin), and the commands tests send through
 * `executeServerCommand` to read and write server state.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import type { Middleware } from 'koa';
import { settled } from '../../src/index.js';
import type { Json } from '../../src/index.js';
import { twin } from '../../server/index.js';
import type { TwinServer } from '../../server/index.js';
import { app, board, box, initialBox, pageState } from './app.js';

export interface TestServer {
  readonly twin: TwinServer;
  /** `ws://127.0.0.1:<port>/_twin/ws` */
  readonly wsUrl: string;
  /** `http://127.0.0.1:<port>` */
  readonly httpUrl: string;
  /** Serves `/_twin/ws` on another http server too (the test runner's). */
  attach(server: Server): void;
  /** Koa middleware for the runner: `/twin-pages/*` rendered by twin's middleware. */
  readonly pages: Middleware;
  /** Runs a test command; `undefined` for a command it does not know. */
  command(name: string, payload: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts the test server on an ephemeral loopback port. */
export async function startTestServer(): Promise<TestServer> {
  const server = twin(app, {
    origins: '*', // the test page's origin is the runner's, not this server's
    pages: fileURLToPath(new URL('.', import.meta.url)),
  });
  const koa = new Koa();
  const middleware = server.middleware();
  koa.use(middleware);
  const http = koa.listen(0, '127.0.0.1');
  await once(http, 'listening');
  server.attach(http);
  await server.ready;
  const { port } = http.address() as AddressInfo;

  return {
    twin: server,
    wsUrl: `ws://127.0.0.1:${port}/_twin/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    attach: (other) => void server.attach(other),
    pages: (ctx, next) => (ctx.path.startsWith('/twin-pages/') ? middleware(ctx, next) : next()),
    command: (name, payload) => command(server, name, payload as Payload),
    async close() {
      await server.close();
      http.closeAllConnections();
      http.close();
    },
  };
}

interface Payload {
  store: string;
  key?: string;
  value?: Json;
}

async function command(server: TwinServer, name: string, payload: Payload): Promise<unknown> {
  switch (name) {
    case 'twin-read': {
      const store = await server.hub.load(payload.store);
      return store ? store.replica.confirmed : null;
    }
    case 'twin-write': {
      const handle = await handleOf(server, payload.store);
      writePath(handle, (payload.key ?? '').split('.'), payload.value ?? null);
      await settled(handle);
      return true;
    }
    case 'twin-reset': {
      const handle = await handleOf(server, payload.store) as Record<string, unknown>;
      const initial = payload.store === 'board' ? { calls: {}, counts: {} }
        : payload.store === 'page_state' ? { n: 0, messages: [] } : initialBox();
      for (const key of Object.keys(handle)) if (!(key in initial)) delete handle[key];
      Object.assign(handle, initial);
      await settled(handle);
      return true;
    }
    case 'twin-connections':
      return server.connectionCount;
    default:
      return undefined;
  }
}

/** The server-side handle of a test store (`board` or `box/<id>`), loaded. */
async function handleOf(server: TwinServer, name: string): Promise<object> {
  if (!(await server.hub.load(name))) throw new Error(`No store ${JSON.stringify(name)} in the test app.`);
  if (name === 'board') return board;
  if (name === 'page_state') return pageState;
  if (name.startsWith('box/')) return box(name.slice(4));
  throw new Error(`The test commands do not write ${JSON.stringify(name)}.`);
}

function writePath(root: object, path: string[], value: Json): void {
  let at = root as Record<string, unknown>;
  for (const key of path.slice(0, -1)) at = at[/^\d+$/.test(key) ? Number(key) : key] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  at[/^\d+$/.test(last) ? Number(last) : last] = value;
}
