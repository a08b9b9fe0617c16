// SPDX-License-Identifier: MIT
/**
 * @module bad-input.test
 * Every case of the bad-input rule (ARCHITECTURE.md rules) against a real server over real sockets. After each one: the
 * offender got a coded `reject` or `error`, no store changed, a healthy client subscribed to
 * every store heard nothing, and the server still serves (a new client connects and writes).
 */
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import * as v from 'valibot';
import WebSocket from 'ws';
import { defineApp, ErrorCode, snapshot, status } from '../src/index.js';
import type { App, Json } from '../src/index.js';
import type { TwinOptions } from './index.js';
import { delay, newClientId, startServer, until, within } from '../test/helpers/server.js';
import { connectionEnding, recordingLogger } from '../test/helpers/refused.js';
import { CloseCode, parseCloseReason } from '../src/close-codes.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';

/** How long to watch a healthy client to be sure it hears nothing. */
const QUIET_MS = 150;
const FRAME_LIMIT = 10_000;

//#region fixtures

function makeApp() {
  const app = defineApp();
  const s = app.shared('s', () => ({ score: 0, name: 'start', list: [1, 2] as number[], obj: { a: 1 } as Record<string, Json> }), {
    schema: v.object({ score: v.number(), name: v.string(), list: v.array(v.number()), obj: v.record(v.string(), v.any()) }),
  });
  const locked = app.shared('locked', () => ({ n: 0 }), { authorize: () => false });
  app.action('bump', () => {
    s.score += 1;
  });
  return { app, s, locked };
}

/** One abuse case: a healthy client listening to every store, and what the stores were. */
interface Case {
  readonly srv: TestServer;
  readonly healthy: RawClient;
  readonly healthyFrom: number;
  readonly stores: Record<string, object>;
  readonly before: Record<string, { value: unknown; v: number }>;
  readonly connections: number;
}

/** A healthy raw client subscribed to each of `stores`, and the stores' state now. */
async function setUp(srv: TestServer, stores: Record<string, object>): Promise<Case> {
  const healthy = await srv.raw();
  await healthy.hello(newClientId(), Object.fromEntries(Object.keys(stores).map((name) => [name, 0])));
  for (const name of Object.keys(stores)) await healthy.next((m) => m.t === 'snapshot' && m.store === name);
  await delay(20); // nothing else in flight
  return {
    srv,
    healthy,
    healthyFrom: healthy.messages.length,
    stores,
    before: stateOf(stores),
    connections: srv.server.connectionCount,
  };
}

function stateOf(stores: Record<string, object>): Record<string, { value: unknown; v: number }> {
  return Object.fromEntries(Object.entries(stores).map(([name, store]) => [name, { value: snapshot(store), v: status(store).v }]));
}

/** A raw client that said hello (and subscribed to `subs`). */
async function offender(srv: TestServer, subs: Record<string, number> = {}): Promise<RawClient> {
  const raw = await srv.raw();
  await raw.hello(newClientId(), subs);
  for (const name of Object.keys(subs)) await raw.next((m) => m.t === 'snapshot' && m.store === name);
  return raw;
}

/** `answer` is a coded `t` message with a readable explanation. */
function assertCoded(answer: Message, t: 'error' | 'reject', code: string): void {
  assert.equal(answer.t, t, `expected ${t === 'error' ? 'an' : 'a'} ${t}, got ${JSON.stringify(answer)}`);
  assert.equal(answer.code, code, `expected ${code}, got ${JSON.stringify(answer)}`);
  assert.equal(typeof answer.message, 'string');
  assert.ok((answer.message as string).length > 10, `a clear message: ${JSON.stringify(answer.message)}`);
}

/**
 * The aftermath every case must show: no store changed, the healthy client heard nothing,
 * the offender (if given) is still connected, and the server still serves a new client's write.
 */
