// SPDX-License-Identifier: MIT
/**
 * @module package.test
 * twin-state as a stranger gets it from npm: `npm pack` (which builds, through `prepack`) →
 * the tarball installed into a fresh app in a temporary folder, outside this checkout (so no
 * module resolves to its sources or its node_modules) → plain-Node imports of every entry →
 * `twin-state serve` of a small `.js` app, and its one-sentence errors → a strict TypeScript
 * app (`skipLibCheck: false`, no redis or better-sqlite3) type-checking against the shipped
 * `.d.ts` → Chromium loading a page from another origin that takes the packaged
 * `dist/twin.min.js` from that origin (as from a CDN), `connect()`s to the twin server, and
 * sees a second page's write.
 *
 * The install works offline from the npm cache (`--prefer-offline`: the dependencies are the
 * checkout's own); every step has a time limit. `TWIN_PACKAGE_BUILT=1` (set by
 * test/run-all.js right after its full build) packs without building again.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { freePort } from '../helpers/free-port.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** `npm pack`, a full build included. */
const PACK_TIMEOUT_MS = 180_000;
/** `npm install` of the tarball from the npm cache. */
const INSTALL_TIMEOUT_MS = 180_000;
/** Any other command (a Node import, tsc, a failing `twin-state serve`). */
const COMMAND_TIMEOUT_MS = 60_000;
/** How long `twin-state serve` may take to say it is serving, and to stop on SIGTERM. */
const SERVE_TIMEOUT_MS = 20_000;
/** What Chromium may take to show a synced value. */
const SYNC_TIMEOUT_MS = 15_000;
/** The tarball must stay a download, not a dump of the repository. */
const TARBALL_LIMIT_BYTES = 1_000_000;
const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const CHROME_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** npm without its nags, so its output is only what this test looks at. */
const NPM_ENV = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false', FORCE_COLOR: '0' };

/** The consumer app's files. */
const APP_JS = `import { defineApp } from 'twin-state';
export const app = defineApp();
export const counter = app.shared(function counter() { return { n: 0 }; });
export const bump = app.action(function bump() { counter.n += 1; });
`;
const PAGE_HTML = `<!doctype html><title>served</title><script type="module" src="/_twin/twin.js"></script>
<twin-bind store="counter" key="n"></twin-bind>
`;
/** A Koa server of the consumer's own, allowing the page origin given in PAGE_ORIGIN. */
const SERVER_JS = `import Koa from 'koa';
import { twin } from 'twin-state/server';
import { app } from './app.js';
const server = twin(app, { origins: [process.env.PAGE_ORIGIN] });
await server.ready;
const koa = new Koa();
koa.use(server.middleware());
const http = koa.listen(Number(process.env.PORT), '127.0.0.1');
http.once('listening', () => console.log('listening'));
server.attach(http);
process.once('SIGTERM', async () => { await server.close(); http.closeAllConnections(); http.close(); });
`;
/** A strict app importing every entry, client and server. */
const CHECK_TS = `import { call, connect, defineApp, isTwinError, snapshot, store, subscribe, TwinError, type Json } from 'twin-state';
import { createMemoryStorage, createStorage, renderPage, twin, TwinServer, type StorageAdapter, type TwinOptions } from 'twin-state/server';
import { TwinBindElement, TwinListElement, TwinShowElement } from 'twin-state/elements';
import { html, LitElement, SignalWatcher } from 'twin-state/lit';

export const app = defineApp();
const counter = app.shared('counter', () => ({ n: 0, names: [] as string[] }));
counter.n += 1;
counter.names.push('a');
const storage: StorageAdapter = createMemoryStorage();
const options: TwinOptions = { storage, origins: ['https://app.example'] };
export const server: TwinServer = twin(app, options);
export const stop: () => void = subscribe(counter, () => undefined);
export const value: { readonly n: number } = snapshot(counter);
export const later: Promise<StorageAdapter> = createStorage('memory');
export const elements = [TwinBindElement, TwinListElement, TwinShowElement] as const;
export class Board extends SignalWatcher(LitElement) {
  override render() { return html\`\${counter.n}\`; }
}
export const json: Json = { a: [1, 'b', null] };
export const checks = [call, connect, isTwinError, store, TwinError, renderPage] as const;
// @ts-expect-error internals are not part of the package's API
import('twin-state/dist/lib/src/replica.js');
`;
/** A server app, Node types only: no DOM in its lib, as a backend's tsconfig often is. */
const SERVER_TS = `import Koa from 'koa';
import { defineApp } from 'twin-state';
import { twin } from 'twin-state/server';
export const app = defineApp();
const server = twin(app, { publicUrl: 'https://app.example' });
const koa = new Koa();
koa.use(server.middleware());
server.attach(koa.listen(0));
`;
const TSCONFIG_SERVER = {
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'],
    strict: true, skipLibCheck: false, noEmit: true, types: ['node'],
  },
  files: ['server-check.ts'],
};
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    strict: true, skipLibCheck: false, noEmit: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true,
    types: [],
  },
  files: ['check.ts'],
};

