#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * `npm run build` (and `prepack`): everything the npm package ships in `dist/`.
 * 1. `dist/lib/`: the JavaScript and `.d.ts` of every entry (`twin-state`, `/elements`, `/lit`,
 *    `/server`, and the CLI), compiled by tsc from tsconfig.build.json; the `.d.ts` without their
 *    `@internal` declarations when that still type-checks (scripts/strip-internal.mjs). Full
 *    messages and dev warnings: the `development` and `node` export conditions.
 * 2. `dist/lib-prod/`: the browser entries again with `DEV_MODE` false — the `default` export
 *    condition, so an app's production bundle drops twin-state's long messages and warnings as
 *    the CDN bundle does (the same split as Lit's `development/` folder). Only `src/dev.js`
 *    differs; the copy has no `.d.ts` (types always come from `dist/lib/`).
 * 3. The browser bundles, by rollup (rollup.config.mjs): `twin.js` = `twin.min.js`,
 *    `twin.dev.js`, `lit.js`.
 * 4. `dist/custom-elements.json` (package.json `customElements`), the Custom Elements Manifest,
 *    by @custom-elements-manifest/analyzer (custom-elements-manifest.config.mjs).
 * A type error fails the build: a package must not ship declarations that do not hold.
 * `npm start` builds only the bundles (rollup alone): the checkout runs its sources.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceDisposableLib, stripInternal } from './strip-internal.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules/.bin', name);

/**
 * `TWIN_BUILD_TYPE_ERRORS=warn` lets tsc's output through despite type errors (tsc emits
 * anyway): for working on the build while other work breaks the types. Never for a release.
 */
const typeErrorsWarn = process.env.TWIN_BUILD_TYPE_ERRORS === 'warn';

/** Runs a build step; exits with its status if it fails (a `lenient` step only warns). */
function run(title, command, args, { lenient = false } = {}) {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0 && lenient) {
    console.warn(`build: ${title} had errors, ignored (TWIN_BUILD_TYPE_ERRORS=warn): do not publish this build.`);
  } else if (result.status !== 0) {
    console.error(`build: ${title} failed (${result.status ?? result.signal}).`);
    process.exit(result.status || 1);
  }
  console.log(`build: ${title} (${Math.round(performance.now() - started)} ms)`);
}

// Stale files of a removed module must not ship: start the Node trees from nothing.
rmSync(join(root, 'dist/lib'), { recursive: true, force: true });
rmSync(join(root, 'dist/lib-prod'), { recursive: true, force: true });
rmSync(join(root, 'dist/chunks'), { recursive: true, force: true });

run('tsc (dist/lib: JavaScript and .d.ts)', bin('tsc'), ['-p', 'tsconfig.build.json'], { lenient: typeErrorsWarn });

const strip = stripInternal(root, bin('tsc'));
if (strip.stripped) {
  console.log('build: .d.ts with @internal declarations stripped');
} else {
  console.warn(`build: .d.ts keep their @internal declarations: stripped, they would not type-check:\n  ${strip.errors.join('\n  ')}`);
}
referenceDisposableLib(join(root, 'dist/lib'));

for (const dir of ['src', 'elements']) {
  cpSync(join(root, 'dist/lib', dir), join(root, 'dist/lib-prod', dir), {
    recursive: true,
    filter: (path) => !path.endsWith('.d.ts'),
  });
}
writeFileSync(
  join(root, 'dist/lib-prod/src/dev.js'),
  `// SPDX-License-Identifier: MIT\n// The production build of src/dev.ts (scripts/build.mjs): dev-only checks and long messages off.\n/** False: the production build. */\nexport const DEV_MODE = false;\n`,
);
console.log('build: dist/lib-prod (DEV_MODE false)');

run('rollup (browser bundles)', process.execPath, [bin('rollup'), '-c', '--silent']);

run('dist/custom-elements.json', process.execPath, [join(root, 'node_modules/@custom-elements-manifest/analyzer/cem.js'), 'analyze', '--quiet']);