async function assertContained(c: Case, off?: RawClient): Promise<void> {
  assert.deepEqual(stateOf(c.stores), c.before, 'no store changed');
  await delay(QUIET_MS);
  assert.deepEqual(c.healthy.since(c.healthyFrom), [], 'the healthy client heard nothing');
  if (off) {
    off.send({ t: 'ping' });
    await off.next((m) => m.t === 'pong');
    assert.equal(off.ws.readyState, WebSocket.OPEN, 'the offender is still connected');
  }
  await assertServes(c);
}

/** A new client connects, writes, is acknowledged, and the healthy client hears that write. */
async function assertServes(c: Case): Promise<void> {
  const name = Object.keys(c.stores)[0]!;
  const store = c.stores[name]!;
  const fresh = await c.srv.raw();
  await fresh.hello(newClientId(), { [name]: status(store).v });
  const id = `${fresh.clientId}:1`;
  const value = `written by ${fresh.clientId}`;
  fresh.send({ t: 'op', id, store: name, ops: [{ op: 'set', path: ['name'], value }] });
  const ack = await fresh.next((m) => m.t === 'sync' || m.t === 'reject' || m.t === 'error');
  assert.deepEqual(ack, { t: 'sync', store: name, v: c.before[name]!.v + 1, ops: [{ op: 'set', path: ['name'], value }], id });
  const heard = await c.healthy.next((m) => m.t === 'sync' && JSON.stringify(m.ops).includes(value));
  assert.deepEqual(heard, { t: 'sync', store: name, v: c.before[name]!.v + 1, ops: [{ op: 'set', path: ['name'], value }] });
  assert.equal((snapshot(store) as { name: string }).name, value);
  await fresh.close();
}

/** A server of its own for one test, closed after it. */
async function serveOwn(t: TestContext, app: App, options: TwinOptions): Promise<TestServer> {
  const srv = await startServer(app, options);
  t.after(() => srv.close());
  return srv;
}

/** A refusal as a browser page can read it: the upgrade accepted, then closed with `code` and a coded reason. */
async function assertRefused(url: string, options: WebSocket.ClientOptions, code: number, errorCode: string): Promise<void> {
  const ending = await connectionEnding(url, options);
  assert.equal(ending.status, undefined, 'no HTTP status (browsers hide it)');
  assert.equal(ending.code, code);
  assert.equal(parseCloseReason(ending.reason).code, errorCode);
}

//#endregion fixtures