interface Result {
  status: number | null;
  output: string;
}

/** Runs a command to its end, within `timeout`; returns its exit status and all its output. */
function run(command: string, args: readonly string[], cwd: string, timeout = COMMAND_TIMEOUT_MS, env: NodeJS.ProcessEnv = NPM_ENV): Result {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 32 << 20 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `npm`'s lines that are not about what was asked (this machine's npmrc, engines of others). */
function npmNoise(line: string): boolean {
  return /Unknown user config|EBADENGINE|^\s*$/.test(line);
}

/** A child process that is killed when the test ends, whatever happens. */
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts a long-running command and resolves once a line of its output matches `ready`. */
async function start(command: string, args: readonly string[], cwd: string, ready: RegExp, env: NodeJS.ProcessEnv = NPM_ENV) {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} was not ready within ${SERVE_TIMEOUT_MS} ms:\n${output}`)), SERVE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    /** SIGTERM, then the exit code (SIGKILL and a failure after {@link SERVE_TIMEOUT_MS}). */
    async stop(): Promise<number | null> {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), SERVE_TIMEOUT_MS);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

let work = '';
let tarball = '';
let consumer = '';
let installOutput = '';

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'twin-package-'));
  const built = process.env.TWIN_PACKAGE_BUILT === '1';
  const pack = run('npm', ['pack', '--json', '--pack-destination', work, ...(built ? ['--ignore-scripts'] : [])], ROOT, PACK_TIMEOUT_MS);
  assert.equal(pack.status, 0, `npm pack failed:\n${pack.output}`);
  const json = pack.output.slice(pack.output.indexOf('['));
  const [{ filename }] = JSON.parse(json.slice(0, json.lastIndexOf(']') + 1)) as [{ filename: string }];
  tarball = join(work, filename);
  consumer = join(work, 'app');
  mkdirSync(join(consumer, 'pages'), { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  const install = run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], consumer, INSTALL_TIMEOUT_MS);
  installOutput = install.output;
  assert.equal(install.status, 0, `npm install of the tarball failed:\n${install.output}`);
  writeFileSync(join(consumer, 'app.js'), APP_JS);
  writeFileSync(join(consumer, 'pages', 'index.html'), PAGE_HTML);
  writeFileSync(join(consumer, 'server.js'), SERVER_JS);
  writeFileSync(join(consumer, 'check.ts'), CHECK_TS);
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  writeFileSync(join(consumer, 'server-check.ts'), SERVER_TS);
  writeFileSync(join(consumer, 'tsconfig.server.json'), JSON.stringify(TSCONFIG_SERVER, null, 2));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('the tarball holds the built package and nothing of the repository besides', (t) => {
    const list = run('tar', ['-tzf', tarball], work);
    assert.equal(list.status, 0, list.output);
    const files = list.output.trim().split('\n').map((line) => line.replace(/^package\//, ''));
    for (const needed of ['package.json', 'README.md', 'server/bin.js', 'dist/twin.min.js', 'dist/twin.js', 'dist/twin.dev.js', 'dist/lit.js', 'dist/lib/src/index.js', 'dist/lib/src/index.d.ts', 'dist/lib/server/index.d.ts', 'dist/lib/elements/lit.d.ts', 'dist/lib-prod/src/index.js', 'dist/custom-elements.json']) {
      assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
    }
    const stray = files.filter((file) => (/\.ts$/.test(file) && !file.endsWith('.d.ts')) || /^(test|bench|demo|src|elements|scripts)\//.test(file));
    assert.deepEqual(stray, [], 'sources, tests, benchmarks or the demo are in the tarball');
    const size = statSync(tarball).size;
    assert.ok(size < TARBALL_LIMIT_BYTES, `the tarball is ${size} B, over ${TARBALL_LIMIT_BYTES} B`);
    t.diagnostic(`tarball: ${size.toLocaleString('en')} B, ${files.length} files`);
  });

  test('installing it asks the app to approve no install script', () => {
    assert.doesNotMatch(installOutput, /install-scripts|allowScripts/, installOutput);
    const surprising = installOutput.split('\n').filter((line) => /warn|ERR/i.test(line) && !npmNoise(line));
    assert.deepEqual(surprising, [], 'npm install warned');
  });
});

describe('custom elements manifest', () => {
  test('package.json names it, and it describes every element with its attributes', () => {
    const dir = join(consumer, 'node_modules/twin-state');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { customElements: string };
    const manifest = JSON.parse(readFileSync(join(dir, pkg.customElements), 'utf8')) as {
      modules: { declarations?: { tagName?: string; attributes?: { name: string }[] }[] }[];
    };
    const tags = new Map<string, string[]>();
    for (const module of manifest.modules) {
      for (const d of module.declarations ?? []) if (d.tagName) tags.set(d.tagName, (d.attributes ?? []).map((a) => a.name));
    }
    assert.deepEqual([...tags.keys()].sort(), ['twin-bind', 'twin-error', 'twin-list', 'twin-presence', 'twin-show', 'twin-status']);
    assert.ok(tags.get('twin-presence')?.includes('store'), 'twin-presence lacks store');
    for (const name of ['store', 'key', 'attr', 'toggle', 'prop']) assert.ok(tags.get('twin-bind')?.includes(name), `twin-bind lacks ${name}`);
    for (const name of ['store', 'key', 'not', 'equals']) assert.ok(tags.get('twin-show')?.includes(name), `twin-show lacks ${name}`);
    assert.ok(tags.get('twin-list')?.includes('key'));
  });
});

describe('plain Node imports', () => {
  test('every entry imports with no TypeScript tooling and no DOM (the elements too)', () => {
    const script = `
      import * as core from 'twin-state';
      import * as server from 'twin-state/server';
      const elements = await import('twin-state/elements');
      const lit = await import('twin-state/lit');
      const internal = await import('twin-state/dist/lib/src/replica.js').then(() => 'reachable', (err) => err.code);
      console.log(JSON.stringify({
        core: typeof core.defineApp, server: typeof server.twin, elements: typeof elements.TwinBindElement,
        lit: typeof lit.LitElement, litStore: typeof lit.store, internal,
        resolved: import.meta.resolve('twin-state'),
      }));`;
    const result = run(process.execPath, ['--input-type=module', '-e', script], consumer);
    assert.equal(result.status, 0, result.output);
    const seen = JSON.parse(result.output.trim().split('\n').at(-1) ?? '') as Record<string, string>;
    assert.deepEqual({ ...seen, resolved: undefined }, {
      core: 'function', server: 'function', elements: 'function', lit: 'function', litStore: 'function',
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED', resolved: undefined,
    });
    assert.match(seen.resolved ?? '', /\/node_modules\/twin-state\/dist\/lib\/src\/index\.js$/);
  });

  test('the "default" condition (an app\'s production bundle) has DEV_MODE off', () => {
    // Node always adds the "node" condition, so resolve as a bundler would: by the exports map.
    const pkg = JSON.parse(readFileSync(join(consumer, 'node_modules/twin-state/package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    for (const entry of ['.', './elements', './lit']) {
      const target = pkg.exports[entry]?.default ?? '';
      assert.match(target, /^\.\/dist\/lib-prod\//, `${entry} has no production default`);
      statSync(join(consumer, 'node_modules/twin-state', target));
    }
    const result = run(process.execPath, ['--input-type=module', '-e', `import('./node_modules/twin-state/dist/lib-prod/src/dev.js').then((m) => console.log(m.DEV_MODE))`], consumer);
    assert.equal(result.output.trim(), 'false', result.output);
  });
});

describe('an app bundle (esbuild, as an app\'s bundler)', () => {
  test('picks the production build by default and the full messages with the development condition', () => {
    writeFileSync(join(consumer, 'entry.js'), `import { connect, store } from 'twin-state';\nimport 'twin-state/elements';\nconnect('ws://127.0.0.1:1/_twin/ws');\nstore('a');\n`);
    const esbuild = join(ROOT, 'node_modules/.bin/esbuild');
    const bundle = (conditions: string[]) => {
      const out = join(work, `bundle-${conditions.join('-') || 'default'}.js`);
      const result = run(esbuild, ['entry.js', '--bundle', '--format=esm', '--platform=browser', '--minify', `--outfile=${out}`, ...conditions.map((c) => `--conditions=${c}`)], consumer);
      assert.equal(result.status, 0, result.output);
      return readFileSync(out, 'utf8');
    };
    // A message only the development build holds (src/replica.ts, behind DEV_MODE).
    const devOnly = 'must hold an object or an array';
    assert.ok(!bundle([]).includes(devOnly), 'the default (production) bundle kept a development message');
    assert.ok(bundle(['development']).includes(devOnly), 'the development bundle lacks the full messages');
  });
});

describe('twin-state serve (the bin, plain Node)', () => {
  const bin = () => join(consumer, 'node_modules/.bin/twin-state');

  test('--help prints the usage and exits 0', () => {
    const result = run(bin(), ['serve', '--help'], consumer);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /Usage: twin-state serve --app MODULE/);
  });

  test('serves a .js app: a rendered page, the bundles with CORS and caching, a clean stop on SIGTERM', async () => {
    const port = await freePort();
    // Ready once both lines are out: where it serves, then the storage it chose.
    const serving = await start(bin(), ['serve', '--app', 'app.js', '--pages', 'pages', '--port', String(port), '--host', '127.0.0.1'], consumer, /storage: \S+\n/);
    try {
      // better-sqlite3 is not installed: the default storage falls back to memory.
      assert.match(serving.output(), /storage: memory/);
      const base = `http://127.0.0.1:${port}`;
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<twin-bind store="counter" key="n">0<\/twin-bind>/);
      const script = await fetch(`${base}/_twin/twin.min.js`, { headers: { Origin: 'https://elsewhere.example' } });
      assert.equal(script.status, 200);
      assert.equal(script.headers.get('access-control-allow-origin'), '*');
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
      assert.equal(script.headers.get('cache-control'), 'no-cache');
      const etag = script.headers.get('etag') ?? '';
      assert.equal(await script.text(), readFileSync(join(consumer, 'node_modules/twin-state/dist/twin.min.js'), 'utf8'));
      const again = await fetch(`${base}/_twin/twin.min.js`, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
      const versioned = await fetch(`${base}/_twin/v${VERSION}/twin.js`);
      assert.equal(versioned.status, 200);
      assert.match(versioned.headers.get('cache-control') ?? '', /immutable/);
      await versioned.arrayBuffer();
      const otherVersion = await fetch(`${base}/_twin/v0.0.0-other/twin.js`);
      assert.equal(otherVersion.status, 404);
      await otherVersion.arrayBuffer();
      const internal = await fetch(`${base}/_twin/lib/src/index.js`);
      assert.equal(internal.status, 404, 'the Node modules in dist/lib are not served');
      await internal.arrayBuffer();
    } finally {
      assert.equal(await serving.stop(), 0, `SIGTERM did not end the server cleanly:\n${serving.output()}`);
    }
  });

  /** Runs `twin-state serve` expecting exit code 2 and one sentence matching `sentence`. */
  function refuses(args: readonly string[], sentence: RegExp): void {
    const result = run(bin(), ['serve', '--port', '0', '--storage', 'memory', ...args], consumer);
    assert.equal(result.status, 2, result.output);
    const lines = result.output.split('\n').filter((line) => line.trim() && !line.startsWith('note:'));
    assert.equal(lines.length, 1, `more than one line:\n${result.output}`);
    assert.match(lines[0] ?? '', sentence);
    assert.doesNotMatch(result.output, /^\s+at /m, 'a stack trace');
  }

  test('bad input: one sentence each, exit code 2, no stack trace', () => {
    writeFileSync(join(consumer, 'no-app.js'), 'export const other = 1;\n');
    writeFileSync(join(consumer, 'typed.ts'), `import { defineApp } from 'twin-state';\nexport const app: ReturnType<typeof defineApp> = defineApp();\n`);
    refuses(['--app', 'app.js', '--pages', 'missing-folder'], /pages folder "missing-folder" does not exist/);
    refuses(['--app', 'no-app.js'], /does not export "app"/);
    refuses(['--app', 'app.js', '--storage', 'postgres://db'], /storage spec "postgres:\/\/db" is not valid/);
    refuses(['--app', 'nowhere.js'], /app module "nowhere.js" does not exist/);
    refuses(['--app', 'app.js', '--public-url', 'not a url'], /not an absolute URL/);
    refuses(['--app', 'app.js', '--bogus'], /Unknown option '--bogus'/);
    // Node 20 cannot run TypeScript, and this app has no tsx: say what to install.
    refuses(['--app', 'typed.ts'], /is TypeScript.*install a loader \(npm install --save-dev tsx\)/);
  });

  test('serves a .ts app once the app has a TypeScript loader (tsx)', async () => {
    // As `npm install --save-dev tsx` would, without the download: the checkout's own copy.
    symlinkSync(join(ROOT, 'node_modules/tsx'), join(consumer, 'node_modules/tsx'), 'dir');
    try {
      const port = await freePort();
      const serving = await start(bin(), ['serve', '--app', 'typed.ts', '--storage', 'memory', '--port', String(port), '--host', '127.0.0.1'], consumer, /twin-state serving/);
      const health = await fetch(`http://127.0.0.1:${port}/_twin/health`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      assert.equal(await serving.stop(), 0, serving.output());
    } finally {
      rmSync(join(consumer, 'node_modules/tsx'));
    }
  });

  test('a missing or damaged dist/: one sentence, exit code 2', () => {
    const bundle = join(consumer, 'node_modules/twin-state/dist/twin.js');
    const text = readFileSync(bundle, 'utf8');
    try {
      writeFileSync(bundle, text.slice(0, text.length >> 1));
      refuses(['--app', 'app.js'], /browser bundle of twin-state.*is damaged.*reinstall twin-state/);
      rmSync(bundle);
      refuses(['--app', 'app.js'], /browser bundle of twin-state.*is missing.*reinstall twin-state/);
    } finally {
      writeFileSync(bundle, text);
    }
    const cli = join(consumer, 'node_modules/twin-state/dist/lib/server/cli.js');
    const code = readFileSync(cli);
    try {
      rmSync(cli);
      refuses(['--app', 'app.js'], /twin-state is incomplete: .*cli\.js is missing\. Reinstall it/);
    } finally {
      writeFileSync(cli, code);
    }
  });
});

