#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * `npm run build` (and `prepack`): everything the npm package ships in `dist/`.
 * 1. `dist/lib/`: the JavaScript and `.d.ts` of every entry (`twin-state`, `/elements`, `/lit`,
 *    `/server`, and the CLI), compiled by tsc from tsconfig.build.json, `@internal` declarations
 *    stripped. Full messages and dev warnings: the `development` and `node` export conditions.
 * 2. `dist/lib-prod/`: the browser entries again with `DEV_MODE` false — the `default` export
 *    condition, so an app's production bundle drops twin-state's long messages and warnings as
 *    the CDN bundle does (the same split as Lit's `development/` folder). Only `src/dev.js`
 *    differs; the copy has no `.d.ts` (types always come from `dist/lib/`).
 * 3. The browser bundles, by rollup (rollup.config.mjs): `twin.js` = `twin.min.js`,
 *    `twin.dev.js`, `lit.js`.
 * 4. `dist/custom-elements.json` (package.json `customElements`), the Custom Elements Manifest,
 *    by @custom-elements-manifest/analyzer (custom-elements-manifest.config.mjs).
 * A type error fails the build: a package must not ship declarations that do not hold.
 * `npm start` builds only the bundles (`npm run build:bundles`): the checkout runs its sources.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

// `Symbol.dispose` (the `using` support of subscriptions) is declared by lib esnext.disposable
// (or @types/node): a browser app whose tsconfig has neither would fail on our .d.ts.
const DISPOSABLE_LIB = '/// <reference lib="esnext.disposable" />\n';
for (const entry of readdirSync(join(root, 'dist/lib'), { recursive: true })) {
  const file = join(root, 'dist/lib', String(entry));
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  if (/Symbol\.(?:async)?[dD]ispose/.test(text)) writeFileSync(file, DISPOSABLE_LIB + text);
}

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
