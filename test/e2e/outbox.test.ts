// SPDX-License-Identifier: MIT
/**
 * The durable outbox in real Chromium (localStorage and Web Locks of a real browser): writes
 * made offline survive a reload and a closed tab and reach the server exactly once; a live tab's
 * writes are never sent by another tab; a write left too long is handed back as stale.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { $room } from '../../demo/stores/index.js';
import { MAX_ADOPT } from '../../src/protocol.js';
import { openPage, TIMEOUT_MS, useDemo, waitOnline } from './harness.js';

const TWIN = '/_twin/twin.js';

/** What these tests use of the page's `twin.js`. */
interface PageTwin {
  pageClient(): {
    store<T>(name: string): T;
    close(): void;
    connect(): void;
    readonly staleWrites: readonly { code: string; store: string | undefined; retry(): void; discard(): void }[];
  };
}

/** Pushes messages `texts` to `room/<room>` from the page, one write (batch) each. */
async function push(page: Page, room: string, texts: string[]): Promise<void> {
  await page.evaluate(async ([src, name, list]) => {
    const { pageClient } = (await import(src!)) as PageTwin;
    const store = pageClient().store<{ messages: { text: string }[] }>(`room/${name}`);
    for (const text of list as string[]) {
      store.messages.push({ text });
      await Promise.resolve();
    }
  }, [TWIN, room, texts] as const);
}

/** Subscribes the page to `room/<room>` and waits for its value (a plain page has no definition of it). */
async function load(page: Page, room: string): Promise<void> {
  await page.evaluate(async ([src, name]) => {
    const { pageClient } = (await import(src!)) as PageTwin;
    const store = pageClient().store<{ messages?: unknown[] }>(`room/${name}`);
    while (!store.messages) await new Promise((r) => setTimeout(r, 20));
  }, [TWIN, room] as const);
}

/** Ends the page's connection and keeps it closed: writes queue, as when offline. */
async function disconnect(page: Page): Promise<void> {
  await page.evaluate(async (src) => ((await import(src)) as PageTwin).pageClient().close(), TWIN);
}

/** The server's messages of `room/<room>`, as texts. */
const onServer = (room: string) => $room(room).messages.map((m) => m.text);

/** Waits until the server holds `texts` in `room/<room>`. */
async function waitServer(room: string, texts: string[]): Promise<void> {
  const until = Date.now() + TIMEOUT_MS;
  while (Date.now() < until && onServer(room).length < texts.length) await new Promise((r) => setTimeout(r, 50));
  // Anything sent twice would arrive right after: give it a moment to show.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(onServer(room), texts);
}

/** Outbox keys of the page's origin. */
const outboxKeys = (page: Page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('twin:outbox:')));

