#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// `npm test`: type-checks, node tests, browser tests (web-test-runner in Chromium), then the
// build, the end-to-end tests (playwright-core driving Chromium) and the packaging test.
// Ends with one line: "N passed, N failed". Exits non-zero if anything failed or could not run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules/.bin', name);
let passed = 0;
let failed = 0;
const problems = [];

/** Runs a step; returns its output. Counts a step that exits non-zero as a failure. */
function step(title, command, args, { count, env } = {}) {
  console.log(`\n=== ${title}`);
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, env: { ...process.env, FORCE_COLOR: '0', ...env } });
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  const counts = count?.(`${result.stdout}\n${result.stderr}`);
  if (counts) {
    passed += counts.passed;
    failed += counts.failed;
  }
  if (result.status !== 0) {
    problems.push(`${title} exited with ${result.status ?? result.signal}`);
    if (!counts || counts.failed === 0) failed += 1;
  } else if (!counts) {
    passed += 1;
  }
  return result;
}

/** Test files under `dir` (recursively) whose names end with `suffix`. */
function find(dir, suffix) {
  const out = [];
  if (!existsSync(join(root, dir))) return out;
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix)) out.push(join(entry.parentPath ?? entry.path, entry.name).slice(root.length));
  }
  return out.sort();
}

const tap = (text) => ({
  passed: Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0),
  failed: Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0),
});

const chromium = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromium);
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasChromium || !hasRedis) {
  const missing = [!hasChromium && 'chromium', !hasRedis && 'redis-server'].filter(Boolean).join(' ');
  console.error(`The tests need Chromium (browser and end-to-end tests) and redis-server (storage tests).\nInstall them with: apt-get install -y ${missing}${!hasChromium ? ' fonts-liberation' : ''}\n(or set CHROME_PATH to a Chromium binary).`);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}

step('type-check (tsc)', bin('tsc'), ['-p', '.']);
const nodeTests = [...find('src', '.test.ts'), ...find('server', '.test.ts')];
step(`node tests (${nodeTests.length} files)`, process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...nodeTests], { count: tap });
// The whole package build (scripts/build.mjs: tsc into dist/lib, then rollup), as `npm pack` runs it.
const build = step('build (tsc + rollup)', process.execPath, [join(root, 'scripts/build.mjs')]);
step('browser tests (web-test-runner, Chromium)', bin('wtr'), [], {
  count: (text) => {
    // wtr colours its summary even without a TTY: drop the escape codes before reading it.
    const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
    const all = [...plain.matchAll(/(\d+) passed, (\d+) failed/g)].at(-1);
    return all ? { passed: Number(all[1]), failed: Number(all[2]) } : undefined;
  },
});
const e2e = find('test/e2e', '.test.ts');
if (e2e.length) step(`end-to-end tests (${e2e.length} files)`, process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...e2e], { count: tap });

// Last: the package as npm ships it (npm pack, install in a temporary app, plain Node, tsc,
// Chromium). It packs what the build step just made instead of building again.
const pkg = find('test/package', '.test.ts');
if (pkg.length) {
  step(`package tests (${pkg.length} file)`, process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...pkg], {
    count: tap,
    env: build.status === 0 ? { TWIN_PACKAGE_BUILT: '1' } : {},
  });
}

if (problems.length) console.log(`\nProblems:\n- ${problems.join('\n- ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed || problems.length ? 1 : 0);
