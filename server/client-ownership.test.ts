// SPDX-License-Identifier: MIT
/**
 * @module client-ownership.test
 * Client ids belong to whoever first claimed them with a key: knowing an id is not enough to
 * use it. And one socket is one client: a second hello, or a subscription that finishes after
 * the socket closed, leaves nothing behind.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '../src/close-codes.js';
import { connect, createClient, defineApp, ErrorCode, settled, snapshot } from '../src/index.js';
import type { ClientEvent } from './index.js';
import { delay, newClientId, NodeWebSocket, startServer, until } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';

function makeApp() {
  const app = defineApp();
  const notes = app.shared('notes', () => ({ items: [] as string[] }));
  const slow = app.shared('slow', () => ({ n: 0 }), {
    // A check that takes its time: the socket may close before it answers.
    canRead: () => delay(100).then(() => true),
  });
  return { app, notes, slow };
}

async function serve(t: TestContext, app = makeApp().app): Promise<TestServer> {
  const srv = await startServer(app);
  t.after(() => srv.close());
  return srv;
}

describe('a client id', () => {
  it('is bound to the key it was first claimed with: an impostor is refused, the owner is unaffected', async (t) => {
    const { app, notes } = makeApp();
    const srv = await serve(t, app);
    const owner = srv.client();
    const mine = owner.store<{ items: string[] }>('notes');
    await until(() => mine.items, 'the snapshot');
    mine.items.push('first');
    await settled(mine);

    // Someone who learned the id (not the key) tries to use it, with a key of their own and without one.
    for (const key of ['impostor-key-0123456789', undefined]) {
      const impostor = await srv.raw();
      impostor.send({ t: 'hello', proto: 1, client: owner.clientId, ...(key ? { key } : {}), subs: { notes: 0 } });
      const error = await impostor.next((m) => m.t === 'error');
      assert.equal(error.code, ErrorCode.ID);
      const closed = await impostor.closed;
      assert.equal(closed.code, CloseCode.POLICY);
      assert.ok(!impostor.messages.some((m) => m.t === 'welcome' || m.t === 'snapshot'), 'the impostor got nothing');
    }

    // The owner's connection was never replaced: it still writes, and its writes are confirmed.
    assert.equal(owner.state, 'online');
    mine.items.push('second');
    await settled(mine);
    assert.deepEqual(snapshot(notes).items, ['first', 'second']);
  });

  it('is taken back by its owner on another connection (a reconnect), which replaces the old one', async (t) => {
    const srv = await serve(t);
    const owner = srv.client();
    await until(() => owner.state === 'online', 'the owner online');
    const again = await srv.raw();
    again.send({ t: 'hello', proto: 1, client: owner.clientId, key: owner.clientKey, subs: {} });
    await again.next((m) => m.t === 'welcome');
    await until(() => owner.state !== 'online', 'the old connection to be closed');
  });

  it('first used without a key (a raw tool) stays usable without one until a key claims it', async (t) => {
    const srv = await serve(t);
    const id = newClientId();
    const first = await srv.raw();
    await first.hello(id, {});
    await first.close();
    const second = await srv.raw();
    await second.hello(id, {});
    // Now a client with a key claims it: from then on, only that key may use it.
    const keyed = await srv.raw();
    keyed.send({ t: 'hello', proto: 1, client: id, key: 'the-owners-key-0123456789', subs: {} });
    await keyed.next((m) => m.t === 'welcome');
    const third = await srv.raw();
    third.send({ t: 'hello', proto: 1, client: id, subs: {} });
    assert.equal((await third.next((m) => m.t === 'error')).code, ErrorCode.ID);
  });
});

describe('a connection', () => {
  it('is one client: a second hello with another id is refused and leaves no entry behind', async (t) => {
    const srv = await serve(t);
    const events: string[] = [];
    srv.server.on('connect', ({ client }: ClientEvent) => events.push(`connect ${client}`));
    srv.server.on('disconnect', ({ client }: ClientEvent) => events.push(`disconnect ${client}`));
    const raw = await srv.raw();
    const id = newClientId();
    await raw.hello(id, {});
    for (let i = 0; i < 20; i++) raw.send({ t: 'hello', proto: 1, client: newClientId(), subs: {} });
    await until(() => raw.messages.filter((m) => m.t === 'error' && m.code === ErrorCode.ID).length === 20, 'each other hello refused');
    // The same hello again is fine: it subscribes again.
    raw.send({ t: 'hello', proto: 1, client: id, subs: { notes: 0 } });
    await raw.next((m) => m.t === 'snapshot');
    await raw.close();
    await until(() => events.length === 2, 'the disconnect');
    assert.deepEqual(events, [`connect ${id}`, `disconnect ${id}`]);
    // Its id is free: a new connection with it is not told it replaced anyone.
    const next = await srv.raw();
    await next.hello(id, {});
    assert.ok(!next.messages.some((m) => m.t === 'error'));
  });

  it('closed while a subscription was being checked is not left among the subscribers', async (t) => {
    const srv = await serve(t);
    const store = (await srv.server.hub.load('slow'))!;
    const subscribed: string[] = [];
    srv.server.on('subscribe', ({ client }: ClientEvent) => subscribed.push(client));
    for (let i = 0; i < 10; i++) {
      const raw = await srv.raw();
      await raw.hello(newClientId(), {});
      raw.send({ t: 'sub', store: 'slow', v: 0 });
      await raw.close(); // before canRead answers
    }
    await delay(300);
    assert.equal(store.subscribers.size, 0, 'no closed connection subscribed');
    assert.deepEqual(subscribed, [], 'no subscribe event for a closed connection');
    // A page that stays is subscribed as usual.
    const page = createClient({ url: srv.url, WebSocket: NodeWebSocket }).connect();
    t.after(() => page.close());
    page.store<{ n: number }>('slow').n;
    await until(() => store.subscribers.size === 1, 'the live subscriber');
  });
});

describe('a page whose bundle renamed a store (a minifier)', () => {
  it('is told in development, once, that the server has no store by that name and how to fix it', async (t) => {
    const srv = await serve(t);
    // The browser's copy of the definitions, minified: `function chat_room` became `function a`.
    const browserApp = defineApp();
    const renamed = browserApp.shared(function a() {
      return { items: [] as string[] };
    });
    const warnings: unknown[][] = [];
    t.mock.method(console, 'warn', (...args: unknown[]) => warnings.push(args));
    // The page's own client, as a bundle uses it (Node 20 has no global WebSocket: lend it ws's).
    (globalThis as { WebSocket?: unknown }).WebSocket = NodeWebSocket;
    const page = connect(srv.url);
    t.after(() => page.close());
    void renamed.items; // reading subscribes
    await until(() => warnings.some((w) => String(w[0]).includes('"a"')), 'the warning');
    assert.match(String(warnings.find((w) => String(w[0]).includes('"a"'))![0]), /minified.*name it explicitly/);
  });
});
