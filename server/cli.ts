// SPDX-License-Identifier: MIT
/**
 * @module cli
 * `twin-state serve`: serves an app's stores and pages with no server code of one's own.
 *
 *     twin-state serve --app ./app.js [--port 3000] [--host H] [--pages ./pages]
 *                      [--storage SPEC] [--public-url URL] [--origins LIST] [--compress[=BYTES]]
 *
 * The app module exports `app` (from `defineApp()`) and may export `setup(server)`, called
 * once the server is ready (to keep counters, start timers...). Storage is `--storage`, else
 * `TWIN_STORAGE`, else SQLite in `.twin-data/twin.db` when better-sqlite3 is installed, else
 * memory. Mistakes on the command line, in the app module or in the installed package are
 * {@link CliError}s: one sentence and exit code 2, no stack trace.
 */
import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import Koa from 'koa';
import type { App } from '../src/define.js';
import { createStorage } from './create-storage.js';
import { createRedisPresenceBus } from './presence-redis.js';
import { BUNDLE_DIR, PACKAGED } from './static.js';
import { twin } from './twin.js';
import type { TwinServer } from './twin.js';

const DEFAULT_PORT = 3000;
const SQLITE_STORAGE = 'sqlite:.twin-data/twin.db';
/** The exit code of a mistake in what the command was given (as for `parseArgs` errors). */
export const EXIT_USAGE = 2;
/** TypeScript app modules, which Node 20 cannot import without a loader. */
const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
/** The bundle every page loads; the server cannot serve pages without it. */
const MAIN_BUNDLE = 'twin.js';
/** The last line rollup writes into a bundle: a file without it was cut short. */
const BUNDLE_END = `//# sourceMappingURL=${MAIN_BUNDLE}.map`;

const USAGE = `Usage: twin-state serve --app MODULE [options]

Serves the stores and actions of MODULE (a module exporting "app", from defineApp()).

Options:
  --app MODULE        the app module (.js; .ts when a TypeScript loader such as tsx is installed)
  --port N            the port to listen on (default: PORT, else ${DEFAULT_PORT}; 0 picks a free one)
  --host H            the address to listen on (default: HOST, else every address)
  --pages DIR         a folder of pages to serve, rendered with current store values
  --storage SPEC      memory | sqlite:PATH | redis://HOST:PORT[/DB] (default: TWIN_STORAGE,
                      else ${SQLITE_STORAGE} when better-sqlite3 is installed, else memory)
  --public-url URL    the URL browsers reach this server at, behind a proxy (default: PUBLIC_URL)
  --origins LIST      other origins whose pages may connect, comma-separated, or * for any
                      (default: TWIN_ORIGINS; with neither option, only pages on this machine)
  --compress[=BYTES]  compress frames of BYTES or more with permessage-deflate (default 1024)
  -h, --help          show this help`;

/** A mistake in what the command was given: reported as one sentence, exit code 2. */
export class CliError extends Error {
  readonly code = 'TWIN_ERR_CLI';
  override name = 'CliError';
}

/** A running `serve`: its URL and how to stop it. */
export interface Serving {
  readonly url: string;
  /** The storage spec in use. */
  readonly storage: string;
  readonly server: TwinServer;
  close(): Promise<void>;
}

/** What an app module may export. */
interface AppModule {
  app?: App;
  default?: App;
  setup?: (server: TwinServer) => unknown;
}

/** Starts serving as the command line says; resolves once listening. */
export async function serve(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Serving> {
  const values = parse(argv);
  const port = Number(values.port ?? env.PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(`The port ${JSON.stringify(values.port ?? env.PORT)} is not a port number (0 to 65535).`);
  }
  if (!values.app) throw new CliError('Which app? Pass --app MODULE, a module that exports "app" (the result of defineApp()).');
  const pages = values.pages === undefined ? undefined : resolve(values.pages);
  if (pages !== undefined && !isFolder(pages)) throw new CliError(`The pages folder ${JSON.stringify(values.pages)} does not exist (it resolves to ${pages}).`);
  const publicUrl = values['public-url'] ?? env.PUBLIC_URL;
  if (publicUrl !== undefined && !URL.canParse(publicUrl)) {
    throw new CliError(`The public URL ${JSON.stringify(publicUrl)} is not an absolute URL such as https://app.example.`);
  }
  const origins = parseOrigins(values.origins ?? env.TWIN_ORIGINS);
  const compression = parseCompression(values.compress);
  checkBundles();
  const module = await importApp(values.app);
  const app = module.app ?? module.default;
  if (!isApp(app)) throw new CliError(`The module ${values.app} does not export "app" (the result of defineApp()).`);
  const spec = values.storage ?? env.TWIN_STORAGE ?? defaultStorage();
  const storage = await createStorage(spec).catch((err: unknown) => {
    throw new CliError((err as Error).message, { cause: err });
  });
  // Nodes sharing a Redis share presence too (over its pub/sub; nothing is stored).
  const bus = /^rediss?:\/\//.test(spec) ? await createRedisPresenceBus(spec) : undefined;
  const server = twin(app, { storage, ...(pages ? { pages } : {}), ...(publicUrl ? { publicUrl } : {}), ...(origins ? { origins } : {}), ...(compression ? { compression } : {}), ...(bus ? { presence: { bus } } : {}) });
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
      // The twin server says goodbye to its sockets first; then nothing holds the port.
      await server.close();
      http.closeAllConnections();
      await new Promise((done) => http.close(done));
      await storage.close();
      await bus?.close();
    },
  };
}

