// SPDX-License-Identifier: MIT
/**
 * web-test-runner for `npm run mutate` on the elements (stryker.config.mjs): the project's own
 * browser-test setup (web-test-runner.config.mjs), plus one script that hands the page the
 * mutant Stryker wants active. Stryker's instrumented code reads the active mutant from
 * `process.env`, which a page does not have, or from `globalThis.__stryker__`, which this
 * sets before any module of the test loads.
 *
 * test/mutate-wtr-runner.mjs (the Stryker test runner `twin-wtr`) uses {@link mutantConfig} with
 * the mutant of each run. The default export runs one mutant by hand, in a Stryker sandbox
 * (out/.stryker-tmp/sandbox-*, kept with `--cleanTempDir false`), from the environment:
 *
 *   __STRYKER_ACTIVE_MUTANT__=12 npx wtr --config test/mutate-wtr.config.mjs --files test/browser/bind.test.ts
 */
import base from '../web-test-runner.config.mjs';

/**
 * The browser-test config with the mutant `active()` returns (read for each page) set in the
 * page, and mocha stopping at the first failing test: one failure decides a mutant.
 */
export function mutantConfig(active) {
  return {
    ...base,
    testFramework: { ...base.testFramework, config: { ...base.testFramework.config, bail: true } },
    testRunnerHtml: (testFramework) => `<!DOCTYPE html>
<html>
  <head><script>globalThis.__stryker__ = { activeMutant: ${JSON.stringify(active() ?? null)} ?? undefined };</script></head>
  <body><script type="module" src="${testFramework}"></script></body>
</html>`,
  };
}

export default mutantConfig(() => process.env.__STRYKER_ACTIVE_MUTANT__);
