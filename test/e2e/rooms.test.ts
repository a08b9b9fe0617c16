// SPDX-License-Identifier: MIT
/**
 * The rooms demo (demo/room.html?room=NAME, a store family): a room is picked by name from the
 * URL, and messages reach the readers of that room and no other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Serving } from '../../server/cli.js';
import { $room } from '../../demo/stores/index.js';
import { checkPrerequisites, launchBrowser, newUser, openPage, sendMessage, serveDemo, TIMEOUT_MS, waitText } from './harness.js';

describe('rooms demo', () => {
  let serving: Serving;
  let browser: Browser;
  const users: BrowserContext[] = [];

  before(async () => {
    checkPrerequisites();
    serving = await serveDemo();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const user of users) await user.close().catch(() => undefined);
    await browser?.close();
    await serving?.close();
  });

  const open = async (path: string, options?: { online: boolean }): Promise<Page> => {
    const context = await newUser(browser);
    users.push(context);
    return openPage(context, serving.url, path, options);
  };

  test('a room is picked by name, and is hidden until one is', async () => {
    // No room, no shared store: the page has no reason to connect yet.
    const page = await open('/room.html', { online: false });
    assert.equal(await page.locator('#room-title').isVisible(), false);
    await page.locator('#room-name').fill('lobby');
    await page.locator('form.room-picker button').click();
    await page.waitForURL(/\/room\.html\?room=lobby$/, { timeout: TIMEOUT_MS });
    await waitText(page, '#room-title', 'lobby');
    await page.locator('.empty', { hasText: 'Nobody has written here yet.' }).waitFor({ timeout: TIMEOUT_MS });
    await page.close();
  });

  test('a message reaches the readers of its room and no other', async () => {
    const [a, b, elsewhere] = [await open('/room.html?room=general'), await open('/room.html?room=general'), await open('/room.html?room=random')];
    await a.locator('#player-name').fill('Ada');
    await sendMessage(a, 'Hello, general');
    await b.locator('.msg', { hasText: 'Hello, general' }).locator('.author', { hasText: 'Ada' }).waitFor({ timeout: TIMEOUT_MS });
    assert.deepEqual($room('general').messages.map((m) => m.text), ['Hello, general']);

    await sendMessage(elsewhere, 'Hello, random');
    await elsewhere.locator('.msg', { hasText: 'Hello, random' }).waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await a.locator('.msg', { hasText: 'Hello, random' }).count(), 0);
    assert.equal(await elsewhere.locator('.msg', { hasText: 'Hello, general' }).count(), 0);
    await Promise.all([a.close(), b.close(), elsewhere.close()]);
  });
});
