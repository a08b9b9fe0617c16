#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * `npm run mutate [-- FILE...] [-- STRYKER-FLAGS...]`: mutation testing with StrykerJS, one file
 * at a time (stryker.config.mjs maps each file to the tests that exercise it), then a table of
 * the mutation score per file. Not part of `npm test`: it takes minutes per file.
 *
 *   npm run mutate                          # every mapped file (the elements about 1½ h)
 *   npm run mutate -- src/ops.ts src/proxy.ts
 *   npm run mutate -- src/ops.ts --concurrency 2
 *
 * The score is Stryker's: (killed + timed out) / (killed + timed out + survived + no coverage).
 * Reports (HTML, JSON) land in out/mutation/. Runs at the lowest CPU priority: the machines are
 * shared. Exits non-zero when Stryker itself fails; a low score is reported, not failed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPORT_DIR, reportName, TARGETS } from '../stryker.config.mjs';

const root = new URL('..', import.meta.url).pathname;
/** The score the project aims at on every mapped file (issue 17). */
const GOAL_PERCENT = 80;

const args = process.argv.slice(2);
const files = args.filter((a) => TARGETS.includes(a));
const unknown = args.filter((a) => a.endsWith('.ts') && !TARGETS.includes(a));
if (unknown.length) {
  console.error(`Not mapped to tests in stryker.config.mjs: ${unknown.join(', ')}. Mapped: ${TARGETS.join(', ')}.`);
  process.exit(2);
}
const strykerFlags = args.filter((a) => !TARGETS.includes(a));
const targets = files.length ? files : TARGETS;

/** Counts one Stryker JSON report (mutation-testing-report-schema) into a row. */
function row(file, seconds) {
  const path = join(root, REPORT_DIR, `${reportName(file)}.json`);
  if (!existsSync(path)) return { file, seconds, error: strykerFlags.includes('--dryRunOnly') ? 'dry run only' : 'no report' };
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const mutants = Object.values(report.files).flatMap((f) => f.mutants);
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const killed = count('Killed');
  const timeout = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const valid = killed + timeout + survived + noCoverage;
  return { file, seconds, mutants: mutants.length, killed, timeout, survived, noCoverage, score: valid ? (100 * (killed + timeout)) / valid : NaN };
}

const rows = [];
let failed = false;
for (const file of targets) {
  console.log(`\n=== mutate ${file}`);
  // A report left by an earlier run must not pass for this one's.
  rmSync(join(root, REPORT_DIR, `${reportName(file)}.json`), { force: true });
  const started = Date.now();
  const result = spawnSync('nice', ['-n', '19', join(root, 'node_modules/.bin/stryker'), 'run', 'stryker.config.mjs', ...strykerFlags], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TWIN_MUTATE_TARGET: file, FORCE_COLOR: '0' },
  });
  const seconds = (Date.now() - started) / 1000;
  if (result.status !== 0) {
    failed = true;
    rows.push({ file, seconds, error: `stryker exited with ${result.status ?? result.signal}` });
  } else {
    rows.push(row(file, seconds));
  }
}

console.log('\nMutation score per file (goal ≥ ' + GOAL_PERCENT + ' %)\n');
console.log('| file | mutants | killed | timeout | survived | no coverage | score | time |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const time = `${Math.round(r.seconds)} s`;
  if (r.error) console.log(`| ${r.file} | ${r.error} |  |  |  |  |  | ${time} |`);
  else console.log(`| ${r.file} | ${r.mutants} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.score.toFixed(1)} %${r.score < GOAL_PERCENT ? ' (below goal)' : ''} | ${time} |`);
}
process.exit(failed ? 1 : 0);
