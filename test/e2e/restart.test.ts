// SPDX-License-Identifier: MIT
/**
 * The demo server (a child process, SQLite storage) is killed and started again on the same
 * port with the same database: both open pages reconnect by themselves, nothing acknowledged
 * before the crash is lost, and a write made after the restart reaches both.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { sendMessage, spawnDemo, TIMEOUT_MS, tempDir, useBrowser, waitOnline, waitText } from './harness.js';
import type { DemoProcess } from './harness.js';

/** How long pages may take to notice the server is back (reconnect backoff is capped at 5 s). */
const RECONNECT_TIMEOUT_MS = 20_000;

describe('server restart', () => {
  const browser = useBrowser();
  let server: DemoProcess | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    dir = await tempDir();
  });

  after(async () => {
    await server?.kill('SIGTERM');
    await dir?.remove();
  });

  const open = browser.openAt;

  test('both pages reconnect by themselves and converge', async () => {
    const port = await freePort();
    const storage = `sqlite:${join(dir.path, 'twin.db')}`;
    server = await spawnDemo(port, storage);
    const [a, b] = [await open(server.url, '/counter.html'), await open(server.url, '/counter.html')];
    const [chatA, chatB] = [await open(server.url, '/chat.html'), await open(server.url, '/chat.html')];

    // Some state before the crash.
    await a.locator('#score-point').click();
    await a.locator('#score-point').click();
    await Promise.all([waitText(a, '#score', '2'), waitText(b, '#score', '2')]);
    await sendMessage(chatA, 'before the crash');
    await chatB.locator('.msg', { hasText: 'before the crash' }).waitFor({ timeout: TIMEOUT_MS });

    await server.kill('SIGKILL');
    await Promise.all([a, b, chatA, chatB].map((page) => page.locator('twin-status:not([state="online"])').waitFor({ timeout: TIMEOUT_MS })));

    server = await spawnDemo(port, storage);
    await Promise.all([a, b, chatA, chatB].map((page) => waitOnline(page, RECONNECT_TIMEOUT_MS)));

    // Nothing was lost, and writes after the restart reach everyone.
    await b.locator('#score-point').click();
    await Promise.all([waitText(a, '#score', '3'), waitText(b, '#score', '3')]);
    await sendMessage(chatB, 'after the restart');
    await chatA.locator('.msg', { hasText: 'after the restart' }).waitFor({ timeout: TIMEOUT_MS });
    const texts = await chatA.locator('.msg .text').allTextContents();
    assert.deepEqual(texts.map((t) => t.trim()), ['before the crash', 'after the restart']);
  });
});
