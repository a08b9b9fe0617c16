// SPDX-License-Identifier: MIT
/**
 * @module browser-join
 * A page in headless Chromium joins a shared store (the production `dist/twin.js`, the project's
 * client): how long until it holds the store, and the longest main-thread task meanwhile (the
 * Long Tasks API reports every task over 50 ms). The reference, in the same page: one
 * `JSON.parse` of the whole snapshot text, the least one message carrying the store would cost.
 */
import { existsSync, readFileSync } from 'node:fs';
import type Koa from 'koa';
import { chromium } from 'playwright-core';

const CHROME = process.env['CHROME_PATH'] ?? '/usr/bin/chromium';
const PAGE = '/_bench/join.html';
const SCRIPT = '/_bench/twin.js';
const WHOLE = '/_bench/whole.json';

/** Whether Chromium is there to drive. */
export const hasChromium = (): boolean => existsSync(CHROME) && existsSync('dist/twin.js');

/** Koa middleware serving the page, the bundle, and `whole(store)`'s text as the reference's input. */
export function joinPages(whole: (store: string) => string): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path === SCRIPT) {
      ctx.type = 'js';
      ctx.body = readFileSync('dist/twin.js', 'utf8');
    } else if (ctx.path === WHOLE) {
      ctx.type = 'json';
      ctx.body = whole(String(ctx.query['store']));
    } else if (ctx.path === PAGE) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><script>
window.tasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) tasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
</script><script type="module">
import { createClient } from '${SCRIPT}';
const store = new URLSearchParams(location.search).get('store');
const client = createClient({ url: 'ws://' + location.host + '/_twin/ws' });
const start = performance.now();
client.connect();
const s = client.store(store);
const poll = setInterval(() => { if (s.items?.length > 0) { clearInterval(poll); window.joined = performance.now() - start; } }, 2);
</script>`;
    } else {
      await next();
    }
  };
}

export interface BrowserJoin {
  /** From `connect()` to holding the store, ms. */
  readonly joinMs: number;
  /** The longest main-thread task meanwhile, ms (0: none over 50 ms). */
  readonly longestTaskMs: number;
  /** One `JSON.parse` of the whole snapshot, ms. */
  readonly oneParseMs: number;
}

/** Opens a fresh page per run, joining `store` of the server at `base`. */
export async function browserJoin(base: string, store: string, runs: number): Promise<BrowserJoin[]> {
  const browser = await chromium.launch({ executablePath: CHROME, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const results: BrowserJoin[] = [];
    for (let i = 0; i < runs; i++) {
      const page = await browser.newPage();
      await page.goto(`${base}${PAGE}?store=${encodeURIComponent(store)}`);
      await page.waitForFunction(() => (window as unknown as { joined?: number }).joined !== undefined, null, { timeout: 60_000 });
      const { joinMs, tasks } = await page.evaluate(() => ({ joinMs: (window as unknown as { joined: number }).joined, tasks: (window as unknown as { tasks: number[] }).tasks }));
      const oneParseMs = await page.evaluate(async (url) => {
        const text = await (await fetch(url)).text();
        const start = performance.now();
        JSON.parse(text);
        return performance.now() - start;
      }, `${WHOLE}?store=${encodeURIComponent(store)}`);
      results.push({ joinMs, longestTaskMs: Math.max(0, ...tasks), oneParseMs });
      await page.close();
    }
    return results;
  } finally {
    await browser.close();
  }
}
