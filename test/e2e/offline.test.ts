// SPDX-License-Identifier: MIT
/**
 * A page whose browser goes offline, in real Chromium: it does not keep knocking while
 * `navigator.onLine` is false, and reconnects as soon as the browser is back online — it does
 * not wait out a backoff that grew while it was away.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TIMEOUT_MS, useDemo } from './harness.js';

describe('a page that goes offline', () => {
  const demo = useDemo();

  test('pauses reconnecting while offline and reconnects at once when back online', async () => {
    const user = await demo.user();
    const page = await user.newPage();
    await page.goto(`${demo.serving.url}/counter.html`);
    await page.locator('twin-status[state="online"]').waitFor({ timeout: TIMEOUT_MS });
    const opened: number[] = [];
    page.on('websocket', () => opened.push(Date.now()));

    await user.setOffline(true);
    // Going offline ends the socket (the page may notice by its heartbeat; force it here).
    await page.evaluate(() => window.dispatchEvent(new Event('offline')));
    await page.evaluate(async (src) => {
      const { pageClient } = (await import(src)) as { pageClient(): { connect(): void } };
      pageClient().connect(); // drops the socket; the new one fails offline
    }, '/_twin/twin.js');
    await page.locator('twin-status:not([state="online"])').waitFor({ timeout: TIMEOUT_MS });
    const whileOffline = opened.length;
    // Writes made offline wait for the network: they do not knock either.
    await page.evaluate(async (src) => {
      const { pageClient } = (await import(src)) as { pageClient(): { store(name: string): { score: number } } };
      for (let i = 1; i <= 3; i++) {
        pageClient().store('game_state').score = 100 + i;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }, '/_twin/twin.js');
    await page.waitForTimeout(2000);
    assert.ok(opened.length - whileOffline <= 1, `${opened.length - whileOffline} sockets opened while offline`);

    const back = Date.now();
    await user.setOffline(false);
    await page.locator('twin-status[state="online"]').waitFor({ timeout: TIMEOUT_MS });
    assert.ok(Date.now() - back < 2000, `online again ${Date.now() - back} ms after the network came back`);
    // And what was written offline is sent.
    await page.locator('#score', { hasText: '103' }).waitFor({ timeout: TIMEOUT_MS });
    await page.locator('twin-status:not([pending])').waitFor({ timeout: TIMEOUT_MS });
  });
});
