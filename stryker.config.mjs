// SPDX-License-Identifier: MIT
/**
 * StrykerJS configuration for `npm run mutate` (test/mutate.mjs), one mutated file per run.
 *
 * Mutation testing plants one small bug at a time (a flipped condition, a removed call, a changed
 * number) and runs the tests: a mutant the tests do not notice ("survived") is a line no test
 * really checks. It is not part of `npm test`: a run takes minutes per file on two cores.
 *
 * Each file under mutation is mapped to the few test files that exercise it, so one mutant's run
 * takes seconds (the tap runner starts one `node --import tsx` per test file and bails on the
 * first failure), and coverage per test file skips test files that never reach a mutant.
 * The elements run in Chromium, with test/mutate-wtr-runner.mjs (test runner `twin-wtr`): one
 * web-test-runner and its browser per Stryker worker, reused for every mutant, a page load per
 * test file (test/mutate-wtr.config.mjs hands the active mutant to the page). A mutant takes a
 * second or two there, against about seven with a new `wtr` process per mutant.
 *
 * No type checker: Stryker's TypeScript checker needs the TypeScript compiler API, which the
 * TypeScript 7 native compiler used here does not offer. Mutants that would not type-check run
 * anyway and are usually killed by the tests.
 *
 * The file under mutation comes from TWIN_MUTATE_TARGET (test/mutate.mjs sets it).
 */

/** Tap-runner targets: file under mutation → the node test files that exercise it. */
export const NODE_TARGETS = {
  'src/ops.ts': ['src/ops.test.ts', 'src/ops.mutants.test.ts', 'src/ops.prod.test.ts'],
  'src/proxy.ts': ['src/proxy.test.ts', 'src/signals.test.ts', 'src/proxy.mutants.test.ts'],
  'src/replica.ts': ['src/replica.test.ts', 'src/proxy.test.ts', 'src/client.test.ts'],
  // Split out of replica.ts: the same tests.
  'src/view-writer.ts': ['src/replica.test.ts', 'src/proxy.test.ts', 'src/client.test.ts'],
  // The first two are the ones it was first measured with; hub-edges.test.ts and
  // hub-stores.test.ts were written for its survivors; the pipeline's tests reach its follow() and
  // pipeline() (a store's own batches heard back from storage, batches at storage together).
  'server/hub.ts': ['server/hub.test.ts', 'server/bad-input.test.ts', 'server/hub-isolation.test.ts', 'server/hub-edges.test.ts', 'server/hub-stores.test.ts', 'server/store-pipeline.test.ts', 'server/store-pipeline-edges.test.ts'],
  // The pipeline's own tests first, then the hub's that reach it, then its edges (store-pipeline-edges.test.ts).
  'server/store-pipeline.ts': ['server/store-pipeline.test.ts', 'server/hub.test.ts', 'server/bad-input.test.ts', 'server/compaction.test.ts', 'server/store-pipeline-edges.test.ts'],
  'server/connection.ts': ['server/connection.test.ts', 'server/connection-lifecycle.test.ts', 'server/bad-input.test.ts', 'server/hub.test.ts', 'server/adopt.test.ts', 'server/client-ownership.test.ts', 'server/large-store.test.ts', 'server/presence.test.ts'],
  // Split out of connection.ts: the same tests.
  'server/subscriptions.ts': ['server/connection.test.ts', 'server/connection-lifecycle.test.ts', 'server/bad-input.test.ts', 'server/hub.test.ts', 'server/adopt.test.ts', 'server/client-ownership.test.ts', 'server/large-store.test.ts', 'server/presence.test.ts'],
};

/**
 * Browser targets: element file → the web-test-runner test files that exercise it. Tests that
 * load the production bundle (page, xss, prod-bundle) are left out: the bundle is built from the
 * instrumented sources, so its minified size and dev-only sentences no longer hold, and its
 * iframes never see the active mutant. error.test.ts, bind-edges.test.ts and the later tests of
 * the other files were written for survivors.
 */