describe('types that stand alone', () => {
  test('a strict app (skipLibCheck false) importing every entry type-checks without redis or better-sqlite3', () => {
    for (const optional of ['redis', 'better-sqlite3', '@types/better-sqlite3']) {
      assert.throws(() => statSync(join(consumer, 'node_modules', optional)), `${optional} is installed in the consumer`);
    }
    const result = run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], consumer);
    assert.equal(result.status, 0, `tsc:\n${result.output}`);
  });

  test('a server app with Node types and no DOM lib type-checks too', () => {
    const result = run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.server.json'], consumer);
    assert.equal(result.status, 0, `tsc:\n${result.output}`);
  });
});

describe('Chromium, cross-origin from a CDN copy', () => {
  test('a page on another origin loads the packaged twin.min.js, connects, and sees a write from a second page', async () => {
    const [twinPort, pagePort] = [await freePort(), await freePort()];
    const pageOrigin = `http://127.0.0.1:${pagePort}`;
    // A third origin for the script, as a CDN is: same server, another host name.
    const cdnOrigin = `http://localhost:${pagePort}`;
    const twinServer = await start(process.execPath, ['server.js'], consumer, /listening/, { ...NPM_ENV, PORT: String(twinPort), PAGE_ORIGIN: pageOrigin });
    // The page's origin, and the "CDN" serving the tarball's dist/ as unpkg would.
    const cdnFile = join(consumer, 'node_modules/twin-state/dist/twin.min.js');
    const page = `<!doctype html><title>cdn</title>
<script type="module">
  import { connect } from '${cdnOrigin}/cdn/twin-state@${VERSION}/dist/twin.min.js';
  connect('ws://127.0.0.1:${twinPort}/_twin/ws');
</script>
<twin-status></twin-status>
<p>n = <twin-bind id="n" store="counter" key="n"></twin-bind></p>
<button twin-action="bump">+1</button>
`;
    const requests: string[] = [];
    const cdn: Server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      } else if (req.url === `/cdn/twin-state@${VERSION}/dist/twin.min.js`) {
        // A module script from another origin needs CORS, which CDNs send.
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'access-control-allow-origin': '*' }).end(readFileSync(cdnFile));
      } else {
        res.writeHead(404).end();
      }
    });
    cdn.on('upgrade', (req, socket) => {
      requests.push(`upgrade ${req.url}`);
      socket.destroy();
    });
    cdn.listen(pagePort, '127.0.0.1');
    await once(cdn, 'listening');
    const browser = await chromium.launch({ executablePath: CHROME_PATH, headless: true, args: CHROME_ARGS });
    try {
      const context = await browser.newContext();
      const [a, b] = [await context.newPage(), await context.newPage()];
      const errors: string[] = [];
      for (const p of [a, b]) p.on('pageerror', (err) => errors.push(err.message));
      await Promise.all([a.goto(`${pageOrigin}/`), b.goto(`${pageOrigin}/`)]);
      await a.locator('#n').filter({ hasText: /^0$/ }).waitFor({ timeout: SYNC_TIMEOUT_MS });
      await b.locator('#n').filter({ hasText: /^0$/ }).waitFor({ timeout: SYNC_TIMEOUT_MS });
      await a.locator('button').click();
      await b.locator('#n').filter({ hasText: /^1$/ }).waitFor({ timeout: SYNC_TIMEOUT_MS });
      // The clicking page gets the same commit (its confirmation), maybe a moment after the other.
      await a.locator('#n').filter({ hasText: /^1$/ }).waitFor({ timeout: SYNC_TIMEOUT_MS });
      assert.deepEqual(errors, []);
      assert.deepEqual(requests.filter((url) => url.includes('_twin')), [], 'the script tried the page\'s origin or its own before connect()');
      assert.ok(requests.includes(`/cdn/twin-state@${VERSION}/dist/twin.min.js`), 'the page did not load the CDN copy');
    } finally {
      await browser.close();
      cdn.closeAllConnections();
      cdn.close();
      await twinServer.stop();
    }
  });
});
