// SPDX-License-Identifier: MIT
/**
 * What the gzip size of `dist/twin.js` is made of: the bundle built as `npm run build` builds
 * it (rollup.config.mjs, its plugins and settings, nothing written), then with parts left out.
 * Run with `node bench/bundle-size.mjs`. Gzip does not add up across parts, so each line is a
 * whole bundle, and `full − this` is what leaving those parts out saves (for the polyfill
 * alone: what twin-state's own code weighs). The written dist/twin.js is some 30 B larger: its
 * source map comment.
 */
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { rollup } from 'rollup';
import configs from '../rollup.config.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const CORE = `${root}src/index.ts`;
const ELEMENT = (name) => `${root}elements/${name}.ts`;

/** The bundles to measure: a label, and the source of their entry module. */
const VARIANTS = [
  ['signal-polyfill alone', `export { Signal } from 'signal-polyfill';`],
  ['the runtime a plain page needs, no elements', `export { Signal, store, connect, call } from '${CORE}';`],
  ['the elements and that runtime, no script API', `export { Signal } from '${CORE}'; export * from '${root}elements/index.ts';`],
  // Issue 12's "core page": what a page using only these elements would load if the rest
  // (twin-list, the script API beyond connect/store/call) came in chunks on first use.
  ['core page: bind/show/status/error/action', `
    export { call, connect, store } from '${CORE}';
    export { TwinBindElement } from '${ELEMENT('twin-bind')}';
    export { TwinShowElement } from '${ELEMENT('twin-show')}';
    export { TwinStatusElement } from '${ELEMENT('twin-status')}';
    export { TwinErrorElement } from '${ELEMENT('twin-error')}';
    export { runAction } from '${ELEMENT('actions')}';`],
  ['without the extras beyond the core API', `
    export { call, computed, connect, defineApp, effect, ErrorCode, increment, isTwinError, Signal, signalOf,
      snapshot, status, store, subscribe, TwinError } from '${CORE}';
    export { TwinBindElement } from '${ELEMENT('twin-bind')}';
    export { TwinShowElement } from '${ELEMENT('twin-show')}';
    export { TwinListElement } from '${ELEMENT('twin-list')}';
    export { runAction, TwinActionEvent } from '${ELEMENT('actions')}';`],
];

/** Only the build itself: the plugins that print, gate or copy files stay out. */
const SIDE_EFFECTS = new Set(['twin-report', 'twin-gate', 'twin-cdn-copy']);
const twin = configs[0];
const plugins = twin.plugins.filter((plugin) => !SIDE_EFFECTS.has(plugin.name));

/** A module whose id is `\0entry` and whose source is `source`. */
function entry(source) {
  return {
    name: 'twin-size-entry',
    resolveId: (id) => (id === '\0entry' ? id : null),
    load: (id) => (id === '\0entry' ? source : null),
  };
}

async function measure(input, extra = []) {
  const bundle = await rollup({ input, plugins: [...extra, ...plugins], onwarn() {} });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  const { code } = output.find((chunk) => chunk.type === 'chunk');
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

/**
 * Issue 14's durable outbox left out: `src/kept-writes.ts` replaced by writes kept in memory
 * only (what the client did before), so `full − this` is what the outbox adds.
 */
const withoutOutbox = {
  name: 'twin-size-no-outbox',
  load: (id) => (id.endsWith('/src/kept-writes.ts') ? `
    import { state } from './signals.js';
    export function createKeptWrites() {
      return { keep() {}, settle() {}, define() {}, stale: state([]), ready: Promise.resolve(), claims: () => [] };
    }` : null),
};

const format = (n) => n.toLocaleString('en').padStart(7);
const full = await measure(twin.input);
console.log(`${'bundle'.padEnd(46)} ${'min B'.padStart(7)} ${'gzip B'.padStart(7)} ${'full − this'.padStart(12)}`);
console.log(`${'dist/twin.min.js (= twin.js), all-in'.padEnd(46)} ${format(full.min)} ${format(full.gzip)}`);
const row = (label, size) => console.log(`${label.padEnd(46)} ${format(size.min)} ${format(size.gzip)} ${format(full.gzip - size.gzip).padStart(12)}`);
for (const [label, source] of VARIANTS) row(label, await measure('\0entry', [entry(source)]));
row('all-in without the durable outbox (issue 14)', await measure(twin.input, [withoutOutbox]));
