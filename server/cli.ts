// SPDX-License-Identifier: MIT
/**
 * @module cli
 * `twin-state serve`: serves an app's stores and pages with no server code of one's own.
 *
 *     twin-state serve [--port 3000] [--app ./app.js] [--pages ./pages] [--storage SPEC]
 *
 * The app module exports `app` (from `defineApp()`) and may export `setup(server)`, called
 * once the server is ready (to keep counters, start timers...). Storage is `--storage`, else
 * `TWIN_STORAGE`, else SQLite in `.twin-data/twin.db`.
 */
import { once } from 'node:events';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import Koa from 'koa';
import type { App } from '../src/define.js';
import { createStorage } from './create-storage.js';
import { twin } from './twin.js';
import type { TwinServer } from './twin.js';

const DEFAULT_PORT = 3000;
const DEFAULT_STORAGE = 'sqlite:.twin-data/twin.db';
const USAGE = 'Usage: twin-state serve [--port N] [--host H] [--app MODULE] [--pages DIR] [--storage memory|sqlite:PATH|redis://HOST:PORT]';

/** A running `serve`: its URL and how to stop it. */
export interface Serving {
  readonly url: string;
  /** The storage spec in use. */
  readonly storage: string;
  readonly server: TwinServer;
  close(): Promise<void>;
}

/** Starts serving as the command line says; resolves once listening. */
export async function serve(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Serving> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      app: { type: 'string' },
      pages: { type: 'string' },
      storage: { type: 'string' },
    },
  });
  const port = Number(values.port ?? env.PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`Invalid port ${JSON.stringify(values.port ?? env.PORT)}. ${USAGE}`);
  if (!values.app) throw new TypeError(`Which app? Pass --app MODULE (a module exporting "app"). ${USAGE}`);
  const spec = values.storage ?? env.TWIN_STORAGE ?? DEFAULT_STORAGE;
  const module = (await import(pathToFileURL(resolve(values.app)).href)) as { app?: App; default?: App; setup?: (server: TwinServer) => unknown };
  const app = module.app ?? module.default;
  if (!app) throw new TypeError(`${values.app} must export "app" (the result of defineApp()).`);
  const storage = await createStorage(spec);
  const server = twin(app, { storage, ...(values.pages ? { pages: resolve(values.pages) } : {}) });
  await server.ready;
  await module.setup?.(server);
  const koa = new Koa();
  koa.use(server.middleware());
  const http = koa.listen(port, values.host ?? env.HOST);
  await once(http, 'listening');
  server.attach(http);
  const address = http.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://localhost:${actualPort}`,
    storage: spec,
    server,
    async close() {
      http.closeAllConnections();
      await Promise.all([server.close(), new Promise((done) => http.close(done))]);
      await storage.close();
    },
  };
}

/** The `twin-state` command. */
export async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== 'serve') {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const serving = await serve(rest);
  console.log(`twin-state serving ${serving.url}`);
  console.log(`storage: ${serving.storage}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: shutting down`);
    serving.close().then(() => process.exit(0), (err) => {
      console.error(err);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