describe('bad input (README: what bad input gets)', () => {
  const { app, s, locked } = makeApp();
  const stores = { s, locked };
  let srv: TestServer;

  before(async () => {
    srv = await startServer(app, {
      limits: { maxFrameBytes: FRAME_LIMIT },
      logger: recordingLogger(), // refusals are logged; these tests read what clients see
      auth: ({ url }) => (url.searchParams.has('deny') ? false : { name: url.searchParams.get('user') ?? 'someone' }),
    });
  });
  after(() => srv.close());

  it('answers malformed JSON with TWIN_ERR_FRAME', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    off.send('{"t":"op","id":');
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    off.send('not json at all');
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    off.send('');
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    await assertContained(c, off);
  });

  it('answers an unknown message type (and a non-object message) with TWIN_ERR_FRAME', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    off.send({ t: 'explode', store: 's' });
    const answer = await off.next((m) => m.t === 'error');
    assertCoded(answer, 'error', ErrorCode.FRAME);
    assert.match(answer.message as string, /explode/);
    off.send([{ t: 'ping' }, 42]);
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    off.send({ no: 'type' });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    // A malformed batch with a readable id is refused by that id, so its sender is not left waiting.
    off.send({ t: 'op', id: `${off.clientId}:2`, store: 's', ops: [{ op: 'frobnicate', path: ['score'] }] });
    const frobnicate = await off.next((m) => m.t === 'reject');
    assertCoded(frobnicate, 'reject', ErrorCode.OP);
    assert.equal(frobnicate.id, `${off.clientId}:2`);
    off.send({ t: 'op', id: `${off.clientId}:3`, store: 's', ops: [{ op: 'set', path: 'score', value: 1 }] });
    assertCoded(await off.next((m) => m.t === 'reject' && m.id === `${off.clientId}:3`), 'reject', ErrorCode.OP);
    await assertContained(c, off);
    // A bad message in a frame is refused alone: the good op beside it is applied.
    off.send([{ t: 'op', id: `${off.clientId}:4`, store: 's', ops: [{ op: 'set', path: ['score'], value: 9 }] }, { t: 'nope' }]);
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    await off.next((m) => m.t === 'sync' && m.id === `${off.clientId}:4`);
  });

  it('answers a hello in another protocol version with TWIN_ERR_PROTO', async () => {
    const c = await setUp(srv, stores);
    const off = await srv.raw();
    off.send({ t: 'hello', proto: 99, client: newClientId(), subs: { s: 0 } });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.PROTO);
    off.send({ t: 'hello', proto: 1, client: 'short', subs: {} });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    assert.ok(!off.messages.some((m) => m.t === 'welcome' || m.t === 'snapshot'));
    await assertContained(c, off);
  });

  it('answers a message before hello with TWIN_ERR_ID', async () => {
    const c = await setUp(srv, stores);
    const off = await srv.raw();
    const id = `${newClientId()}:1`;
    off.send({ t: 'op', id, store: 's', ops: [{ op: 'set', path: ['score'], value: 1 }] });
    const reject = await off.next((m) => m.t === 'reject');
    assertCoded(reject, 'reject', ErrorCode.ID);
    assert.equal(reject.id, id);
    off.send({ t: 'sub', store: 's', v: 0 });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.ID);
    off.send({ t: 'call', id: `${newClientId()}:2`, action: 'bump', args: [] });
    assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.ID);
    assert.ok(!off.messages.some((m) => m.t === 'snapshot' || m.t === 'sync'));
    await assertContained(c, off);
  });

  it('answers an unknown store with TWIN_ERR_STORE (sub and op)', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv);
    off.send({ t: 'sub', store: 'nope', v: 0 });
    const error = await off.next((m) => m.t === 'error');
    assertCoded(error, 'error', ErrorCode.STORE);
    assert.equal(error.store, 'nope');
    const id = `${off.clientId}:1`;
    off.send({ t: 'op', id, store: 'nope', ops: [{ op: 'set', path: ['x'], value: 1 }] });
    const reject = await off.next((m) => m.t === 'reject');
    assertCoded(reject, 'reject', ErrorCode.STORE);
    assert.equal(reject.id, id);
    // In hello's subs, and a store name that is not even a name.
    off.send({ t: 'hello', proto: 1, client: off.clientId!, subs: { ghost: 0 } });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.STORE);
    off.send({ t: 'sub', store: '../etc', v: 0 });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    await assertContained(c, off);
  });

  it('answers an unknown action with TWIN_ERR_ACTION', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv);
    const id = `${off.clientId}:1`;
    off.send({ t: 'call', id, action: 'launch_missiles', args: [] });
    const reject = await off.next((m) => m.t === 'reject');
    assertCoded(reject, 'reject', ErrorCode.ACTION);
    assert.equal(reject.id, id);
    await assertContained(c, off);
  });

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`answers a path through ${key} with TWIN_ERR_PATH, and a value holding it with TWIN_ERR_VALUE`, async () => {
      const c = await setUp(srv, stores);
      const off = await offender(srv, { s: 0 });
      let seq = 0;
      const send = (ops: unknown[]) => {
        const id = `${off.clientId}:${++seq}`;
        off.send({ t: 'op', id, store: 's', ops });
        return id;
      };
      for (const path of [[key], [key, 'polluted'], ['obj', key, 'polluted'], ['list', key]]) {
        const id = send([{ op: 'set', path, value: 'yes' }]);
        const reject = await off.next((m) => m.t === 'reject');
        assert.equal(reject.id, id);
        // An array with a string key is the wrong type before the key is even looked at.
        assertCoded(reject, 'reject', ErrorCode.PATH);
      }
      send([{ op: 'del', path: ['obj', key] }]);
      assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.PATH);
      // A raw frame, so JSON.parse makes `__proto__` an own key of the value.
      const id = `${off.clientId}:${++seq}`;
      off.send(`{"t":"op","id":"${id}","store":"s","ops":[{"op":"set","path":["obj","x"],"value":{"${key}":{"polluted":"yes"}}}]}`);
      assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.VALUE);
      send([{ op: 'push', path: ['list'], values: [JSON.parse(`{"${key}":{"polluted":"yes"}}`)] }]);
      assert.ok(String((await off.next((m) => m.t === 'reject')).code).startsWith('TWIN_ERR_'));
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
      await assertContained(c, off);
    });
  }

  it('answers a wrong container type on the path with TWIN_ERR_PATH', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    const cases: unknown[] = [
      { op: 'push', path: ['name'], values: [1] }, // a string is not an array
      { op: 'set', path: ['score', 'x'], value: 1 }, // through a number
      { op: 'set', path: ['list', 'a'], value: 1 }, // an array needs an index
      { op: 'set', path: ['list', 10], value: 1 }, // out of range
      { op: 'set', path: ['missing', 'x'], value: 1 }, // nothing there
      { op: 'add', path: ['name'], delta: 1 }, // adding to a string
      { op: 'splice', path: ['obj'], index: 0, remove: 1, values: [] }, // an object is not an array
    ];
    for (const [i, op] of cases.entries()) {
      off.send({ t: 'op', id: `${off.clientId}:${i + 1}`, store: 's', ops: [op] });
      const reject = await off.next((m) => m.t === 'reject');
      assert.equal(reject.id, `${off.clientId}:${i + 1}`);
      assertCoded(reject, 'reject', ErrorCode.PATH);
    }
    // A batch whose last op fails is refused whole: its first op is not applied either.
    off.send({ t: 'op', id: `${off.clientId}:${cases.length + 1}`, store: 's', ops: [{ op: 'set', path: ['score'], value: 5 }, { op: 'push', path: ['name'], values: [1] }] });
    assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.PATH);
    await assertContained(c, off);
  });

  it('answers an op that breaks the schema with TWIN_ERR_SCHEMA', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    off.send({ t: 'op', id: `${off.clientId}:1`, store: 's', ops: [{ op: 'set', path: ['score'], value: 'high' }] });
    const reject = await off.next((m) => m.t === 'reject');
    assertCoded(reject, 'reject', ErrorCode.SCHEMA);
    assert.match(reject.message as string, /score/);
    off.send({ t: 'op', id: `${off.clientId}:2`, store: 's', ops: [{ op: 'push', path: ['list'], values: ['not a number'] }] });
    assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.SCHEMA);
    off.send({ t: 'op', id: `${off.clientId}:3`, store: 's', ops: [{ op: 'del', path: ['name'] }] });
    assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.SCHEMA);
    await assertContained(c, off);
  });

  it('answers an unauthorized write with TWIN_ERR_FORBIDDEN', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { locked: 0 });
    off.send({ t: 'op', id: `${off.clientId}:1`, store: 'locked', ops: [{ op: 'set', path: ['n'], value: 1 }] });
    const reject = await off.next((m) => m.t === 'reject');
    assertCoded(reject, 'reject', ErrorCode.FORBIDDEN);
    assert.equal(reject.id, `${off.clientId}:1`);
    await assertContained(c, off);
  });

  it('answers a frame just over the size limit with TWIN_ERR_TOO_BIG', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    off.send({ t: 'op', id: `${off.clientId}:1`, store: 's', ops: [{ op: 'set', path: ['name'], value: 'x'.repeat(FRAME_LIMIT + 100) }] });
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.TOO_BIG);
    await assertContained(c, off);
  });

  it('answers a 20 kB frame (limit 10 kB) with TWIN_ERR_TOO_BIG', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    off.send({ t: 'op', id: `${off.clientId}:1`, store: 's', ops: [{ op: 'set', path: ['name'], value: 'x'.repeat(20_000) }] });
    // What the offender gets: an error message, or else the close of its connection.
    const answer = await off.next((m) => m.t === 'error').catch(async () => {
      const { code, reason } = await off.closed;
      return { t: 'closed', code, reason } as Message;
    });
    // What must hold whatever the answer: nothing changed, nobody heard anything, the server serves.
    await assertContained(c);
    assertCoded(answer, 'error', ErrorCode.TOO_BIG);
    assert.equal(off.ws.readyState, WebSocket.OPEN, 'one oversized frame does not cost the connection');
  });

  it('answers a value nested too deep with TWIN_ERR_DEPTH', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    let deep: Json = 'bottom';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    off.send({ t: 'op', id: `${off.clientId}:1`, store: 's', ops: [{ op: 'set', path: ['obj', 'deep'], value: deep }] });
    assertCoded(await off.next((m) => m.t === 'error' || m.t === 'reject'), 'error', ErrorCode.DEPTH);
    let arrays = '0';
    for (let i = 0; i < 200; i++) arrays = `[${arrays}]`;
    off.send(arrays);
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.DEPTH);
    await assertContained(c, off);
  });

  it('refuses a batch id under someone else\'s client id with TWIN_ERR_ID', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    const victim = c.healthy.clientId!;
    off.send({ t: 'op', id: `${victim}:99`, store: 's', ops: [{ op: 'set', path: ['score'], value: 666 }] });
    const reject = await off.next((m) => m.t === 'reject');
    assertCoded(reject, 'reject', ErrorCode.ID);
    off.send({ t: 'call', id: `${victim}:100`, action: 'bump', args: [] });
    assertCoded(await off.next((m) => m.t === 'reject'), 'reject', ErrorCode.ID);
    await assertContained(c, off);
    // The victim's own next batch (seq 1, below the forged 99) is still applied.
    c.healthy.send({ t: 'op', id: `${victim}:1`, store: 's', ops: [{ op: 'add', path: ['score'], delta: 1 }] });
    const ack = await c.healthy.next((m) => m.t === 'sync' && m.id === `${victim}:1`);
    assert.deepEqual(ack.ops, [{ op: 'add', path: ['score'], delta: 1 }]);
  });

  it('answers a binary frame with TWIN_ERR_FRAME', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0 });
    off.send(Buffer.from(JSON.stringify({ t: 'op', id: `${off.clientId}:1`, store: 's', ops: [{ op: 'set', path: ['score'], value: 3 }] })));
    assertCoded(await off.next((m) => m.t === 'error'), 'error', ErrorCode.FRAME);
    await assertContained(c, off);
  });

  it('refuses a cross-origin upgrade: closed at once with 4403 and TWIN_ERR_ORIGIN', async () => {
    const c = await setUp(srv, stores);
    await assertRefused(srv.url, { origin: 'http://evil.example' }, CloseCode.ORIGIN_REFUSED, ErrorCode.ORIGIN);
    await assertRefused(srv.url, { headers: { Origin: `http://127.0.0.1.evil.example:${srv.port}` } }, CloseCode.ORIGIN_REFUSED, ErrorCode.ORIGIN);
    assert.equal(srv.server.connectionCount, c.connections);
    // The server's own origin is welcome.
    const same = await srv.raw({ origin: srv.http });
    await same.hello();
    await same.close();
    await assertContained(c);
  });

  it('refuses an upgrade the auth hook refuses: closed at once with 4401 and TWIN_ERR_AUTH', async () => {
    const c = await setUp(srv, stores);
    await assertRefused(`${srv.url}?deny=1`, {}, CloseCode.AUTH_REFUSED, ErrorCode.AUTH);
    assert.equal(srv.server.connectionCount, c.connections);
    await assertContained(c);
  });

  it('survives a burst of every kind of bad input at once', async () => {
    const c = await setUp(srv, stores);
    const off = await offender(srv, { s: 0, locked: 0 });
    const id = (n: number) => `${off.clientId}:${n}`;
    off.send([
      { t: 'sub', store: 'nope', v: 0 },
      { t: 'op', id: id(1), store: 's', ops: [{ op: 'set', path: ['__proto__', 'x'], value: 1 }] },
      { t: 'op', id: id(2), store: 's', ops: [{ op: 'set', path: ['score'], value: 'x' }] },
      { t: 'op', id: id(3), store: 'locked', ops: [{ op: 'set', path: ['n'], value: 1 }] },
      { t: 'call', id: id(4), action: 'nope', args: [] },
      { t: 'op', id: `${c.healthy.clientId}:5`, store: 's', ops: [{ op: 'set', path: ['score'], value: 1 }] },
    ]);
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await off.next((m) => m.t === 'error' || m.t === 'reject')).code);
    assert.deepEqual(codes, [ErrorCode.STORE, ErrorCode.PATH, ErrorCode.SCHEMA, ErrorCode.FORBIDDEN, ErrorCode.ACTION, ErrorCode.ID]);
    await assertContained(c, off);
  });
});

