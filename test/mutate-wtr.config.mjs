// SPDX-License-Identifier: MIT
/**
 * web-test-runner for `npm run mutate` on the elements (stryker.config.mjs): the project's own
 * browser-test setup (web-test-runner.config.mjs), plus one script that hands the page the
 * mutant Stryker wants active. Stryker's instrumented code reads the active mutant from
 * `process.env`, which a page does not have, or from `globalThis.__stryker__`, which this
 * sets before any module of the test loads.
 */
import base from '../web-test-runner.config.mjs';

/** Set by Stryker's command runner for each mutant; absent in its first, clean run. */
const active = process.env.__STRYKER_ACTIVE_MUTANT__;

export default {
  ...base,
  testRunnerHtml: (testFramework) => `<!DOCTYPE html>
<html>
  <head><script>globalThis.__stryker__ = { activeMutant: ${JSON.stringify(active ?? null)} ?? undefined };</script></head>
  <body><script type="module" src="${testFramework}"></script></body>
</html>`,
};
