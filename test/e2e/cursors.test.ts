// SPDX-License-Identifier: MIT
/**
 * The cursors demo (demo/cursors.html + demo/cursors.js) in real Chromium, two browser contexts
 * being two users: a pointer moving on one page moves that cursor on the other, a page does not
 * draw its own cursor, and a closed page's cursor stays through the server's grace (no flicker)
 * and then goes. The demo is served here through `twin()` rather than the CLI, because the CLI
 * has no option for the presence grace and the default 10 s would make the test slow.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import Koa from 'koa';
import type { Page } from 'playwright-core';
import { app } from '../../demo/stores/index.js';
import { twin } from '../../server/index.js';
import type { TwinServer } from '../../server/index.js';
import { openPage, ROOT, TIMEOUT_MS, useBrowser } from './harness.js';

/** The presence grace of this test's server: long enough to see a closed page stay, short enough to wait out. */
const GRACE_MS = 1500;
/** How far a drawn cursor may be from where the pointer went, as a fraction of the board (rounding, CSS). */
const TOLERANCE = 0.01;

/** Moves the mouse over `page`'s board to (`fx`, `fy`), fractions of the board. */
async function pointAt(page: Page, fx: number, fy: number): Promise<void> {
  const box = await page.locator('#board').boundingBox();
  assert.ok(box, 'the board is on screen');
  await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy, { steps: 5 });
}

/** Waits until `page` draws the cursor named `name` at (`fx`, `fy`) within the tolerance. */
async function waitCursorAt(page: Page, name: string, fx: number, fy: number): Promise<void> {
  try {
    await page.waitForFunction(([who, x, y, tol]) => [...document.querySelectorAll<HTMLElement>('#board .cursor')].some((el) =>
      el.querySelector('.name')?.textContent === who && Math.abs(Number(el.dataset.x) - x) <= tol && Math.abs(Number(el.dataset.y) - y) <= tol),
    [name, fx, fy, TOLERANCE] as const, { timeout: TIMEOUT_MS, polling: 50 });
  } catch (err) {
    const shown = await page.locator('#board .cursor').evaluateAll((els) => els.map((el) => `${el.textContent} @ ${(el as HTMLElement).dataset.x},${(el as HTMLElement).dataset.y}`));
    throw new Error(`${name}'s cursor should be at ${fx},${fy}; the board shows ${JSON.stringify(shown)}`, { cause: err });
  }
}

/** The cursors `page` draws for `name`. */
function cursorsOf(page: Page, name: string) {
  return page.locator('#board .cursor').filter({ has: page.locator('.name', { hasText: name }) });
}

describe('cursors demo', () => {
  let server: TwinServer;
  let http: ReturnType<Koa['listen']>;
  let base = '';
  const browser = useBrowser();

  before(async () => {
    server = twin(app, { pages: join(ROOT, 'demo'), presence: { graceMs: GRACE_MS } });
    await server.ready;
    const koa = new Koa();
    koa.use(server.middleware());
    http = koa.listen(0, '127.0.0.1');
    await once(http, 'listening');
    server.attach(http);
    base = `http://localhost:${(http.address() as { port: number }).port}`;
  });
  after(async () => {
    await server?.close();
    http?.closeAllConnections();
    await new Promise((done) => http?.close(done));
  });

  /** Two users on the board, each with a name of their own (pages of an earlier test may linger for the grace). */
  async function twoOnTheBoard(): Promise<{ a: Page; b: Page; alice: string; bob: string }> {
    const a = await openPage(await browser.user(), base, '/cursors.html');
    const b = await openPage(await browser.user(), base, '/cursors.html');
    const [alice, bob] = [`Alice ${Date.now()}`, `Bob ${Date.now()}`];
    await a.locator('#player-name').fill(alice);
    await b.locator('#player-name').fill(bob);
    return { a, b, alice, bob };
  }

  test("a pointer moving on one page moves that cursor on the other, and no page draws its own", async () => {
    const { a, b, alice, bob } = await twoOnTheBoard();
    await pointAt(a, 0.3, 0.4);
    await waitCursorAt(b, alice, 0.3, 0.4);
    await pointAt(a, 0.7, 0.6);
    await waitCursorAt(b, alice, 0.7, 0.6);
    // And the other way, at once with more moves of Alice's: both follow.
    await pointAt(b, 0.2, 0.8);
    await pointAt(a, 0.5, 0.25);
    await waitCursorAt(a, bob, 0.2, 0.8);
    await waitCursorAt(b, alice, 0.5, 0.25);
    // Each page draws the other's cursor once and never its own (the system pointer is it);
    // the own entry is listed among who is here, marked.
    assert.equal(await cursorsOf(a, alice).count(), 0);
    assert.equal(await cursorsOf(b, bob).count(), 0);
    assert.equal(await cursorsOf(a, bob).count(), 1);
    assert.equal(await cursorsOf(b, alice).count(), 1);
    await a.locator('.here li[self]', { hasText: alice }).waitFor({ timeout: TIMEOUT_MS });
    await a.locator('.here li:not([self])', { hasText: bob }).waitFor({ timeout: TIMEOUT_MS });
    // The pointer leaves the board: the cursor goes, the visitor stays listed.
    await a.mouse.move(1, 1);
    await cursorsOf(b, alice).waitFor({ state: 'detached', timeout: TIMEOUT_MS });
    await b.locator('.here li', { hasText: alice }).waitFor({ timeout: TIMEOUT_MS });
    await Promise.all([a.close(), b.close()]);
  });

  test("a closed page's cursor stays through the grace, then goes", async () => {
    const { a, b, alice } = await twoOnTheBoard();
    await pointAt(a, 0.6, 0.3);
    await waitCursorAt(b, alice, 0.6, 0.3);
    const closed = Date.now();
    await a.close();
    // Within the grace: still there (a reload or a short loss shows no leave).
    await delay(GRACE_MS / 2);
    assert.equal(await cursorsOf(b, alice).count(), 1, 'the cursor went before the grace ran out');
    await cursorsOf(b, alice).waitFor({ state: 'detached', timeout: GRACE_MS + TIMEOUT_MS });
    assert.ok(Date.now() - closed >= GRACE_MS * 0.9, `the cursor went after ${Date.now() - closed} ms, before the ${GRACE_MS} ms grace`);
    await b.close();
  });
});