describe('bad input: hooks that throw', () => {
  it('an origins function or auth hook that throws refuses the upgrade (4403, 4401); the server keeps serving', async (t) => {
    const { app, s, locked } = makeApp();
    const srv = await serveOwn(t, app, {
      logger: recordingLogger(),
      origins: (origin) => {
        if (origin.includes('evil')) throw new Error('origins hook failed');
        return true;
      },
      auth: ({ url }) => {
        if (url.searchParams.has('fail')) throw new Error('auth hook failed');
        return 'someone';
      },
    });
    const c = await setUp(srv, { s, locked });
    await assertRefused(srv.url, { origin: 'http://evil.example' }, CloseCode.ORIGIN_REFUSED, ErrorCode.ORIGIN);
    await assertRefused(`${srv.url}?fail=1`, {}, CloseCode.AUTH_REFUSED, ErrorCode.AUTH);
    assert.equal(srv.server.connectionCount, c.connections);
    await assertContained(c);
  });
});

describe('bad input: rate limit', () => {
  it('refuses batches over the rate limit by id, retryably, applying only the ones within it; later ones wait for the first refused', async (t) => {
    const { app, s, locked } = makeApp();
    const srv = await serveOwn(t, app, { limits: { rate: 5, burst: 5 } });
    const c = await setUp(srv, { s, locked });
    const off = await offender(srv, { s: 0 }); // hello spends a token; a write is acknowledged to subscribers
    for (let i = 1; i <= 30; i++) {
      off.send({ t: 'op', id: `${off.clientId}:${i}`, store: 's', ops: [{ op: 'add', path: ['score'], delta: 1 }] });
    }
    await until(() => off.messages.filter((m) => m.t === 'reject' || m.t === 'sync').length >= 30, 'an answer to every frame');
    const refusals = off.messages.filter((m) => m.t === 'reject');
    const acks = off.messages.filter((m) => m.t === 'sync');
    for (const refusal of refusals) {
      assertCoded(refusal, 'reject', ErrorCode.RATE);
      assert.equal(refusal.retry, true, 'a rate refusal says the batch may be sent again');
    }
    assert.ok(refusals.length >= 24, `${refusals.length} frames refused`);
    assert.equal(refusals.length + acks.length, 30);
    // Each batch is answered once, by its id: acknowledged or refused, never both.
    const seqOf = (m: Message) => Number(String(m.id).split(':')[1]);
    assert.deepEqual([...acks, ...refusals].map(seqOf).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
    // Exactly the acknowledged frames changed the store, and only they reached the healthy client.
    assert.equal(snapshot(s).score, acks.length);
    assert.equal(status(s).v, c.before.s!.v + acks.length);
    await delay(QUIET_MS);
    assert.deepEqual(c.healthy.since(c.healthyFrom).map((m) => m.v), acks.map((m) => m.v));
    assert.ok(c.healthy.since(c.healthyFrom).every((m) => m.t === 'sync' && m.id === undefined));
    assert.deepEqual(snapshot(locked), c.before.locked!.value);

    // The limit refills: after a second the offender is served again, on the same connection —
    // but a batch after the first refused one waits for it (else a re-send of that one would be
    // taken for applied), and the refused one sent again is applied.
    await delay(1100);
    assert.equal(off.ws.readyState, WebSocket.OPEN);
    const first = Math.min(...refusals.map(seqOf));
    off.send({ t: 'op', id: `${off.clientId}:31`, store: 's', ops: [{ op: 'add', path: ['score'], delta: 1 }] });
    const held = await off.next((m) => m.t === 'reject' && m.id === `${off.clientId}:31`);
    assertCoded(held, 'reject', ErrorCode.ORDER);
    assert.equal(held.retry, true);
    off.send({ t: 'op', id: `${off.clientId}:${first}`, store: 's', ops: [{ op: 'add', path: ['score'], delta: 1 }] });
    await off.next((m) => m.t === 'sync' && m.id === `${off.clientId}:${first}`);
    assert.equal(snapshot(s).score, acks.length + 1);
    off.send({ t: 'ping' });
    await off.next((m) => m.t === 'pong');
    await assertServes({ ...c, before: stateOf(c.stores), healthyFrom: c.healthy.messages.length });
  });
});

describe('bad input: rate limit per message', () => {
  it('counts every message of an array frame, refusing a frame that holds more than the client may send', async (t) => {
    const { app, s, locked } = makeApp();
    const srv = await serveOwn(t, app, { limits: { rate: 5, burst: 5 } });
    const c = await setUp(srv, { s, locked });
    const off = await offender(srv, { s: 0 }); // hello spent a token
    const frame = Array.from({ length: 10 }, (_, i) => ({ t: 'op', id: `${off.clientId}:${i + 1}`, store: 's', ops: [{ op: 'add', path: ['score'], delta: 1 }] }));
    off.send(frame);
    await until(() => off.messages.filter((m) => m.t === 'reject').length === 10, 'a refusal of each batch in the frame');
    for (const [i, refusal] of off.messages.filter((m) => m.t === 'reject').entries()) {
      assertCoded(refusal, 'reject', ErrorCode.RATE);
      assert.equal(refusal.id, frame[i]!.id);
    }
    await delay(QUIET_MS);
    assert.equal(off.messages.filter((m) => m.t === 'sync').length, 0, 'no message of the refused frame was applied');
    assert.deepEqual(snapshot(s), c.before.s!.value);
    assert.deepEqual(c.healthy.since(c.healthyFrom), []);
  });
});

describe('bad input: batches refused for now and never sent again', () => {
  it('are held up to a bound: past 4,096 the client is disconnected (1008, TWIN_ERR_ORDER); nothing changed, the others are served', async (t) => {
    const { app, s, locked } = makeApp();
    // A burst small enough to refuse one frame (which holds its batches), a rate that lets the
    // next frames in at once (each of their batches then waits behind the held ones), and no
    // strike limit in the way.
    const srv = await serveOwn(t, app, { limits: { rate: 1_000_000, burst: 300, maxMessages: 400, strikes: 1_000_000 } });
    const c = await setUp(srv, { s, locked });
    const off = await offender(srv, { s: 0 });
    const op = (seq: number) => ({ t: 'op', id: `${off.clientId}:${seq}`, store: 's', ops: [{ op: 'add', path: ['score'], delta: 1 }] });
    let seq = 0;
    off.send(Array.from({ length: 301 }, () => op(++seq))); // over the burst: refused for now, held
    await until(() => off.messages.some((m) => m.t === 'reject' && m.code === ErrorCode.RATE), 'a rate refusal');
    while (seq < 4_400 && off.ws.readyState === WebSocket.OPEN) {
      off.send(Array.from({ length: 200 }, () => op(++seq)));
      await delay(5);
    }
    const closed = await off.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /^TWIN_ERR_ORDER/);
    // Not before: a client that keeps re-sending (ours) never holds more than it has in flight.
    assert.ok(off.messages.filter((m) => m.t === 'reject' && m.retry === true).length > 3_000, 'it was closed only after thousands were held');
    assert.equal(snapshot(s).score, (c.before.s!.value as { score: number }).score, 'no batch of the offender was applied');
    await assertServes({ ...c, before: stateOf(c.stores), healthyFrom: c.healthy.messages.length });
  });
});

