// SPDX-License-Identifier: MIT
/**
 * @module cli.test
 * `twin-state serve` from the checkout: one-sentence refusals of bad input (a {@link CliError},
 * exit code 2 from the bin, no stack trace), `--help`, a clean stop on SIGTERM, and the
 * bundle URLs it serves (CORS, versioned URLs). test/package/package.test.ts runs the same
 * command from an installed tarball with plain Node.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EXIT_USAGE, serve } from './cli.js';
import { PACKAGE_VERSION } from './static.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'server/bin.js');
/** tsx compiles the sources on a cold start: give the command time. */
const COMMAND_TIMEOUT_MS = 30_000;
const work = mkdtempSync(join(tmpdir(), 'twin-cli-'));
// The app modules are ES modules, as an app's package.json would say.
writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
after(() => rmSync(work, { recursive: true, force: true }));

/** An app module in the temporary folder, importing the sources (the test runs under tsx). */
function appModule(name: string, body: string): string {
  const file = join(work, name);
  writeFileSync(file, `import { defineApp } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)};\n${body}`);
  return file;
}

/** Runs the bin to its end. */
function bin(args: readonly string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('serve()', () => {
  const refusals: [string, string[], RegExp][] = [
    ['no --app', [], /Which app\? Pass --app MODULE/],
    ['a missing app module', ['--app', 'nowhere.js'], /The app module "nowhere\.js" does not exist/],
    ['a port out of range', ['--app', 'x.js', '--port', '70000'], /The port "70000" is not a port number/],
    ['a missing pages folder', ['--app', 'x.js', '--pages', join(work, 'no-pages')], /The pages folder ".*no-pages" does not exist/],
    ['a public URL that is not one', ['--app', 'x.js', '--public-url', 'app.example'], /not an absolute URL/],
    ['an unknown option', ['--app', 'x.js', '--colour'], /Unknown option '--colour'\. Run "twin-state serve --help"/],
    ['a compression threshold that is not one', ['--app', 'x.js', '--compress=lots'], /--compress takes a number of bytes/],
    ['an origin with a path', ['--app', 'x.js', '--origins', 'https://ok.example, https://cdn.example/page'], /The origin "https:\/\/cdn\.example\/page" is not an origin/],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} with one sentence`, async () => {
      await assert.rejects(serve(['--port', '0', ...args], {}), (err: Error) => {
        assert.equal(err.name, 'CliError');
        assert.equal((err as Error & { code?: string }).code, 'TWIN_ERR_CLI');
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    });
  }

  it('refuses a module that does not export "app", and an unknown storage scheme', async () => {
    const noApp = appModule('no-app.ts', 'export const other = defineApp;\n');
    await assert.rejects(serve(['--port', '0', '--app', noApp], {}), { name: 'CliError', message: /does not export "app"/ });
    const app = appModule('app-for-storage.ts', 'export const app = defineApp();\n');
    await assert.rejects(serve(['--port', '0', '--app', app, '--storage', 'mongodb://db'], {}), {
      name: 'CliError',
      message: /The storage spec "mongodb:\/\/db" is not valid/,
    });
  });
});

describe('the twin-state bin', () => {
  it('--help prints the usage and exits 0', () => {
    const result = bin(['serve', '--help']);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /Usage: twin-state serve --app MODULE/);
    assert.match(result.output, /--public-url URL/);
  });

  it('exits with 2 and one line, no stack trace, for a mistake; with 2 and the usage for no command', () => {
    const result = bin(['serve', '--storage', 'memory', '--port', '0', '--app', 'demo/app.ts', '--pages', 'no-such-folder']);
    assert.equal(result.status, EXIT_USAGE, result.output);
    const lines = result.output.trim().split('\n').filter((line) => !line.startsWith('note:'));
    assert.deepEqual(lines, [`The pages folder "no-such-folder" does not exist (it resolves to ${join(ROOT, 'no-such-folder')}).`]);
    const none = bin([]);
    assert.equal(none.status, EXIT_USAGE);
    assert.match(none.output, /^Usage: twin-state serve/);
  });

  it('serves a .ts app (tsx in the checkout), and stops with exit code 0 on SIGTERM', async () => {
    const app = appModule('app-served.ts', "export const app = defineApp();\napp.shared('counter', () => ({ n: 0 }));\n");
    const child = spawn(process.execPath, [BIN, 'serve', '--app', app, '--port', '0', '--host', '127.0.0.1', '--storage', 'memory', '--public-url', 'https://app.example'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    try {
      while (!/twin-state serving http:\/\/localhost:(\d+)/.test(output)) {
        assert.equal(child.exitCode, null, output);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const port = /serving http:\/\/localhost:(\d+)/.exec(output)?.[1];
      const health = await fetch(`http://127.0.0.1:${port}/_twin/health`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, output);
      assert.match(output, /SIGTERM: shutting down/);
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
  });
});

describe('bundle URLs under /_twin/', () => {
  it('answers with CORS; a versioned URL of another version is a 404; dist/lib is never served', async (t) => {
    const app = appModule('app-bundles.ts', 'export const app = defineApp();\n');
    const serving = await serve(['--app', app, '--port', '0', '--host', '127.0.0.1', '--storage', 'memory'], {});
    t.after(() => serving.close());
    const base = serving.url.replace('localhost', '127.0.0.1');
    const other = await fetch(`${base}/_twin/v0.0.0-not-this/twin.js`);
    assert.equal(other.status, 404);
    assert.equal(other.headers.get('access-control-allow-origin'), '*');
    assert.match(await other.text(), new RegExp(`load /_twin/v${PACKAGE_VERSION.replaceAll('.', '\\.')}/twin\\.js`));
    const lib = await fetch(`${base}/_twin/lib/src/index.js`);
    assert.equal(lib.status, 404);
    await lib.arrayBuffer();
    const versioned = await fetch(`${base}/_twin/v${PACKAGE_VERSION}/twin.js`);
    const plain = await fetch(`${base}/_twin/twin.js`);
    assert.equal(plain.headers.get('access-control-allow-origin'), '*');
    if (existsSync(join(ROOT, 'dist/twin.js'))) {
      assert.equal(versioned.status, 200);
      assert.equal(versioned.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.get('cache-control'), 'no-cache');
      assert.equal(await versioned.text(), await plain.text());
    } else {
      // Not built yet (npm test builds after the node tests): the 404 says how to build.
      assert.equal(versioned.status, 404);
      assert.match(await plain.text(), /npm run build/);
      await versioned.arrayBuffer();
    }
  });
});
