// SPDX-License-Identifier: MIT
/**
 * The Game of Life demo (demo/life.html) in real Chromium, two users: both see the same
 * generations advancing (the server runs them while someone watches), a cell one flips shows
 * in the other, and the server stops when nobody watches.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { $life } from '../../demo/stores/index.js';
import { boardOf } from '../../demo/stores/life.js';
import { delay } from '../helpers/server.js';
import { TIMEOUT_MS, useDemo } from './harness.js';

/** The live cells of the page's board when it draws generation `gen` (polled often: a generation lasts 200 ms). */
async function boardAt(page: Page, gen: number): Promise<number[]> {
  const handle = await page.waitForFunction((want) => {
    const board = document.getElementById('life-board')!;
    const now = Number(board.dataset.gen);
    if (now > want) return `missed: at ${now}`;
    return now === want && [...board.children].flatMap((cell, i) => (cell.classList.contains('on') ? [i] : []));
  }, gen, { timeout: TIMEOUT_MS, polling: 5 });
  const value = await handle.jsonValue();
  if (typeof value === 'string') throw new Error(`Generation ${gen} went by unseen (${value}).`);
  return value as number[];
}

/** Waits until the page's board shows generation `gen` or later. */
async function reach(page: Page, gen: number): Promise<void> {
  await page.waitForFunction((want) => Number(document.getElementById('life-board')?.dataset.gen) >= want, gen, { timeout: TIMEOUT_MS, polling: 20 });
}

describe('life demo', () => {
  const demo = useDemo();

  test('two users see the same generations advance, and a cell one flips shows in the other', async (t) => {
    const [a, b] = [await demo.open('/life.html'), await demo.open('/life.html')];
    t.after(() => Promise.all([a.close(), b.close()]));
    const start = $life.gen;
    await Promise.all([reach(a, start + 3), reach(b, start + 3)]);

    // Both draw the same board at the same generation (caught as each page draws it).
    const target = $life.gen + 2;
    const [sa, sb] = await Promise.all([boardAt(a, target), boardAt(b, target)]);
    assert.ok(sa.length > 0, 'a live board');
    assert.deepEqual(sa, sb, `both pages show generation ${target} alike`);
    assert.notDeepEqual(await boardAt(a, target + 1), sa, 'and it changes from one generation to the next');

    // Flip a cell in the top-right corner, which the gun, its gliders and the soup never come
    // within two cells of (checked over the first 20,000 generations). Alone, it dies at the next generation, so the
    // other page records every state its cell is drawn in.
    const index = 49; // row 0, column 49
    assert.equal(boardOf($life)[index], 0, 'the corner starts empty');
    await b.evaluate((i) => {
      const cell = document.querySelector(`#life-board > i[data-cell="${i}"]`)!;
      const seen: boolean[] = [];
      (window as unknown as { seen: boolean[] }).seen = seen;
      new MutationObserver(() => seen.push(cell.classList.contains('on'))).observe(cell, { attributes: true, attributeFilter: ['class'] });
    }, index);
    await a.locator(`#life-board > i[data-cell="${index}"]`).click();
    // Drawn alive on the other page, then dead by the rules (a lone cell dies).
    await b.waitForFunction(() => (window as unknown as { seen: boolean[] }).seen.join() === 'true,false', undefined, { timeout: TIMEOUT_MS, polling: 20 });
    assert.equal(boardOf($life)[index], 0, 'and on the server it died too');
  });

  test('a cell off the board is refused with the reason, and the server runs no generation while nobody watches', async () => {
    const page = await demo.open('/life.html');
    await reach(page, $life.gen + 1);
    // As a page script would call it (the path is a variable so that tsc leaves it alone).
    await page.evaluate(async (script) => {
      const twin = (await import(script)) as { call(name: string, ...args: unknown[]): Promise<unknown> };
      await twin.call('toggle_cell', 2500).catch(() => undefined);
    }, '/_twin/twin.js');
    await page.locator('twin-error', { hasText: 'A cell is a whole number from 0 to 2499, not 2500.' }).waitFor({ timeout: TIMEOUT_MS });

    await page.close();
    // The page is gone: nobody watches (the first test's pages were closed after it).
    await delay(500); // the unsubscribe arrives, and any generation already due runs
    const idle = $life.gen;
    await delay(1000);
    assert.equal($life.gen, idle, 'no generation in a second with nobody watching');
  });
});
