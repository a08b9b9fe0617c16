// SPDX-License-Identifier: MIT
/**
 * The `.d.ts` of the package without what is tagged `@internal` (tsc's `stripInternal`) — but
 * only when the stripped declarations still hold on their own. Stripping removes a declaration
 * even where a public one still names it (a public class implementing an internal interface, a
 * public signature using an internal type), and then every app that type-checks its
 * dependencies (`skipLibCheck: false`) fails on our files. So the stripped `.d.ts` are emitted
 * aside, type-checked as a strict app would see them, and replace `dist/lib`'s only if clean;
 * otherwise the build keeps the full ones (the exports map still keeps the internal modules out
 * of reach) and says which internal declarations are named by public ones.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The entries' declarations, as an app importing every entry reaches them. */
const ENTRIES = ['src/index.d.ts', 'server/index.d.ts', 'elements/index.d.ts', 'elements/lit.d.ts'];
/** How many of tsc's error lines the build prints when it cannot strip. */
const SHOWN_ERRORS = 8;

/**
 * `Symbol.dispose` (the `using` support of subscriptions) is declared by lib
 * esnext.disposable (or @types/node): without this reference, a browser app whose tsconfig
 * has neither would fail on our `.d.ts`.
 */
export function referenceDisposableLib(dir) {
  const reference = '/// <reference lib="esnext.disposable" />\n';
  for (const entry of readdirSync(dir, { recursive: true })) {
    const file = join(dir, String(entry));
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    if (/Symbol\.(?:async)?[dD]ispose/.test(text) && !text.startsWith(reference)) writeFileSync(file, reference + text);
  }
}

/**
 * Emits the stripped `.d.ts` into `dist/.dts-stripped`, checks them, and copies them over
 * `dist/lib` when they hold. Returns `{ stripped: true }`, or `{ stripped: false, errors }`
 * with tsc's first error lines.
 */
export function stripInternal(root, tsc) {
  const aside = join(root, 'dist/.dts-stripped');
  rmSync(aside, { recursive: true, force: true });
  try {
    const emit = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--stripInternal', '--outDir', aside], { cwd: root, encoding: 'utf8' });
    if (emit.status !== 0) return { stripped: false, errors: firstErrors(`${emit.stdout}${emit.stderr}`) };
    referenceDisposableLib(aside);
    const check = {
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true, types: ['node'],
      },
      files: ENTRIES,
    };
    writeFileSync(join(aside, 'tsconfig.json'), JSON.stringify(check));
    const result = spawnSync(tsc, ['-p', join(aside, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) return { stripped: false, errors: firstErrors(`${result.stdout}${result.stderr}`) };
    rmSync(join(aside, 'tsconfig.json'));
    cpSync(aside, join(root, 'dist/lib'), { recursive: true });
    return { stripped: true };
  } finally {
    rmSync(aside, { recursive: true, force: true });
  }
}

function firstErrors(output) {
  return output.split('\n').filter((line) => /error TS/.test(line)).slice(0, SHOWN_ERRORS).map((line) => line.replace(/^.*dist\/\.dts-stripped\//, ''));
}
