// SPDX-License-Identifier: MIT
/**
 * @module connection.test
 * One client's socket as the hub sees it, in the details a refusal is made of: how many
 * strikes close it (exactly the limit, once per frame), what a hello naming too many stores
 * gets, what a refusal says (the store of a refused batch, the server's own trouble hidden
 * behind a generic sentence and never a strike), and the `refusal` events operators count.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '../src/close-codes.js';
import { defineApp, ErrorCode } from '../src/index.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import type { TwinOptions } from './index.js';

function makeApp() {
  const app = defineApp();
  app.shared('notes', () => ({ items: [] as string[] }));
  app.shared('box', (id: string) => ({ id }), { family: true });
  app.action(function explode() {
    // Not marked expose: the client must not see this.
    throw new Error('secret internals at /srv/app.js:12');
  });
  return app;
}

async function serve(t: TestContext, options: TwinOptions = {}): Promise<TestServer> {
  const srv = await startServer(makeApp(), options);
  t.after(() => srv.close());
  return srv;
}

const bad = (i: number) => ({ t: 'sub', store: `no such store ${i}`, v: 0 });

describe('a connection', () => {
  it('stays up through exactly `strikes` refusals and is closed at the next one', async (t) => {
    const srv = await serve(t, { limits: { strikes: 3 } });
    const raw = await srv.raw();
    await raw.hello();
    for (let i = 0; i < 3; i++) raw.send(bad(i));
    for (let i = 0; i < 3; i++) await raw.next((m) => m.t === 'error');
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    raw.send(bad(3));
    const closed = await raw.closed;
    assert.equal(closed.code, CloseCode.POLICY);
    assert.match(closed.reason, /Too many refused messages/);
  });

  it('counts one strike for a frame however many of its messages are refused', async (t) => {
    const srv = await serve(t, { limits: { strikes: 2 } });
    const raw = await srv.raw();
    await raw.hello();
    raw.send([bad(0), bad(1), bad(2), bad(3)]);
    raw.send([bad(4), bad(5)]);
    for (let i = 0; i < 6; i++) await raw.next((m) => m.t === 'error');
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    assert.equal(raw.ws.readyState, raw.ws.OPEN);
  });

  it('answers a hello naming more stores than maxSubs: the first ones subscribed, the rest named in an error', async (t) => {
    const srv = await serve(t, { limits: { maxSubs: 2 } });
    const raw = await srv.raw();
    raw.send({ t: 'hello', proto: 1, client: newClientId(), subs: { 'box/a': 0, 'box/b': 0, 'box/c': 0, 'box/d': 0 } });
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.FRAME);
    assert.match(String(error.message), /at most 2 stores; 2 were left out/);
    await raw.next((m) => m.t === 'snapshot' && m.store === 'box/b');
    assert.deepEqual(raw.messages.filter((m) => m.t === 'snapshot').map((m) => m.store), ['box/a', 'box/b']);
  });

  it('names the store of a refused batch, not of a refused call, and hides the server’s own trouble', async (t) => {
    const srv = await serve(t);
    const refusals: string[] = [];
    srv.server.hub.on('refusal', (event: { code: string }) => refusals.push(event.code));
    const raw = await srv.raw();
    const id = await raw.hello(undefined, { notes: 0 });
    void id;
    const client = raw.clientId!;
    raw.send({ t: 'op', id: `${client}:1`, store: 'notes', ops: [{ op: 'set', path: ['items', 'x'], value: 1 }] });
    const op = await raw.next((m) => m.t === 'reject');
    assert.equal(op.store, 'notes');
    raw.send({ t: 'call', id: `${client}:2`, action: 'explode', args: [] });
    const call = await raw.next((m) => m.t === 'reject');
    assert.equal(call.store, undefined);
    assert.equal(call.code, ErrorCode.ACTION_FAILED);
    assert.doesNotMatch(String(call.message), /secret internals/);
    assert.deepEqual(refusals, [op.code, call.code]);
    // The server's own trouble is not the client's strike: the connection is as it was.
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
  });
});