/** The `twin-state` command. Resolves once serving (or with `process.exitCode` set). */
export async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help' || (command === 'serve' && (rest.includes('--help') || rest.includes('-h')))) {
    console.log(USAGE);
    return;
  }
  if (command !== 'serve') {
    console.error(command === undefined ? USAGE : `Unknown command ${JSON.stringify(command)}: the command is "serve".\n\n${USAGE}`);
    process.exitCode = EXIT_USAGE;
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
    serving.close().then(() => process.exit(0), (err: unknown) => {
      console.error(`twin-state could not shut down cleanly: ${(err as Error).message}`);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** Reads the options of `serve`; an unknown or incomplete option is a {@link CliError}. */
function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      // (A bare --compress means the default threshold.)
      args: argv.map((arg) => (arg === '--compress' ? '--compress=' : arg)),
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        app: { type: 'string' },
        pages: { type: 'string' },
        storage: { type: 'string' },
        'public-url': { type: 'string' },
        origins: { type: 'string' },
        compress: { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message.replace(/\.?$/, '.')} Run "twin-state serve --help" for the options.`, { cause: err });
  }
}

/**
 * Imports the app module. A TypeScript module needs a loader on Node 20: when none handles
 * it, tsx is registered from the app's own dependencies if it has it (a checkout of
 * twin-state runs under tsx already; Node 23 strips types by itself).
 */
async function importApp(app: string): Promise<AppModule> {
  const file = resolve(app);
  if (!existsSync(file)) throw new CliError(`The app module ${JSON.stringify(app)} does not exist (it resolves to ${file}).`);
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as AppModule;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !TS_EXTENSIONS.has(extname(file))) throw err;
    if (!(await registerTsx(file))) {
      throw new CliError(`The app module ${app} is TypeScript, which this Node cannot load by itself: install a loader (npm install --save-dev tsx) or compile the module to .js.`, { cause: err });
    }
    // The failed load stays cached under the plain URL: import it again under another one.
    return (await import(`${url}?loader=tsx`)) as AppModule;
  }
}

/**
 * Registers tsx as resolved from the app's folder; false if the app cannot resolve it. Node 20
 * resolves ES modules from a given folder only through `require.resolve`, which picks the
 * CommonJS build of `tsx/esm/api` (that one cannot register from an ES module): so this finds
 * tsx's package.json that way and takes the `import` target of its exports.
 */
async function registerTsx(file: string): Promise<boolean> {
  let manifest: string;
  try {
    manifest = createRequire(file).resolve('tsx/package.json');
  } catch {
    return false;
  }
  type Target = string | { default?: Target; import?: Target };
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, Target> }).exports;
  let target: Target | undefined = exports?.['./esm/api'];
  while (target && typeof target === 'object') target = target.import ?? target.default;
  if (typeof target !== 'string') return false;
  const { register } = (await import(new URL(target, pathToFileURL(manifest)).href)) as { register: () => unknown };
  register();
  return true;
}

/**
 * Fails at once, rather than with a 404 on every page, when the installed package lacks its
 * browser bundle or holds a damaged one. A checkout that has not been built only gets a note:
 * `npm run build` is a step of its own there.
 */
function checkBundles(): void {
  const file = join(BUNDLE_DIR, MAIN_BUNDLE);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  const damaged = text !== undefined && !text.trimEnd().endsWith(BUNDLE_END);
  if (text !== undefined && !damaged) return;
  if (!PACKAGED) {
    console.warn(`note: ${file} is ${damaged ? 'damaged' : 'not built'}; pages cannot load /_twin/${MAIN_BUNDLE} until "npm run build".`);
    return;
  }
  throw new CliError(`The browser bundle of twin-state, ${file}, is ${damaged ? 'damaged (cut short or edited)' : 'missing'}: reinstall twin-state (npm install twin-state).`);
}

/** `--origins`: `*`, or origins separated by commas; anything else is a {@link CliError}. */
function parseOrigins(list: string | undefined): readonly string[] | '*' | undefined {
  if (list === undefined || list.trim() === '') return undefined;
  if (list.trim() === '*') return '*';
  return list.split(',').map((item) => item.trim()).filter(Boolean).map((origin) => {
    const parsed = URL.canParse(origin) ? new URL(origin) : undefined;
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.pathname !== '/' || parsed.search || parsed.hash || parsed.username) {
      throw new CliError(`The origin ${JSON.stringify(origin)} is not an origin such as https://app.example (a scheme, a host and maybe a port, no path).`);
    }
    return parsed.origin;
  });
}

/** SQLite when its driver is installed (data survives a restart), else memory. */
function defaultStorage(): string {
  try {
    createRequire(join(process.cwd(), 'package.json')).resolve('better-sqlite3');
    return SQLITE_STORAGE;
  } catch {
    try {
      createRequire(import.meta.url).resolve('better-sqlite3');
      return SQLITE_STORAGE;
    } catch {
      return 'memory';
    }
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `value` looks like the result of defineApp(): an object with its store and action builders. */
function isApp(value: unknown): value is App {
  return typeof value === 'object' && value !== null && typeof (value as { shared?: unknown }).shared === 'function';
}

/** `--compress` (1,024 bytes) or `--compress=BYTES`. */
function parseCompression(value: string | undefined): { threshold: number } | undefined {
  if (value === undefined) return undefined;
  const threshold = value === '' ? 1024 : Number(value);
  if (!Number.isInteger(threshold) || threshold < 0) throw new CliError(`--compress takes a number of bytes (0 or more), not ${JSON.stringify(value)}.`);
  return { threshold };
}
