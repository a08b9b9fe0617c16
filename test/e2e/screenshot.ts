// SPDX-License-Identifier: MIT
/**
 * Takes demo/screenshot.png: the chat demo in real Chromium after two users have each sent a
 * message. Run it with `npm run build && node --import tsx test/e2e/screenshot.ts`.
 */
import { join } from 'node:path';
import { checkPrerequisites, launchBrowser, newUser, openPage, ROOT, sendMessage, serveDemo, TIMEOUT_MS } from './harness.js';

const OUT = join(ROOT, 'demo/screenshot.png');

checkPrerequisites();
const serving = await serveDemo();
const browser = await launchBrowser();
try {
  const [alice, bob] = [await newUser(browser, { viewport: { width: 960, height: 500 } }), await newUser(browser)];
  const a = await openPage(alice, serving.url, '/chat.html');
  const b = await openPage(bob, serving.url, '/chat.html');
  await a.locator('#player-name').fill('Alice');
  await b.locator('#player-name').fill('Bob');
  await a.locator('#sidebar-toggle').check();

  await sendMessage(a, 'Hi Bob! Open this page in a second window and write something.');
  await b.locator('.msg', { hasText: 'Hi Bob!' }).waitFor({ timeout: TIMEOUT_MS });
  await sendMessage(b, 'Hey Alice, it showed up here at once, no reload.');
  await a.locator('.msg', { hasText: 'Hey Alice' }).waitFor({ timeout: TIMEOUT_MS });
  await a.locator('#active-users', { hasText: '2' }).waitFor({ timeout: TIMEOUT_MS });
  await a.locator('input[name="text"]').fill('');
  await a.locator('input[name="text"]').blur();

  await a.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await serving.close();
}