describe('the durable outbox', () => {
  const demo = useDemo();

  test('writes made offline survive a reload made offline, and are applied once back online', async () => {
    const user = await demo.user();
    const page = await openPage(user, demo.serving.url, '/room.html');
    await load(page, 'reload');
    await user.setOffline(true);
    await disconnect(page);
    await push(page, 'reload', ['one', 'two', 'three']);
    assert.equal((await outboxKeys(page)).length, 4, 'a slot header and three messages are stored');
    // Reloading offline fails to load the page: the page that made the writes is gone.
    await page.reload().catch(() => undefined);
    assert.deepEqual(onServer('reload'), []);
    await user.setOffline(false);
    await page.goto(`${demo.serving.url}/room.html`);
    await waitOnline(page);
    await waitServer('reload', ['one', 'two', 'three']);
    // The adopted slot, all confirmed, is gone from storage.
    await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('twin:outbox:')), undefined, { timeout: TIMEOUT_MS });
  });

  test('a live tab keeps its writes; a tab still open sends them once it is closed, without a reload', async () => {
    const user = await demo.user();
    const first = await openPage(user, demo.serving.url, '/room.html');
    await load(first, 'tabs');
    await disconnect(first);
    await push(first, 'tabs', ['from the first tab']);
    // Another tab of the same origin must not send the live tab's writes.
    const second = await openPage(user, demo.serving.url, '/room.html');
    await second.waitForTimeout(500);
    assert.deepEqual(onServer('tabs'), []);
    await first.close();
    // The second tab, open all along, takes them over as the first goes.
    await waitServer('tabs', ['from the first tab']);
    await second.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('twin:outbox:') && k.split(':').length > 3), undefined, { timeout: TIMEOUT_MS });
    // A tab that started before the first wrote anything learns of its slot as it appears.
    const third = await openPage(user, demo.serving.url, '/room.html');
    const fourth = await openPage(user, demo.serving.url, '/room.html');
    await load(third, 'tabs');
    await disconnect(third);
    await push(third, 'tabs', ['from the third tab']);
    await fourth.waitForTimeout(300);
    assert.deepEqual(onServer('tabs'), ['from the first tab']);
    await third.close();
    await waitServer('tabs', ['from the first tab', 'from the third tab']);
    await Promise.all([second.close(), fourth.close()]);
  });

  test('a write left longer than the outbox keeps them is handed back as stale, to retry or discard', async () => {
    const user = await demo.user();
    const page = await openPage(user, demo.serving.url, '/room.html');
    await load(page, 'stale');
    await disconnect(page);
    await push(page, 'stale', ['old news', 'older news']);
    await page.close();
    // Age the stored writes by two days, as if the tab had been closed since.
    const next = await user.newPage();
    // (A page without twin-state, which would take them over while they are young.)
    await next.goto(`${demo.serving.url}/style.css`);
    await next.evaluate(() => {
      for (const key of Object.keys(localStorage)) {
        const entry = JSON.parse(localStorage.getItem(key)!) as { at?: number };
        if (key.startsWith('twin:outbox:') && entry.at) localStorage.setItem(key, JSON.stringify({ ...entry, at: entry.at - 48 * 3600_000 }));
      }
    });
    await next.goto(`${demo.serving.url}/room.html`);
    await waitOnline(next);
    const stale = await next.evaluate(async (src) => {
      const { pageClient } = (await import(src)) as PageTwin;
      const client = pageClient();
      while (client.staleWrites.length < 2) await new Promise((r) => setTimeout(r, 20));
      return client.staleWrites.map((w) => ({ code: w.code, store: w.store }));
    }, TWIN);
    assert.deepEqual(stale, [{ code: 'TWIN_ERR_STALE', store: 'room/stale' }, { code: 'TWIN_ERR_STALE', store: 'room/stale' }]);
    await next.waitForTimeout(300);
    assert.deepEqual(onServer('stale'), [], 'nothing stale is sent by itself');
    // The app sends one after all and drops the other.
    await next.evaluate(async (src) => {
      const { pageClient } = (await import(src)) as PageTwin;
      const [older, newer] = pageClient().staleWrites;
      older!.retry();
      newer!.discard();
    }, TWIN);
    await waitServer('stale', ['old news']);
    // No write is left, and the gone page's slot is gone: only this page's own (the retried write
    // went out as this page's) remains, empty.
    await next.waitForFunction(() => {
      const keys = Object.keys(localStorage).filter((k) => k.startsWith('twin:outbox:'));
      return keys.length === 1 && keys[0]!.split(':').length === 3;
    }, undefined, { timeout: TIMEOUT_MS });
    await next.close();
  });

  test('slots left holding only writes too old to send do not crowd out a younger one', async () => {
    const user = await demo.user();
    const page = await openPage(user, demo.serving.url, '/room.html');
    await load(page, 'young');
    await load(page, 'crowd');
    await disconnect(page);
    await push(page, 'crowd', ['too old']);
    await push(page, 'young', ['young news']);
    await page.close();
    const next = await user.newPage();
    await next.goto(`${demo.serving.url}/style.css`); // (no twin-state here: nothing is taken over)
    await next.evaluate(([max]) => {
      // The slot as the page left it: its header and the two writes, under its client id.
      const keys = Object.keys(localStorage).filter((k) => k.startsWith('twin:outbox:'));
      const header = keys.find((k) => k.split(':').length === 3)!;
      const client = header.slice('twin:outbox:'.length);
      const [oldKey, youngKey] = keys.filter((k) => k !== header).sort((a, b) => Number(a.split(':')[3]) - Number(b.split(':')[3]));
      // (No named functions in here: the test's compiler would wrap them in a helper the page lacks.)
      const [old, young] = [oldKey!, youngKey!].map((k) => JSON.parse(localStorage.getItem(k)!) as { at: number; message: { id: string } });
      const headerText = localStorage.getItem(header)!;
      for (const k of keys) localStorage.removeItem(k);
      // Many more slots than a page takes over, each holding a copy of the old write made two
      // days ago (localStorage iterates in an order of its own: src/outbox.test.ts fixes it)...
      for (let i = 0; i < 5 * max!; i++) {
        const id = `old${String(i).padStart(6, '0')}${client.slice(9)}`;
        localStorage.setItem(`twin:outbox:${id}`, headerText);
        localStorage.setItem(`twin:outbox:${id}:1`, JSON.stringify({ ...old!, at: old!.at - 48 * 3600_000, message: { ...old!.message, id: `${id}:1` } }));
      }
      // ...stored before the young write's slot (under a name that sorts last, too).
      const id = `zzz${client.slice(3)}`;
      localStorage.setItem(`twin:outbox:${id}`, headerText);
      localStorage.setItem(`twin:outbox:${id}:1`, JSON.stringify({ ...young!, message: { ...young!.message, id: `${id}:1` } }));
    }, [MAX_ADOPT] as const);
    await next.goto(`${demo.serving.url}/room.html`);
    await waitOnline(next);
    await waitServer('young', ['young news']);
    assert.deepEqual(onServer('crowd'), [], 'the old writes are handed back, not sent');
    await next.close();
  });

  test('what is not an outbox (edited by hand, another app’s) is warned about with a code and removed; the rest is sent', async () => {
    const user = await demo.user();
    const setup = await user.newPage();
    await setup.goto(`${demo.serving.url}/style.css`);
    const valid = { message: { t: 'op', id: 'handmade01:2', store: 'room/bad', ops: [{ op: 'push', path: ['messages'], values: [{ text: 'kept' }] }] }, at: Date.now() };
    await setup.evaluate((entry) => {
      localStorage.setItem('twin:outbox:foreign01', 'not json');
      localStorage.setItem('twin:outbox:foreign01:1', '{}');
      localStorage.setItem('twin:outbox:headless9:1', JSON.stringify(entry));
      localStorage.setItem('twin:outbox:handmade01', JSON.stringify({ key: 'a-key-of-sixteen-chars' }));
      localStorage.setItem('twin:outbox:handmade01:1', '{"message": {"t": "op"}}');
      localStorage.setItem('twin:outbox:handmade01:2', JSON.stringify(entry));
      // A key the server would refuse in a hello: adopted, it would keep the page from connecting.
      localStorage.setItem('twin:outbox:shortkey01', JSON.stringify({ key: 'x' }));
      localStorage.setItem('twin:outbox:shortkey01:1', JSON.stringify({ ...entry, message: { ...entry.message, id: 'shortkey01:1' } }));
    }, valid);
    await setup.close();
    const page = await user.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    await page.goto(`${demo.serving.url}/room.html`);
    await waitOnline(page);
    await waitServer('bad', ['kept']);
    assert.equal(warnings.filter((w) => w.includes('TWIN_ERR_STORAGE')).length, 6, warnings.join('\n'));
    await page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('twin:outbox:')), undefined, { timeout: TIMEOUT_MS });
    // And the page works as ever.
    await load(page, 'bad');
    await push(page, 'bad', ['after']);
    await waitServer('bad', ['kept', 'after']);
    await page.close();
  });

  test('a write the full storage could not keep is still sent, and leaving the page meanwhile asks first', async () => {
    const user = await demo.user();
    const page = await openPage(user, demo.serving.url, '/room.html');
    await load(page, 'full');
    await disconnect(page);
    const warnings: string[] = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    // Fill this origin's localStorage to its real quota, to the last character.
    await page.evaluate(() => {
      let i = 0;
      for (let size = 1 << 20; size >= 1; size >>= 1) {
        for (;;) {
          try {
            localStorage.setItem(`fill:${i++}`, 'x'.repeat(size));
          } catch {
            break;
          }
        }
      }
    });
    await push(page, 'full', ['unstored']);
    assert.equal(warnings.filter((w) => w.includes('TWIN_ERR_STORAGE')).length, 1, warnings.join('\n'));
    // Pending and not stored: the browser asks before the page goes.
    await page.evaluate(() => document.body.click()); // (a page must have been used to ask)
    const asked = new Promise<string>((resolve) => page.once('dialog', (dialog) => void dialog.dismiss().then(() => resolve(dialog.type()))));
    await page.close({ runBeforeUnload: true });
    assert.equal(await asked, 'beforeunload');
    // Dismissed: the page stayed. Once online again the write is sent.
    await page.evaluate(async (src) => ((await import(src)) as PageTwin).pageClient().connect(), TWIN);
    await waitServer('full', ['unstored']);
    await page.evaluate(() => {
      for (const key of Object.keys(localStorage)) if (key.startsWith('fill:')) localStorage.removeItem(key);
    });
    await page.close();
  });
});
