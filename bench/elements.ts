// SPDX-License-Identifier: MIT
/**
 * @module bench/elements
 * One key changed among 10,000 bound elements, in headless Chromium: `<twin-bind>` elements
 * (each watching its own key) against a SignalWatcher Lit element re-rendering a 10,000-row
 * list, in the same page, production builds of both. For each: the DOM mutations one update
 * makes (counted with a MutationObserver; twin must touch only the bound node) and the time
 * from the write to the updated DOM (median of the measured updates, after a warm-up).
 *
 * The page is served on a loopback port, cross-origin isolated for a fine `performance.now()`.
 * Run: `node --import tsx bench/elements.ts` (ROWS and UPDATES env vars override the sizes).
 * Needs Chromium at /usr/bin/chromium (or CHROME_PATH).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { UpdateResult } from './elements-page.js';
import { summarize } from './lib/stats.js';
import { formatRatio, printTable } from './lib/table.js';

const ROWS = Number(process.env.ROWS ?? 10_000);
const UPDATES = Math.max(20, Number(process.env.UPDATES ?? 30));
const WARMUP = 5;
const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';

if (!existsSync(CHROME)) {
  console.error(`Chromium is needed for this benchmark: apt-get install chromium (looked for ${CHROME}; set CHROME_PATH).`);
  process.exit(1);
}

// The page's script: the elements and Lit, production builds (no development condition, no dev checks).
const bundle = await build({
  entryPoints: [fileURLToPath(new URL('./elements-page.ts', import.meta.url))],
  bundle: true,
  write: false,
  format: 'esm',
  target: 'es2022',
  minify: true,
  define: { __TWIN_DEV__: 'false' },
  logLevel: 'error',
});
const script = bundle.outputFiles[0]!.text;

const server = await serve(script);
const browser = await chromium.launch({
  executablePath: CHROME,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const warnings: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'warning' || message.type() === 'error') warnings.push(message.text());
  });
  page.on('pageerror', (error) => warnings.push(String(error)));
  await page.goto(server.url);
  await page.waitForFunction(() => 'bench' in window);
  const isolated = await page.evaluate(() => crossOriginIsolated);

  const setup = await page.evaluate((rows) => window.bench.setup(rows), ROWS);
  const twin: UpdateResult[] = [];
  const lit: UpdateResult[] = [];
  for (let i = 0; i < WARMUP + UPDATES; i++) {
    // A different row each time, spread over the list; twin and Lit alternate.
    const index = Math.floor(((i * 7919) % ROWS));
    const t = await page.evaluate(([index, value]) => window.bench.twin(index, value), [index, i + 1] as const);
    const l = await page.evaluate(([index, value]) => window.bench.lit(index, value), [index, i + 1] as const);
    if (i >= WARMUP) {
      twin.push(t);
      lit.push(l);
    }
  }

  const check = (results: UpdateResult[], name: string) => {
    const wrong = results.filter((r) => !r.shown).length;
    if (wrong) throw new Error(`${name}: ${wrong} updates did not show the new value.`);
  };
  check(twin, 'twin');
  check(lit, 'lit');

  const twinMs = summarize(twin.map((r) => r.ms));
  const litMs = summarize(lit.map((r) => r.ms));
  const mutations = (results: UpdateResult[]) => {
    const counts = [...new Set(results.map((r) => r.mutations))].sort((a, b) => a - b);
    return counts.length === 1 ? String(counts[0]) : `${counts[0]}-${counts.at(-1)}`;
  };
  console.log(`One key changed among ${ROWS.toLocaleString('en-US')} bound nodes, ${UPDATES} updates (after ${WARMUP} warm-up), headless Chromium, production builds;`);
  console.log(`timer resolution ${isolated ? '5 µs (cross-origin isolated)' : '100 µs (not isolated)'}.\n`);
  printTable(
    ['approach', 'first render ms', 'DOM mutations / update', 'median ms', 'p99 ms', 'min ms', 'max ms'],
    [
      [`${ROWS.toLocaleString('en-US')} <twin-bind>, one key each`, setup.twinMs, mutations(twin), twinMs.p50, twinMs.p99, twinMs.min, twinMs.max],
      [`SignalWatcher Lit element, ${ROWS.toLocaleString('en-US')}-row list`, setup.litMs, mutations(lit), litMs.p50, litMs.p99, litMs.min, litMs.max],
    ],
  );
  console.log(`\nLit re-render / twin-bind update, median: ${formatRatio(litMs.p50 / twinMs.p50)}`);
  const onlyBound = twin.every((r) => r.mutations === 1);
  console.log(`twin-bind touched only the bound node on every update: ${onlyBound ? 'yes' : 'NO'}`);
  if (warnings.length) console.log(`\nPage warnings:\n  ${warnings.join('\n  ')}`);
  if (!onlyBound) process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}

/**
 * Serves the page on a loopback port. Cross-origin isolated (COOP + COEP), so that
 * `performance.now()` has its fine resolution (5 µs instead of 100 µs).
 */
async function serve(code: string): Promise<{ url: string; close(): void }> {
  const page = '<!doctype html><html><head><meta charset="utf-8"><script type="module" src="/bench.js"></script></head><body></body></html>';
  const http = createServer((req, res) => {
    const js = req.url === '/bench.js';
    res.writeHead(js || req.url === '/' ? 200 : 204, {
      'Content-Type': js ? 'text/javascript' : 'text/html; charset=utf-8',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    res.end(js ? code : page);
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => http.close() };
}
