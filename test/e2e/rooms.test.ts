// SPDX-License-Identifier: MIT
/**
 * The rooms demo (demo/room.html?room=NAME, a store family): a room is picked by name from the
 * URL, and messages reach the readers of that room and no other.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { $room } from '../../demo/stores/index.js';
import { sendMessage, TIMEOUT_MS, useDemo, waitText } from './harness.js';

describe('rooms demo', () => {
  const demo = useDemo();

  const open = demo.open;

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
