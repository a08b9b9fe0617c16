// SPDX-License-Identifier: MIT
/**
 * The demo's local stores (player name and theme: `persist: 'local', cookie: true`) in real
 * Chromium: two tabs of one user follow each other's writes, and a page loaded after them is
 * rendered by the server with the user's values (from the mirror cookie), so it never shows
 * the defaults first. Checked three ways: a page whose script never runs (its first paint),
 * a plain fetch with the browser's Cookie header (what curl sees), and another user who has
 * no cookie (the defaults: one visitor's values never reach another's page).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { openPage, TIMEOUT_MS, useDemo, waitValue } from './harness.js';

describe('demo local stores across tabs and reloads', () => {
  const demo = useDemo();
  let user: BrowserContext;
  let a: Page;
  let b: Page;

  /** The theme the page's `.app` shows (set by `<twin-bind store="ui_state" key="theme" attr="data-theme">`). */
  const themeOf = (page: Page) => page.locator('.app').getAttribute('data-theme');

  test('a name and theme set in one tab show in the other tab of the same user', async () => {
    user = await demo.user();
    a = await openPage(user, demo.serving.url, '/index.html');
    b = await openPage(user, demo.serving.url, '/counter.html');
    assert.equal(await themeOf(b), 'light');
    await waitValue(b, '#player-name', '');

    await a.locator('#player-name').fill('Ada <b>&</b>');
    await a.locator('#theme').selectOption('dark');
    await waitValue(b, '#player-name', 'Ada <b>&</b>');
    await b.locator('.app[data-theme="dark"]').waitFor({ timeout: TIMEOUT_MS });
    await waitValue(b, '#theme', 'dark');

    // And back the other way.
    await b.locator('#theme').selectOption('light');
    await a.locator('.app[data-theme="light"]').waitFor({ timeout: TIMEOUT_MS });
    await b.locator('#theme').selectOption('dark');
    await a.locator('.app[data-theme="dark"]').waitFor({ timeout: TIMEOUT_MS });
  });

  test('a page loaded afterwards shows them in its first paint, before any script runs', async () => {
    const page = await user.newPage();
    // No twin script: what shows is exactly the HTML the server rendered.
    await page.route('**/_twin/*.js', (route) => route.abort());
    await page.goto(new URL('/chat.html', demo.serving.url).href);
    assert.equal(await themeOf(page), 'dark');
    assert.equal(await page.locator('#player-name').inputValue(), 'Ada <b>&</b>');
    assert.equal(await page.locator('#theme').inputValue(), 'dark');
    await page.close();
  });

  test('the HTML fetched with the browser\'s cookies (as curl would) holds them; without, the defaults', async () => {
    const cookies = await user.cookies(demo.serving.url);
    const mirrored = cookies.filter((c) => c.name.startsWith('twin.')).map((c) => c.name).sort();
    assert.deepEqual(mirrored, ['twin.player_state', 'twin.ui_state']);
    for (const c of cookies.filter((c) => c.name.startsWith('twin.'))) {
      assert.equal(c.path, '/');
      assert.equal(c.sameSite, 'Lax');
      assert.ok(c.expires > Date.now() / 1000 + 300 * 24 * 3600, `${c.name} lives long`);
    }
    const header = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const html = await (await fetch(new URL('/index.html', demo.serving.url), { headers: { cookie: header } })).text();
    assert.match(html, /<div class="app" data-theme="dark">/);
    assert.match(html, /<input id="player-name"[^>]* value="Ada &lt;b&gt;&amp;&lt;\/b&gt;"/);
    assert.match(html, /"player_state":\{"value":\{"name":"Ada \\u003cb>&\\u003c\/b>"\},"persist":"local","cookie":true\}/);

    const plain = await (await fetch(new URL('/index.html', demo.serving.url))).text();
    assert.match(plain, /<div class="app" data-theme="light">/);
    assert.ok(!plain.includes('Ada'));
    // Another user of the same server (no cookie, no localStorage) gets the defaults.
    const other = await openPage(await demo.user(), demo.serving.url, '/index.html');
    assert.equal(await themeOf(other), 'light');
    await waitValue(other, '#player-name', '');
  });

  test('a reload never shows the default theme, not even for a moment', async () => {
    // Every data-theme the page ever has, from the first parsed element on.
    await b.addInitScript(() => {
      const seen: (string | null)[] = ((globalThis as unknown as { seenThemes: (string | null)[] }).seenThemes = []);
      new MutationObserver(() => {
        const app = document.querySelector('.app');
        if (app && seen.at(-1) !== app.getAttribute('data-theme')) seen.push(app.getAttribute('data-theme'));
      }).observe(document, { subtree: true, childList: true, attributes: true });
    });
    await b.reload();
    await b.locator('twin-status[state="online"]').waitFor({ timeout: TIMEOUT_MS });
    const seen = await b.evaluate(() => (globalThis as unknown as { seenThemes: (string | null)[] }).seenThemes);
    assert.deepEqual(seen, ['dark']);
    await waitValue(b, '#player-name', 'Ada <b>&</b>');
  });
});
