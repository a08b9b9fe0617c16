// SPDX-License-Identifier: MIT
/**
 * The counter demo (demo/counter.html, no script of its own) in real Chromium: concurrent
 * clicks by two users all count, a write the server refuses is rolled back on screen with
 * its reason shown, and Undo/Redo take back a page's own writes but never another user's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { $gameState } from '../../demo/stores/index.js';
import { TIMEOUT_MS, useDemo, waitText, waitValue } from './harness.js';

/** Clicks per user. */
const CLICKS = 20;

describe('counter demo', () => {
  const demo = useDemo();

  const counterPage = (): Promise<Page> => demo.open('/counter.html');

  test(`two users clicking +1 concurrently, ${CLICKS} times each, end at exactly ${2 * CLICKS} more`, async () => {
    const [a, b] = [await counterPage(), await counterPage()];
    const start = $gameState.score;
    await Promise.all([a, b].map((page) => waitText(page, '#score', String(start))));

    const click = async (page: Page) => {
      const button = page.locator('#score-point');
      for (let i = 0; i < CLICKS; i++) await button.click();
    };
    await Promise.all([click(a), click(b)]);

    const end = String(start + 2 * CLICKS);
    await Promise.all([a, b].map((page) => waitText(page, '#score', end)));
    // The server's store says the same, and a third page rendered now too.
    assert.equal($gameState.score, start + 2 * CLICKS);
    const third = await counterPage();
    await waitText(third, '#score', end);
    await Promise.all([a.close(), b.close(), third.close()]);
  });

  test('a write the server refuses is rolled back on screen and the reason is shown', async () => {
    const [page, other] = [await counterPage(), await counterPage()];
    const score = String($gameState.score);
    await waitValue(page, '#score-input', score);
    assert.equal(await page.locator('twin-error').textContent(), '');

    await page.locator('#score-input').fill('-5');
    await page.locator('twin-error', { hasText: 'The score cannot be negative.' }).waitFor({ timeout: TIMEOUT_MS });
    await waitText(page, '#score', score);
    await page.locator('#score-input').blur();
    await waitValue(page, '#score-input', score);
    assert.equal(String($gameState.score), score);
    // Nobody else saw the refused value, and nobody else is shown the refusal.
    await waitText(other, '#score', score);
    assert.equal(await other.locator('twin-error').textContent(), '');

    // A valid write goes through, for everyone.
    await page.locator('#score-input').fill('7');
    await Promise.all([waitText(page, '#score', '7'), waitText(other, '#score', '7')]);
    assert.equal($gameState.score, 7);
    await Promise.all([page.close(), other.close()]);
  });

  test('Undo and Redo take back this page\'s own score writes, and refuse to undo over another user\'s', async () => {
    const [page, other] = [await counterPage(), await counterPage()];
    const score = String($gameState.score);
    await waitValue(page, '#score-input', score);
    const undo = page.locator('#score-undo');
    const redo = page.locator('#score-redo');
    assert.equal(await undo.isDisabled(), true, 'nothing written on this page yet');

    await page.locator('#score-input').fill('41');
    await Promise.all([waitText(page, '#score', '41'), waitText(other, '#score', '41')]);
    await undo.click({ timeout: TIMEOUT_MS }); // waits until it is enabled (the write confirmed)
    await Promise.all([waitText(page, '#score', score), waitText(other, '#score', score)]);
    await redo.click({ timeout: TIMEOUT_MS });
    await Promise.all([waitText(page, '#score', '41'), waitText(other, '#score', '41')]);
    assert.equal($gameState.score, 41);

    // Another user sets the score after this page's write: undoing it would overwrite theirs.
    await page.locator('#score-input').fill('42');
    await waitText(other, '#score', '42');
    await other.locator('#score-input').fill('43');
    await waitText(page, '#score', '43');
    await undo.click({ timeout: TIMEOUT_MS });
    await page.locator('twin-error[code="TWIN_ERR_CHANGED"]').waitFor({ timeout: TIMEOUT_MS });
    await waitText(page, '#score', '43');
    assert.equal($gameState.score, 43);
    await Promise.all([page.close(), other.close()]);
  });
});
