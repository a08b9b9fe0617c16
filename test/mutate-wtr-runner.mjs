// SPDX-License-Identifier: MIT
/**
 * A StrykerJS test runner for the elements (`npm run mutate -- elements/X.ts`): one
 * web-test-runner, with its Chromium, its dev server and the test server, started once per
 * Stryker worker and reused for every mutant, instead of a new `wtr` process (and browser) per
 * mutant. A mutant's run is one page load per test file, a second or two instead of about seven.
 *
 * The runner is started in watch mode, so that it keeps its browser between runs, but nothing
 * in the sandbox changes and no run is started by a file change: each run is asked for here.
 * Each page gets the mutant Stryker wants active from test/mutate-wtr.config.mjs before any
 * module loads, so mutants in code run at load time ("static" mutants) are active too.
 *
 * The test files come from stryker.config.mjs (`BROWSER_TARGETS` of `TWIN_MUTATE_TARGET`); they
 * run one after another and a mutant's run stops at the first file that fails (and mocha, inside
 * a file, at its first failing test). A mutant that hangs the page is a timeout: Stryker then
 * kills this worker, browser included, and starts a new one. `maxTestRunnerReuse` in
 * stryker.config.mjs also starts a new one now and then, so state a mutant left behind on the
 * test server (stores, connections) cannot pile up.
 *
 * web-test-runner's own CLI refuses watch mode without a terminal, so the runner is built from
 * its parts: its config parser is not exported and is loaded from its file (pinned by
 * package-lock.json).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commonTokens, declareClassPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { DryRunStatus, TestStatus, toMutantRunResult } from '@stryker-mutator/api/test-runner';
import { TestRunner } from '@web/test-runner';

const require = createRequire(import.meta.url);

/** Test runner `twin-wtr` (stryker.config.mjs). */
class TwinWtrRunner {
  static inject = tokens(commonTokens.logger);

  /** @param {import('@stryker-mutator/api/logging').Logger} log */
  constructor(log) {
    this.log = log;
    /** @type {string[]} */
    this.files = [];
    /** @type {{ active: string | undefined }} */
    this.mutant = { active: undefined };
    /** @type {TestRunner | undefined} */
    this.runner = undefined;
  }

  capabilities() {
    // Every run loads fresh pages: static mutants need nothing more.
    return { reloadEnvironment: true };
  }

  async init() {
    // The worker runs in the sandbox: its instrumented sources, its copy of the configs.
    const sandbox = process.cwd();
    const { BROWSER_TARGETS } = await import(pathToFileURL(join(sandbox, 'stryker.config.mjs')).href);
    const files = BROWSER_TARGETS[process.env.TWIN_MUTATE_TARGET ?? ''];
    if (!files) throw new Error(`TWIN_MUTATE_TARGET ${JSON.stringify(process.env.TWIN_MUTATE_TARGET)} is not an element file of BROWSER_TARGETS in stryker.config.mjs.`);
    this.files = files;
    // Chromium through test/chromium-nice.sh, which keeps it at the lowest priority (read by
    // web-test-runner.config.mjs when mutate-wtr.config.mjs loads it, just below).
    process.env.TWIN_CHROMIUM ??= process.env.CHROME_PATH ?? '/usr/bin/chromium';
    process.env.CHROME_PATH = join(sandbox, 'test/chromium-nice.sh');
    const { mutantConfig } = await import(pathToFileURL(join(sandbox, 'test/mutate-wtr.config.mjs')).href);
    const { parseConfig } = require(require.resolve('@web/test-runner').replace(/index\.js$/, 'config/parseConfig.js'));
    const { config, groupConfigs } = await parseConfig({
      ...mutantConfig(() => this.mutant.active),
      rootDir: sandbox,
      files,
      watch: true,
      reporters: [],
    }, {});
    this.runner = new TestRunner(config, groupConfigs);
    this.runner.on('test-run-finished', () => this.finished?.());
    const first = this.nextRun();
    await this.runner.start();
    await first; // the runner runs every file once when it starts: the browser is warm after it
  }

  /** @param {import('@stryker-mutator/api/test-runner').DryRunOptions} options */
  async dryRun(options) {
    this.mutant.active = undefined;
    return this.run(options.disableBail);
  }

  /** @param {import('@stryker-mutator/api/test-runner').MutantRunOptions} options */
  async mutantRun(options) {
    this.mutant.active = options.activeMutant.id;
    try {
      return toMutantRunResult(await this.run(options.disableBail));
    } finally {
      this.mutant.active = undefined;
    }
  }

  async dispose() {
    await this.runner?.stop();
    this.runner = undefined;
  }

  /** Resolves when the runner next finishes a run. */
  nextRun() {
    return new Promise((resolve) => {
      this.finished = () => {
        this.finished = undefined;
        resolve();
      };
    });
  }

  /**
   * Runs the test files one at a time (one page each), stopping at the first that fails unless
   * `disableBail`; one Stryker test per file.
   * @returns {Promise<import('@stryker-mutator/api/test-runner').DryRunResult>}
   */
  async run(disableBail) {
    const runner = this.runner;
    if (!runner) return { status: DryRunStatus.Error, errorMessage: 'The web-test-runner did not start.' };
    const tests = [];
    for (const file of this.files) {
      const sessions = [...runner.sessions.all()].filter((s) => s.testFile.endsWith(file));
      if (!sessions.length) return { status: DryRunStatus.Error, errorMessage: `web-test-runner has no session for ${file}.` };
      const started = Date.now();
      const done = this.nextRun();
      runner.runTests(sessions);
      await done;
      const results = [...runner.sessions.all()].filter((s) => s.testFile.endsWith(file));
      const failures = results.flatMap(failuresOf);
      tests.push({
        id: file,
        name: file,
        fileName: file,
        timeSpentMs: Date.now() - started,
        ...(failures.length ? { status: TestStatus.Failed, failureMessage: failures.join('; ') } : { status: TestStatus.Success }),
      });
      if (failures.length && !disableBail) break;
    }
    return { status: DryRunStatus.Complete, tests };
  }
}

/** What failed in a finished web-test-runner session, as short sentences. */
function failuresOf(session) {
  if (session.passed) return [];
  const out = (session.errors ?? []).map((e) => e.message);
  const walk = (suite, prefix) => {
    for (const test of suite.tests ?? []) if (!test.passed && !test.skipped) out.push(`${prefix}${test.name}: ${test.error?.message ?? 'failed'}`);
    for (const child of suite.suites ?? []) walk(child, `${prefix}${child.name} > `);
  };
  if (session.testResults) walk(session.testResults, '');
  return out.length ? out : ['the test file failed'];
}

export const strykerPlugins = [declareClassPlugin(PluginKind.TestRunner, 'twin-wtr', TwinWtrRunner)];