export const BROWSER_TARGETS = {
  'elements/internal.ts': ['test/browser/bind-edges.test.ts', 'test/browser/bind.test.ts', 'test/browser/list.test.ts', 'test/browser/bind-refusals.test.ts', 'test/browser/error.test.ts', 'test/browser/dev-warnings.test.ts', 'test/browser/presence.test.ts'],
  'elements/twin-bind.ts': ['test/browser/bind-edges.test.ts', 'test/browser/bind.test.ts', 'test/browser/bind-refusals.test.ts', 'test/browser/pending.test.ts', 'test/browser/lit.test.ts'],
  'elements/twin-list.ts': ['test/browser/list.test.ts'],
  'elements/twin-show.ts': ['test/browser/bind.test.ts'],
  'elements/twin-status.ts': ['test/browser/sync.test.ts', 'test/browser/pending.test.ts'],
  'elements/twin-error.ts': ['test/browser/error.test.ts', 'test/browser/sync.test.ts', 'test/browser/actions.test.ts'],
  'elements/actions.ts': ['test/browser/actions.test.ts', 'test/browser/actions-in-form.test.ts', 'test/browser/dev-warnings.test.ts'],
};

/** Every file `npm run mutate` covers, in the order it runs them. */
export const TARGETS = [...Object.keys(NODE_TARGETS), ...Object.keys(BROWSER_TARGETS)];

/** Where reports go (out/ is ignored by git). */
export const REPORT_DIR = 'out/mutation';

/** A file name for one target's reports: `src/ops.ts` → `src-ops`. */
export const reportName = (file) => file.replace(/\.ts$/, '').replaceAll('/', '-');

const target = process.env.TWIN_MUTATE_TARGET ?? 'src/ops.ts';
if (!TARGETS.includes(target)) {
  throw new Error(`TWIN_MUTATE_TARGET ${JSON.stringify(target)} is not one of the files stryker.config.mjs maps to tests: ${TARGETS.join(', ')}.`);
}
const browser = target in BROWSER_TARGETS;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [target],
  plugins: browser ? ['./test/mutate-wtr-runner.mjs'] : ['@stryker-mutator/tap-runner'],
  ...(browser
    ? {
        // The test files: BROWSER_TARGETS[TWIN_MUTATE_TARGET], read by the runner itself.
        testRunner: 'twin-wtr',
        coverageAnalysis: 'off',
        // A fresh runner (browser, test server) every so often: what a mutant left on the
        // test server cannot pile up. Costs one start, about seven seconds.
        maxTestRunnerReuse: 50,
      }
    : {
        testRunner: 'tap',
        tap: {
          testFiles: NODE_TARGETS[target],
          nodeArgs: ['--import', 'tsx', '--test-reporter=tap'],
          forceBail: true,
        },
        coverageAnalysis: 'perTest',
      }),
  checkers: [],
  // Stryker rewrites the tsconfig it is pointed at with the TypeScript API, which TypeScript 7
  // lacks; our tsconfig.json needs no rewriting (no `extends` or references outside the sandbox),
  // so point it at no file.
  tsconfigFile: 'tsconfig.stryker-none.json',
  // Two shared cores: one mutant at a time unless asked otherwise (`npm run mutate -- --concurrency 2`).
  concurrency: 1,
  // A busy machine makes honest runs slow: give them room before calling a mutant a timeout.
  timeoutMS: 10_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  jsonReporter: { fileName: `${REPORT_DIR}/${reportName(target)}.json` },
  htmlReporter: { fileName: `${REPORT_DIR}/${reportName(target)}.html` },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: 'out/.stryker-tmp',
  cleanTempDir: 'always',
  // The sandbox needs the sources, the tests and their fixtures, nothing else.
  ignorePatterns: ['dist', 'out', 'demo', 'bench', '.twin-data', 'scratch', 'test/e2e', '*.log'],
  incremental: false,
};
