// SPDX-License-Identifier: MIT
/**
 * The browser bundles (`npm run build`):
 * - `dist/twin.js` (and `dist/twin.min.js`, the CDN name): the twin-state API and every element,
 *   signal-polyfill included, no Lit. Budget: 10 KB gzip (`TWIN_BUDGET_GZIP` overrides it).
 * - `dist/lit.js`: Lit and @lit-labs/signals, with the twin-state API re-exported from
 *   `./twin.js` — the core and signal-polyfill are imports of `./twin.js`, not copies — so a
 *   page loading both has one store registry and one signal graph.
 * Both are production builds: no `development` export condition (no "Lit is in dev mode"), and
 * twin-state's own `DEV_MODE` checks compiled out (`__TWIN_DEV__ = false`).
 * Each build prints every bundle's minified and gzip size, and fails when a check does not hold.
 */
import { copyFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import esbuild from 'rollup-plugin-esbuild';

/** The gzip budget of dist/twin.js, in bytes. */
const TWIN_BUDGET = Number(process.env.TWIN_BUDGET_GZIP ?? 16 * 1024);
/** The module id lit.js imports the twin-state core (and the signal polyfill) from. */
const CORE = 'twin-state:core';

/** The resolution, transpilation and minification both bundles share. */
function plugins(extra = []) {
  return [
    ...extra,
    nodeResolve({ browser: true, extensions: ['.mjs', '.js', '.ts'] }), // no "development" condition: prod Lit
    esbuild({ target: 'es2022', tsconfig: 'tsconfig.json', define: { __TWIN_DEV__: 'false' } }),
    terser({ ecma: 2020, module: true, compress: { passes: 2 }, format: { comments: /@license|@preserve|^!/ } }),
  ];
}

/** lit.js takes the twin-state core and signal-polyfill from twin.js instead of bundling copies. */
function shareCore() {
  return {
    name: 'twin-share-core',
    resolveId(source, importer) {
      if (source === 'signal-polyfill') return { id: CORE, external: true };
      if (source === './twin.js' && importer?.replaceAll('\\', '/').endsWith('/elements/lit.ts')) return { id: CORE, external: true };
      return null;
    },
  };
}

/** What the checks found wrong; the last bundle's {@link gate} fails the build on it. */
const problems = [];

/**
 * Prints each chunk's minified and gzip size once written, then runs `check(code, gzip)`,
 * which returns an error message when the bundle is not as it must be. Every bundle is
 * written and measured before the build fails, so one failed check hides no other figure.
 */
function report(check) {
  return {
    name: 'twin-report',
    writeBundle(options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const gzip = gzipSync(chunk.code, { level: 9 }).length;
        console.log(`${options.dir ?? options.file}: ${chunk.code.length.toLocaleString('en')} B min, ${gzip.toLocaleString('en')} B gzip`);
        const problem = check?.(chunk.code, gzip);
        if (problem) problems.push(problem);
      }
    },
  };
}

/** Fails the build if any check failed. */
function gate() {
  return {
    name: 'twin-gate',
    writeBundle() {
      if (problems.length) this.error(problems.splice(0).join('\n'));
    },
  };
}

/** Writes the CDN copy of twin.js. */
function cdnCopy() {
  return {
    name: 'twin-cdn-copy',
    async writeBundle() {
      await copyFile('dist/twin.js', 'dist/twin.min.js');
    },
  };
}

export default [
  {
    input: 'elements/twin.ts',
    output: { file: 'dist/twin.js', format: 'es', sourcemap: true },
    plugins: [
      ...plugins(),
      cdnCopy(),
      report((code, gzip) => {
        if (gzip > TWIN_BUDGET) {
          return `dist/twin.js is ${gzip} B gzip, over its budget of ${TWIN_BUDGET} B (TWIN_BUDGET_GZIP).`;
        }
        if (code.includes('__TWIN_DEV__')) return 'dist/twin.js still has dev-mode checks (__TWIN_DEV__ was not replaced).';
        return undefined;
      }),
    ],
  },
  {
    input: 'elements/lit.ts',
    output: { file: 'dist/lit.js', format: 'es', sourcemap: true, paths: { [CORE]: './twin.js' } },
    plugins: [
      ...plugins([shareCore()]),
      report((code) => {
        if (code.includes('Lit is in dev mode')) return 'dist/lit.js is a development build of Lit.';
        // Texts only the polyfill and the core hold: neither may be copied into lit.js.
        if (code.includes('Detected cycle in computations')) return 'dist/lit.js holds a copy of signal-polyfill.';
        if (code.includes('twin-state.runtime')) return 'dist/lit.js holds a copy of the twin-state core.';
        return undefined;
      }),
      gate(),
    ],
  },
];
