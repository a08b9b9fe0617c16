// SPDX-License-Identifier: MIT
/**
 * The Lit demo (demo/lit.html): Lit elements loaded from /_twin/lit.js with no build step
 * re-render from the stores (SignalWatcher), take a store value as a property (`<twin-bind
 * prop>`), and update one binding without re-rendering (`watch(signalOf(...))`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { $gameState } from '../../demo/stores/index.js';
import { TIMEOUT_MS, useDemo, waitText, waitValue } from './harness.js';

describe('Lit demo', () => {
  const demo = useDemo();

  const open = demo.open;

  test('the elements render the score and follow it, from their page and from others', async () => {
    const [lit, counter] = [await open('/lit.html'), await open('/counter.html')];
    const score = $gameState.score;
    await waitText(lit, '#lit-score', String(score));
    await waitText(lit, '#badge-score', String(score));

    await lit.locator('#lit-plus').click();
    await Promise.all([waitText(lit, '#lit-score', String(score + 1)), waitText(counter, '#score', String(score + 1))]);
    await counter.locator('#score-point').click();
    const now = score + 2;
    await waitText(lit, '#lit-score', String(now));
    await waitText(lit, '#badge-score', String(now));
    await waitText(lit, '#meter-text', `${10 - (now % 10)} more to reach ${now - (now % 10) + 10}`);
    // watch() updated the badge's text; the badge itself rendered only once.
    assert.equal((await lit.locator('#badge-renders').textContent())?.trim(), '1');
    await Promise.all([lit.close(), counter.close()]);
  });

  test('the theme switch writes the local ui_state, which the whole page follows', async () => {
    const page = await open('/lit.html');
    await waitValue(page, '#theme', 'light');
    await page.locator('#lit-theme').click();
    await page.locator('.app[data-theme="dark"]').waitFor({ timeout: TIMEOUT_MS });
    await waitValue(page, '#theme', 'dark');
    await page.reload();
    await page.locator('.app[data-theme="dark"]').waitFor({ timeout: TIMEOUT_MS });
    await waitText(page, '#lit-theme', 'Dark theme');
    await page.close();
  });
});
