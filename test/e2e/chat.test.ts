// SPDX-License-Identifier: MIT
/**
 * The chat demo (demo/chat.html, a page with no script of its own) in real Chromium, two
 * browser contexts being two users: messages travel between them, the player's name stays in
 * its own browser, and with JavaScript off the server-rendered page already shows the state.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { $chatRoom, sendMsg } from '../../demo/stores/index.js';
import { $gameState } from '../../demo/stores/index.js';
import { openPage, sendMessage, TIMEOUT_MS, useDemo, waitText, waitValue } from './harness.js';

describe('chat demo', () => {
  const demo = useDemo();

  const user = demo.user;

  test('a message sent by one user appears for the other', async () => {
    const [alice, bob] = [await user(), await user()];
    const a = await openPage(alice, demo.serving.url, '/chat.html');
    const b = await openPage(bob, demo.serving.url, '/chat.html');
    await a.locator('#player-name').fill('Alice');
    await sendMessage(a, 'Hello from Alice');

    const message = b.locator('.messages .msg', { hasText: 'Hello from Alice' });
    await message.waitFor({ timeout: TIMEOUT_MS });
    assert.equal((await message.locator('.author').textContent())?.trim(), 'Alice');
    // The sender sees it too, and the form was reset for the next message.
    await a.locator('.messages .msg', { hasText: 'Hello from Alice' }).waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await a.locator('form[twin-action] input[name="text"]').inputValue(), '');
    // The server holds it.
    assert.deepEqual($chatRoom.messages.map((m) => [m.author, m.text]).at(-1), ['Alice', 'Hello from Alice']);

    // And back: Bob, who set no name, answers as "anonymous".
    await sendMessage(b, 'Hi Alice');
    await a.locator('.messages .msg', { hasText: 'Hi Alice' }).locator('.author', { hasText: 'anonymous' }).waitFor({ timeout: TIMEOUT_MS });
    await Promise.all([a.close(), b.close()]);
  });

  test('an empty message is refused and the reason is shown', async () => {
    const page = await openPage(await user(), demo.serving.url, '/chat.html');
    const before = $chatRoom.messages.length;
    await sendMessage(page, '   ');
    await page.locator('twin-error', { hasText: 'Type a message first.' }).waitFor({ timeout: TIMEOUT_MS });
    assert.equal($chatRoom.messages.length, before);
    await page.close();
  });

  test('the number of readers is kept by the server', async () => {
    const [one, two] = [await user(), await user()];
    const first = await openPage(one, demo.serving.url, '/chat.html');
    await first.locator('#sidebar-toggle').check();
    await waitText(first, '#active-users', '1');
    const second = await openPage(two, demo.serving.url, '/chat.html');
    await waitText(first, '#active-users', '2');
    await second.close();
    await waitText(first, '#active-users', '1');
    await first.close();
  });

  test("who is here, by name, and who is typing (presence: never stored)", async () => {
    const [alice, bob] = [await user(), await user()];
    const a = await openPage(alice, demo.serving.url, '/chat.html');
    const b = await openPage(bob, demo.serving.url, '/chat.html');
    // (A unique name: pages of earlier tests stay present for their 10 s grace.)
    const alicesName = `Alice ${Date.now()}`;
    await a.locator('#player-name').fill(alicesName);
    await b.locator('#sidebar-toggle').check();
    await b.locator('.peers li', { hasText: alicesName }).waitFor({ timeout: TIMEOUT_MS });
    // Bob set no name: he is "anonymous (you)" in his own list.
    await b.locator('.peers li[self]', { hasText: 'anonymous' }).waitFor({ timeout: TIMEOUT_MS });
    // Alice types: Bob sees it, and she does not see herself typing.
    await a.locator('form[twin-action] input[name="text"]').fill('Hel');
    await b.locator('.typing-line .typing', { hasText: `${alicesName} is typing` }).waitFor({ timeout: TIMEOUT_MS });
    assert.equal(await a.locator('.typing-line .typing:visible').count(), 0);
    // Sent: no longer typing.
    await a.locator('form[twin-action] input[name="text"]').press('Enter');
    await b.locator('.typing-line .typing', { hasText: `${alicesName} is typing` }).waitFor({ state: 'hidden', timeout: TIMEOUT_MS });
    // Alice reloads: within the grace Bob sees no leave and no second Alice.
    await a.reload();
    await a.locator('#player-name').waitFor();
    await delay(500);
    assert.equal(await b.locator('.peers li', { hasText: alicesName }).count(), 1);
    // Nothing of it is in the store.
    assert.ok(!JSON.stringify($chatRoom).includes('typing'));
    await Promise.all([a.close(), b.close()]);
  });

  test("the player's name survives a reload and is never seen by the other user", async () => {
    const [alice, bob] = [await user(), await user()];
    const name = `Zoë ${Date.now()}`;
    const a = await openPage(alice, demo.serving.url, '/chat.html');
    await a.locator('#player-name').fill(name);
    await a.waitForFunction(() => localStorage.getItem('twin:player_state') !== null, undefined, { timeout: TIMEOUT_MS });
    await a.reload();
    await waitValue(a, '#player-name', name);

    // Another browser has its own player_state, with its default.
    const b = await openPage(bob, demo.serving.url, '/chat.html');
    await waitValue(b, '#player-name', '');
    assert.equal(await b.evaluate(() => localStorage.getItem('twin:player_state')), null);
    // Alice's open page publishes the name as her presence (who is here): Bob sees it there, and
    // nowhere else in his page.
    await b.locator('.peers li', { hasText: name }).waitFor({ state: 'attached', timeout: TIMEOUT_MS });
    const outsidePresence = await b.evaluate(() => {
      const copy = document.documentElement.cloneNode(true) as HTMLElement;
      for (const el of copy.querySelectorAll('twin-presence')) el.remove();
      return copy.outerHTML;
    });
    assert.ok(!outsidePresence.includes(name), "the other user's page holds the name outside who's here");
    // The server never had it: its pages render the local store's initial value.
    const html = await (await fetch(new URL('/chat.html', demo.serving.url))).text();
    assert.ok(!html.includes(name), 'the server rendered the name');
    await Promise.all([a.close(), b.close()]);
  });

  test('with JavaScript disabled, the page shows the current server values', async () => {
    await sendMsg('Rendered on the server', 'Server');
    const score = $gameState.score;
    const noJs = await user({ javaScriptEnabled: false });
    const chat = await openPage(noJs, demo.serving.url, '/chat.html', { online: false });
    const rendered = chat.locator('.messages .msg', { hasText: 'Rendered on the server' });
    assert.equal(await rendered.count(), 1);
    assert.equal((await rendered.locator('.author').textContent())?.trim(), 'Server');
    assert.equal(await chat.locator('.messages .msg').count(), $chatRoom.messages.length);
    assert.equal(await chat.locator('.empty').isHidden(), true);

    const counter = await openPage(noJs, demo.serving.url, '/counter.html', { online: false });
    assert.equal((await counter.locator('#score').textContent())?.trim(), String(score));
    assert.equal(await counter.locator('#score-input').inputValue(), String(score));
    await Promise.all([chat.close(), counter.close()]);
  });

  test('a message sent offline shows as queued, then takes its place in the room once online', async () => {
    const alice = await user();
    const page = await openPage(alice, demo.serving.url, '/chat.html');
    await alice.setOffline(true);
    await page.evaluate(async (src) => {
      window.dispatchEvent(new Event('offline'));
      ((await import(src)) as { pageClient(): { connect(): void } }).pageClient().connect();
    }, '/_twin/twin.js');
    await page.locator('twin-status:not([state="online"])').waitFor({ timeout: TIMEOUT_MS });
    await sendMessage(page, 'Sent from a tunnel');
    const marker = page.locator('.queued-messages .msg.queued', { hasText: 'Sent from a tunnel' });
    await marker.waitFor({ timeout: TIMEOUT_MS });
    assert.equal((await marker.locator('.mark').textContent())?.trim(), 'queued');
    await page.locator('twin-status[pending="1"]').waitFor({ timeout: TIMEOUT_MS });
    assert.ok(!$chatRoom.messages.some((m) => m.text === 'Sent from a tunnel'), 'not on the server yet');
    await alice.setOffline(false);
    await page.locator('.messages .msg:not(.queued)', { hasText: 'Sent from a tunnel' }).waitFor({ timeout: TIMEOUT_MS });
    await marker.waitFor({ state: 'detached', timeout: TIMEOUT_MS });
    assert.equal($chatRoom.messages.filter((m) => m.text === 'Sent from a tunnel').length, 1);
    await page.close();
  });
});
