// SPDX-License-Identifier: MIT
/**
 * A write kept longer than `outboxMaxAge` in a page that stayed open offline is not sent when
 * the connection comes back: the server may no longer remember whether it applied it. It is
 * handed back (`staleWrites`, `TWIN_ERR_STALE`, `lastWrite` rejected), rolled back from the
 * view, kept in the outbox, and sent once only if the app retries it. So is a write a gone page
 * made against another `version` of its store than the server's, even one this page does not
 * define (the server names its versions in the welcome).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, defineApp, ErrorCode, lastWrite, settled, snapshot } from './index.js';
import type { RejectDetail, WebSocketClass } from './index.js';
import { MemoryLocks, MemoryStorage } from '../test/helpers/memory-storage.js';
import { NodeWebSocket, startServer, until } from '../test/helpers/server.js';

describe('a write kept past outboxMaxAge', () => {
  it('is handed back when the connection returns, not sent; retried, it is applied once', async (t) => {
    const app = defineApp();
    const notes = app.shared('notes', () => ({ items: [] as string[] }));
    const srv = await startServer(app);
    t.after(() => srv.close());
    const outbox = new MemoryStorage();
    const client = createClient({ url: srv.url, WebSocket: NodeWebSocket as unknown as WebSocketClass, outbox, outboxMaxAge: 200 });
    t.after(() => client.close());
    const rejects: RejectDetail[] = [];
    client.addEventListener('reject', (event) => rejects.push((event as CustomEvent<RejectDetail>).detail));
    const mine = client.store<{ items: string[] }>('notes');
    client.connect();
    await until(() => Array.isArray(mine.items), 'the snapshot');
    client.close();
    mine.items.push('written long ago');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(outbox.length, 2, 'kept: the slot header and the message');
    client.connect();
    await until(() => client.staleWrites.length === 1, 'the write handed back');
    assert.equal(client.staleWrites[0]!.code, ErrorCode.STALE);
    assert.deepEqual(rejects.map((r) => r.code), [ErrorCode.STALE]);
    assert.equal(lastWrite(mine)?.state, 'rejected');
    assert.deepEqual([...mine.items], [], 'rolled back from the view');
    assert.equal(outbox.length, 2, 'still in the outbox, for the app to decide');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(snapshot(notes).items, [], 'never sent');
    // The app decides to send it after all.
    client.staleWrites[0]!.retry();
    await settled(mine);
    assert.deepEqual(snapshot(notes).items, ['written long ago']);
    assert.equal(client.staleWrites.length, 0);
    await until(() => outbox.length <= 1, 'the outbox to let it go');
  });

  it('retried after a later write of the page was applied, is applied too (not taken for that one)', async (t) => {
    const app = defineApp();
    const notes = app.shared('notes', () => ({ items: [] as string[] }));
    const srv = await startServer(app);
    t.after(() => srv.close());
    const client = createClient({ url: srv.url, WebSocket: NodeWebSocket as unknown as WebSocketClass, outbox: new MemoryStorage(), outboxMaxAge: 200 });
    t.after(() => client.close());
    const mine = client.store<{ items: string[] }>('notes');
    client.connect();
    await until(() => Array.isArray(mine.items), 'the snapshot');
    client.close();
    mine.items.push('old');
    await new Promise((resolve) => setTimeout(resolve, 300));
    mine.items.push('young');
    client.connect();
    await until(() => client.staleWrites.length === 1, 'the old write handed back');
    await settled(mine);
    assert.deepEqual(snapshot(notes).items, ['young']);
    // The server has applied a later seq of this client: the old write must not pass for applied.
    client.staleWrites[0]!.retry();
    await settled(mine);
    assert.deepEqual(snapshot(notes).items, ['young', 'old']);
    assert.deepEqual([...mine.items], ['young', 'old']);
  });

  it('made by a gone page against another version of a store this page does not define, is handed back at the welcome', async (t) => {
    const app = defineApp();
    const notes = app.shared('notes', () => ({ items: [] as string[] }), { version: 2 });
    const srv = await startServer(app);
    t.after(() => srv.close());
    // Two gone pages' slots (their id's key, then one write each): one made against version 1, one against 2.
    const outbox = new MemoryStorage();
    for (const [client, version] of [['gone-page-v1', 1], ['gone-page-v2', 2]] as const) {
      outbox.setItem(`twin:outbox:${client}`, JSON.stringify({ key: `key-of-${client}-0000` }));
      const message = { t: 'op', id: `${client}:1`, store: 'notes', ops: [{ op: 'push', path: ['items'], values: [`made against ${version}`] }] };
      outbox.setItem(`twin:outbox:${client}:1`, JSON.stringify({ at: Date.now(), version, message }));
    }
    // Web Locks, which Node lacks: this page takes the slots over only holding theirs.
    const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: { locks: new MemoryLocks() }, configurable: true });
    t.after(() => (before ? Object.defineProperty(globalThis, 'navigator', before) : Reflect.deleteProperty(globalThis, 'navigator')));
    const client = createClient({ url: srv.url, WebSocket: NodeWebSocket as unknown as WebSocketClass, outbox });
    t.after(() => client.close());
    client.connect();
    await until(() => client.staleWrites.length === 1, 'the write made against version 1 handed back');
    assert.equal(client.staleWrites[0]!.code, ErrorCode.STALE);
    assert.equal(client.staleWrites[0]!.id, 'gone-page-v1:1');
    await until(() => snapshot(notes).items.length === 1, 'the write made against version 2 applied');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(snapshot(notes).items, ['made against 2']);
  });
});