describe('bad input: a client that stops reading', () => {
  it('is dropped once its buffer passes maxBuffer; the others keep receiving promptly', async (t) => {
    const app = defineApp();
    const feed = app.shared('feed', () => ({ items: [] as string[] }));
    const srv = await serveOwn(t, app, { limits: { maxBuffer: 64 * 1024 } });
    const subscribed = new Set<string>();
    srv.server.on('subscribe', ({ client }) => subscribed.add(client));

    // A raw TCP client that upgrades, subscribes, then never reads again.
    const slowId = newClientId();
    const slow = await stalledClient(srv.port, { t: 'hello', proto: 1, client: slowId, subs: { feed: 0 } });
    t.after(() => slow.destroy());
    await until(() => subscribed.has(slowId), 'the slow client to subscribe');

    const healthy = await srv.raw();
    await healthy.hello(newClientId(), { feed: 0 });
    await healthy.next((m) => m.t === 'snapshot');
    const writer = await srv.raw();
    await writer.hello(newClientId(), { feed: 0 }); // subscribed: its writes are acknowledged
    await writer.next((m) => m.t === 'snapshot');
    assert.equal(srv.server.connectionCount, 3);

    // Updates of 100 kB, each acknowledged before the next, until the server lets the slow one
    // go. The kernel's socket buffers on loopback take a few MB before anything stays in the
    // server's own buffer (about 4 MB here), so this takes more than 2 MB; at most 20 MB.
    const chunk = 'y'.repeat(100_000);
    let slowest = 0;
    let sentBatches = 0;
    for (let i = 1; i <= 200 && srv.server.connectionCount === 3; i++) {
      const sent = Date.now();
      writer.send({ t: 'op', id: `${writer.clientId}:${i}`, store: 'feed', ops: [{ op: 'set', path: ['items', 0], value: `${i}:${chunk}` }] });
      await writer.next((m) => m.t === 'sync' && m.id === `${writer.clientId}:${i}`);
      await healthy.next((m) => m.t === 'sync' && m.v === i, 1000);
      slowest = Math.max(slowest, Date.now() - sent);
      sentBatches = i;
    }
    assert.ok(slowest < 1000, `the healthy client waited up to ${slowest} ms for an update`);
    await until(() => srv.server.connectionCount === 2, `the slow client to be dropped (after ${sentBatches} batches of 100 kB)`, 5000);
    assert.equal(writer.ws.readyState, WebSocket.OPEN);
    assert.equal(healthy.ws.readyState, WebSocket.OPEN);
    // The others go on as before.
    const next = sentBatches + 1;
    writer.send({ t: 'op', id: `${writer.clientId}:${next}`, store: 'feed', ops: [{ op: 'set', path: ['items', 0], value: 'after' }] });
    await healthy.next((m) => m.t === 'sync' && m.v === next, 1000);
    assert.deepEqual(snapshot(feed).items, ['after']);
  });
});

//#region raw TCP

/** A masked client text frame (RFC 6455 §5.2) holding `text`. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([0x81, 0x80 | payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, payload]);
}

/** Upgrades a raw TCP socket to a WebSocket by hand, sends `first`, then stops reading. */
async function stalledClient(port: number, first: unknown): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await within(once(socket, 'connect'), 'a TCP connection');
  socket.write([
    'GET /_twin/ws HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    '', '',
  ].join('\r\n'));
  let head = '';
  await within(new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer) => {
      head += data.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (head.startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(`The upgrade failed: ${head.split('\r\n')[0]}`));
    };
    socket.on('data', onData);
  }), 'the upgrade response');
  socket.pause();
  socket.write(maskedTextFrame(JSON.stringify(first)));
  return socket;
}

//#endregion raw TCP
