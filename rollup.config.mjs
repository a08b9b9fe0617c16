// SPDX-License-Identifier: MIT
/**
 * The browser bundles (`npm run build`):
 * - `dist/twin.js` (and `dist/twin.min.js`, the CDN name): the twin-state API and every element,
 *   signal-polyfill included, no Lit. Budget: {@link TWIN_BUDGET} (`TWIN_BUDGET_GZIP` overrides
 *   it). The licenses of the bundled code are in `dist/twin.js.LICENSE.txt`.
 * - `dist/lit.js`: Lit and @lit-labs/signals, with the twin-state API re-exported from
 *   `./twin.js` — the core and signal-polyfill are imports of `./twin.js`, not copies — so a
 *   page loading both has one store registry and one signal graph.
 * - `dist/twin.dev.js`: twin.js for development, not minified, with twin-state's full error
 *   messages and dev-only warnings (`__TWIN_DEV__ = true`).
 * twin.js and lit.js are production builds: no `development` export condition (no "Lit is in
 * dev mode"), and twin-state's own `DEV_MODE` checks compiled out (`__TWIN_DEV__ = false`).
 * (The Node modules and .d.ts of the npm package are scripts/build.mjs's: tsc, not rollup.)
 * Each build prints every bundle's minified and gzip size, and fails when a check does not hold.
 */
import { copyFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import esbuild from 'rollup-plugin-esbuild';

/**
 * The gzip budget of dist/twin.js, in bytes: a little above its size (19,498 B: +21 B for a
 * `twin-action` checkbox in a form that toggles again, −13 B for the dead `status()` of the
 * runtimes), so growth is a decision, not an accident. It was 19,450 B before kept writes were checked against the
 * store versions the server names in its welcome (+61 B: a gone page's write to a store this
 * page does not define, made against an older version, was sent); 19,400 B before a stale write retried by the app went
 * out as a new write of the page (+59 B: under its old id the server took it for applied once
 * a later write of that id was); 19,300 B before the trackers of pending writes were
 * bounded (+87 B: a store keyed by ids no longer keeps a tracker per key ever asked about,
 * issue 14's doubt); 19,100 B before a page open meanwhile took over a closed
 * tab's outbox (+190 B, with the newest slots first, issue 14's doubts); 18,950 B before a large store's snapshot came in parts
 * (+128 B: a 10 MB store joined with no task over 50 ms, was 80–110 ms); 18,800 B before issue 16's review: undo of a write not
 * yet confirmed (+126 B) and presence holding its store subscribed (+28 B). It was 16,365 B before issue 16: presence (+0.88 KB: the client
 * 0.51, `<twin-presence>` and `<twin-bind presence>` 0.37) and undo/redo (+1.08 KB: history
 * 0.33, undo/redo 0.21, the buttons 0.33, the test op and codes 0.09); whether such additions
 * should come as chunks loaded on first use instead is the owner's call (issue 12). It was
 * 14,098 B before issue 14: the durable outbox (+1.16 KB,
 * printed by bench/bundle-size.mjs), pending writes made visible (+0.47 KB) and local stores
 * across tabs with the cookie mirror (+0.31 KB). It was 12,516 B before the connection kept to the server's
 * limits (pacing, frames, oversized writes refused at once), retried what was refused for now,
 * told a refused page (`refused`, close reasons) and paused while hidden or offline (+1.2 KB),
 * and before `<twin-bind>` took the binding policy (+0.4 KB). Issue 4 asks for 10 KB;
 * signal-polyfill alone is 2.1 KB of it, and the README (with bench/bundle-size.mjs) says why
 * the rest cannot shrink by 4 KB without dropping capabilities.
 */
const TWIN_BUDGET = Number(process.env.TWIN_BUDGET_GZIP ?? 19_500);
/** The module id lit.js imports the twin-state core (and the signal polyfill) from. */
const CORE = 'twin-state:core';

/**
 * Renames private members in twin.js, and only those: another copy of twin-state on the page
 * (an app bundle next to the CDN script) uses this copy's objects through their public names.
 * - twin-state's private class members: `_x`, and `__x` on classes users may subclass.
 * - signal-polyfill's reactive-node fields (`producerNode`, `liveConsumerIndexOfThis`,
 *   `wrapper`, `computation`, `dirty`...; names no twin-state code, DOM API or Lit uses): a
 *   node hangs off its signal under a module-private symbol, so only the polyfill copy that
 *   made it ever reads them (and twin-state shares one polyfill copy per page anyway).
 * The new names start with `_` so they cannot clash with a user subclass's own short members.
 */
const MANGLE_PRIVATE = {
  regex: /^(__?[a-z]|producer[A-Z]|liveConsumer[A-Z]|consumer[A-Z]|nextProducerIndex$|lastCleanEpoch$|(wrapper|computation|dirty)$)/,
  // Serialized into terser's worker: self-contained. `_a` … `_Z`, then `_aa` …
  nth_identifier: {
    get(n) {
      const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
      let name = '_';
      do {
        name += chars[n % chars.length];
        n = Math.floor(n / chars.length);
      } while (n > 0);
      return name;
    },
  },
};

/** A comment terser keeps: `/** … *\/` or `/*! … *\/`. */
const KEPT_COMMENT = /\/\*[*!](?:[^*]|\*(?!\/))*\*\//g;

/**
 * Moves the license comments terser kept into `<bundle>.LICENSE.txt`, next to the bundle,
 * each text once, and leaves a pointer to that file in the bundle — as webpack's terser
 * plugin does by default. A comment leaves its newlines, and spaces on its last line, so no
 * code moves and the source map stays valid.
 */
function extractLicenses() {
  return {
    name: 'twin-extract-licenses',
    renderChunk(code, chunk) {
      const file = `${chunk.fileName}.LICENSE.txt`;
      const texts = new Set();
      const moved = code.replace(KEPT_COMMENT, (comment) => {
        const lines = comment.split('\n');
        if (!/@license|@preserve/.test(comment) || lines.length < 2) return comment;
        const pointer = texts.size ? '' : `/*! twin-state (MIT); the licenses of the code bundled here: ${file} */`;
        texts.add(comment);
        return `${pointer}${'\n'.repeat(lines.length - 1)}${' '.repeat(lines.at(-1).length)}`;
      });
      if (texts.size === 0) return null;
      this.parse(moved); // throws if a "comment" was in fact inside a string
      this.emitFile({ type: 'asset', fileName: file, source: `${[...texts].join('\n\n')}\n` });
      return { code: moved, map: null };
    },
  };
}

/**
 * The resolution, transpilation and minification both bundles share. `mangle` adds
 * {@link MANGLE_PRIVATE}: only for twin.js, whose code is all ours or the polyfill's (Lit's
 * members in lit.js are not ours to rename). `licenses` adds {@link extractLicenses}.
 */
function plugins(extra = [], { mangle = false, licenses = false } = {}) {
  return [
    ...extra,
    nodeResolve({ browser: true, extensions: ['.mjs', '.js', '.ts'] }), // no "development" condition: prod Lit
    // minifySyntax: esbuild's own folding first leaves terser a little less to miss (-12 B gzip).
    esbuild({ target: 'es2022', tsconfig: 'tsconfig.json', minifySyntax: true, define: { __TWIN_DEV__: 'false' } }),
    terser({
      ecma: 2020,
      module: true,
      toplevel: true,
      // ngDevMode: signal-polyfill's own dev switch (from Angular), off in production as ours is.
      // hoist_vars: one `var` list per scope (the polyfill's and esbuild's helpers), whose
      // names then mangle shorter: -100 B gzip on twin.js (measured; off by default since it
      // grows most code).
      compress: { passes: 3, hoist_vars: true, global_defs: { ngDevMode: false } },
      ...(mangle ? { mangle: { properties: MANGLE_PRIVATE } } : {}),
      format: { comments: /@license|@preserve|^!/ },
    }),
    ...(licenses ? [extractLicenses()] : []),
  ];
}

/**
 * Drops the messages of signal-polyfill's argument and receiver checks (`TypeError("Wrong
 * receiver type for Signal.State.prototype.get")`...), as twin-state's own long messages are
 * dropped from prod builds: the checks still throw, with an empty message. The errors an app
 * can cause by its logic (a cycle, a write in a watcher callback) keep theirs. The text is
 * blanked in place, so positions, and the source map, stay as they are.
 */
function quietPolyfill() {
  return {
    name: 'twin-quiet-polyfill',
    transform(code, id) {
      if (!id.replaceAll('\\', '/').includes('/node_modules/signal-polyfill/')) return null;
      const quiet = code.replace(/(TypeError\()("[^"]*"|'[^']*')/g, (_, call, text) => `${call}""${' '.repeat(text.length - 2)}`);
      return { code: quiet, map: null };
    },
  };
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

/**
 * Fails the build if any check failed. `TWIN_GATE=warn` (what `npm start` sets: trying the
 * demo must not wait on a size decision) prints the problems instead; `npm test` and `npm
 * pack` build with the gate closed.
 */
function gate() {
  return {
    name: 'twin-gate',
    writeBundle() {
      if (!problems.length) return;
      const text = problems.splice(0).join('\n');
      if (process.env.TWIN_GATE === 'warn') console.warn(`warning: ${text}`);
      else this.error(text);
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
      ...plugins([quietPolyfill()], { mangle: true, licenses: true }),
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
    // The development build: full messages and dev-only warnings (DEV_MODE on), not minified.
    input: 'elements/twin.ts',
    output: { file: 'dist/twin.dev.js', format: 'es', sourcemap: true },
    plugins: [
      nodeResolve({ browser: true, extensions: ['.mjs', '.js', '.ts'] }),
      esbuild({ target: 'es2022', tsconfig: 'tsconfig.json', define: { __TWIN_DEV__: 'true' } }),
      report((code) => (code.includes('__TWIN_DEV__') ? 'dist/twin.dev.js still reads __TWIN_DEV__ (it was not replaced).' : undefined)),
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
