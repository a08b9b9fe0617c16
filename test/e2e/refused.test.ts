// SPDX-License-Identifier: MIT
/**
 * A page the server will not take (its Origin is not the app's public one) in real Chromium:
 * the page tells a refusal from a network failure — `<twin-status>` says `refused`,
 * `<twin-error>` says why — it stops knocking, and a call made meanwhile ends refused instead
 * of staying busy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Serving } from '../../server/cli.js';
import { serveDemo, TIMEOUT_MS, useBrowser } from './harness.js';

describe('a page whose origin the server refuses', () => {
  const browser = useBrowser();
  let serving: Serving;
  const logged: unknown[][] = [];
  const warn = console.warn;
  before(async () => {
    // The server logs the refused upgrade (once); keep it out of the test output, and check it.
    console.warn = (...args: unknown[]) => void logged.push(args);
    // The app's public URL is elsewhere: a page served at 127.0.0.1 is a foreign origin to it.
    serving = await serveDemo('memory', '--public-url', 'https://chat.example');
  });
  after(async () => {
    console.warn = warn;
    await serving?.close();
  });

  test('shows refused and why, stops reconnecting, and ends a pending call refused', async () => {
    const page = await browser.openAt(serving.url, '/chat.html', { online: false });
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.locator('twin-status[state="refused"]').waitFor({ timeout: TIMEOUT_MS });
    await page.locator('twin-error:not([hidden])').waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await page.locator('twin-error').getAttribute('code'), 'TWIN_ERR_ORIGIN');
    assert.match(await page.locator("twin-error").innerText(), /may not connect|not allowed/i);

    // A call now does not wait for a connection that will never come.
    const form = page.locator('form[twin-action]');
    await form.locator('input[name="text"]').fill('hello?');
    await form.locator('button').click();
    await page.waitForFunction(() => document.querySelector('form[twin-action]')?.getAttribute('aria-busy') !== 'true', undefined, { timeout: TIMEOUT_MS });

    // It stopped knocking: no new socket in a while (a network failure would retry within ~5 s).
    await page.waitForTimeout(1500);
    assert.ok(sockets.length <= 1, `${sockets.length} sockets opened after the refusal`);
    assert.ok(logged.some((line) => /origin/i.test(String(line[0]))), 'the server logged the refused origin');
  });
});
