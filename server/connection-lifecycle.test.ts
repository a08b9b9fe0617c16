// SPDX-License-Identifier: MIT
/**
 * @module connection-lifecycle.test
 * One client's socket over its life, in what an app and other clients see of it: a socket that
 * closes while its hello or a subscription waits (on storage, `canRead` or a commit) leaves no
 * client connected or subscribed behind it and asks the app nothing more; a long hello lets
 * other connections be served meanwhile; a hello that cannot reach storage is told to come back
 * later; catch-up after a reconnect tells the client its own batches' ids and nobody else's;
 * and the limits on adopted ids and on creating family members.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '../src/close-codes.js';
import { defineApp, ErrorCode } from '../src/index.js';
import { MAX_ADOPT, MAX_ADOPTED } from '../src/protocol.js';
import { delay, newClientId, startServer, until } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { createMemoryStorage } from './index.js';
import type { StorageAdapter, TwinOptions } from './index.js';

/** A promise the test opens, and one that says the code under test is waiting on it. */
interface Gate {
  /** Resolves once something waits at the gate. */
  readonly reached: Promise<void>;
  /** Waits at the gate until it is opened (resolves at once if it is). */
  pass(): Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  return {
    reached,
    pass() {
      arrive();
      return opened;
    },
    open,
  };
}

/** Memory storage whose methods named in `wrap` run through the wrappers given. */
function storageWith(wrap: (inner: StorageAdapter) => Partial<StorageAdapter>): StorageAdapter {
  const inner = createMemoryStorage();
  const overrides = wrap(inner) as Record<PropertyKey, unknown>;
  return new Proxy(inner, {
    get(target, key) {
      if (key in overrides) return overrides[key];
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A key as pages make them (16+ URL-safe characters). */
const keyOf = (client: string) => `${client}-key`;

/** `gate`: when set, `slow`'s canRead waits at it. `asked`: the stores canRead was asked about. */
interface ReadHooks {
  gate?: Gate;
  readonly asked: string[];
}

function makeApp(hooks: ReadHooks = { asked: [] }) {
  const app = defineApp();
  app.shared('notes', () => ({ items: [] as string[] }));
  app.shared('other', () => ({ items: [] as string[] }));
  app.shared('box', (id: string) => ({ id }), { family: true });
  app.shared('slow', () => ({ items: [] as string[] }), {
    canRead: async () => {
      hooks.asked.push('slow');
      await hooks.gate?.pass();
      return true;
    },
  });
  app.shared('audited', () => ({}), {
    canRead: () => {
      hooks.asked.push('audited');
      return true;
    },
  });
  return app;
}

async function serve(t: TestContext, options: TwinOptions = {}, app = makeApp()): Promise<TestServer> {
  const srv = await startServer(app, options);
  t.after(() => srv.close());
  return srv;
}

/** The server's connect/disconnect/subscribe/unsubscribe events, as `event client store`. */
function recordEvents(srv: TestServer): string[] {
  const events: string[] = [];
  for (const event of ['connect', 'disconnect', 'subscribe', 'unsubscribe'] as const) {
    srv.server.on(event, (info) => events.push(`${event} ${info.client}${info.store ? ` ${info.store}` : ''}`));
  }
  return events;
}

/** Lets what the server still has queued run (a few turns of the event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await delay(20);
}

const push = (id: string, store: string, text: string) => ({ t: 'op', id, store, ops: [{ op: 'push', path: ['items'], values: [text] }] });

describe('a connection closed while it waits', () => {
  it('on storage during its hello: the client is never connected', async (t) => {
    const claim = gate();
    const storage = storageWith((inner) => ({
      async claim(id, owner) {
        await claim.pass();
        return inner.claim(id, owner);
      },
    }));
    const srv = await serve(t, { storage });
    const events = recordEvents(srv);
    const raw = await srv.raw();
    const client = newClientId();
    raw.send({ t: 'hello', proto: 1, client, key: keyOf(client), subs: { notes: 0 } });
    await claim.reached;
    await raw.close();
    await until(() => new Promise((resolve) => srv.httpServer.getConnections((_, n) => resolve(n === 0))), 'the server to see the close');
    claim.open();
    await settle();
    assert.deepEqual(events, []);
  });

  it('on canRead during its hello: not subscribed, and canRead is not asked about the stores after it', async (t) => {
    const hooks: ReadHooks = { asked: [] };
    const srv = await serve(t, {}, makeApp(hooks));
    const events = recordEvents(srv);
    // `slow` at v1, so the page below, back from v1, catches up from the log (no snapshot).
    const writer = await srv.raw();
    await writer.hello(undefined, { slow: 0 });
    writer.send(push(`${writer.clientId}:1`, 'slow', 'one'));
    await writer.next((m) => m.t === 'sync' && m.v === 1);
    hooks.gate = gate();
    hooks.asked.length = 0;
    const raw = await srv.raw();
    const client = newClientId();
    raw.send({ t: 'hello', proto: 1, client, subs: { slow: 1, audited: 0, notes: 0 } });
    await hooks.gate.reached;
    await raw.close();
    await until(() => events.includes(`disconnect ${client}`), 'the server to see the close');
    hooks.gate.open();
    await settle();
    assert.deepEqual(hooks.asked, ['slow']);
    assert.deepEqual(events.filter((e) => e.includes(client)), [`connect ${client}`, `disconnect ${client}`]);
  });

  it('for a commit holding the store it subscribes to: not subscribed', async (t) => {
    const append = gate();
    const storage = storageWith((inner) => ({
      async append(parts, client) {
        await append.pass();
        return inner.append(parts, client);
      },
    }));
    const srv = await serve(t, { storage });
    const events = recordEvents(srv);
    const writer = await srv.raw();
    await writer.hello(undefined, { notes: 0 });
    await writer.next((m) => m.t === 'snapshot');
    const reader = await srv.raw();
    await reader.hello();
    writer.send(push(`${writer.clientId}:1`, 'notes', 'one'));
    await append.reached;
    reader.send({ t: 'sub', store: 'notes', v: 0 });
    await delay(20);
    await reader.close();
    await until(() => events.includes(`disconnect ${reader.clientId}`), 'the server to see the close');
    append.open();
    await writer.next((m) => m.t === 'sync' && m.id === `${writer.clientId}:1`);
    await settle();
    assert.deepEqual(events.filter((e) => e.includes(reader.clientId!)), [`connect ${reader.clientId}`, `disconnect ${reader.clientId}`]);
  });
});

describe('a hello', () => {
  it('that storage cannot answer is told to come back later, and the operator is told why', async (t) => {
    const errors: unknown[][] = [];
    const storage = storageWith(() => ({
      claim: () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379')),
    }));
    const srv = await serve(t, { storage, logger: { warn: () => undefined, error: (...args: unknown[]) => errors.push(args) } });
    const raw = await srv.raw();
    const client = newClientId();
    raw.send({ t: 'hello', proto: 1, client, key: keyOf(client), subs: { notes: 0 } });
    const closed = await raw.closed;
    assert.equal(closed.code, CloseCode.TRY_LATER);
    assert.deepEqual(raw.messages, [{ t: 'error', code: ErrorCode.UNAVAILABLE, message: 'The server cannot reach its storage; try again later.' }]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]![0], '[twin-state] Storage failed while a client claimed its id; it was told to try again later.');
    assert.match(String(errors[0]![1]), /ECONNREFUSED/);
  });

  it('naming many stores lets other connections be served before it is done', async (t) => {
    const count = 1500;
    const srv = await serve(t, { limits: { maxSubs: count, createRate: 100_000 } });
    const other = await srv.raw();
    await other.hello();
    const raw = await srv.raw();
    const subs = Object.fromEntries(Array.from({ length: count }, (_, i) => [`box/b${i}`, 0]));
    raw.send({ t: 'hello', proto: 1, client: newClientId(), subs });
    await raw.next((m) => m.t === 'welcome');
    other.send({ t: 'ping' });
    await other.next((m) => m.t === 'pong');
    const subscribed = raw.messages.filter((m) => m.t === 'snapshot').length;
    assert.ok(subscribed < count, `the ping was answered after all ${count} snapshots`);
    await raw.next((m) => m.t === 'snapshot' && m.store === `box/b${count - 1}`, 5000);
  });

  it('may adopt at most MAX_ADOPTED other ids in all, its own not among them, and adopting is not connecting', async (t) => {
    const srv = await serve(t);
    const events = recordEvents(srv);
    const raw = await srv.raw();
    const own = newClientId();
    const claims = Array.from({ length: MAX_ADOPT - 1 }, () => newClientId()).map((client) => ({ client, key: keyOf(client) }));
    raw.send({ t: 'hello', proto: 1, client: own, key: keyOf(own), subs: {}, adopt: [{ client: own, key: keyOf(own) }, ...claims] });
    await raw.next((m) => m.t === 'welcome');
    // More after the hello (tabs closed while this page stayed open), MAX_ADOPT at a time.
    for (let held = MAX_ADOPT - 1; held < MAX_ADOPTED - 1; held += MAX_ADOPT) {
      const more = Array.from({ length: Math.min(MAX_ADOPT, MAX_ADOPTED - 1 - held) }, () => newClientId());
      raw.send({ t: 'adopt', claims: more.map((client) => ({ client, key: keyOf(client) })) });
    }
    const last = newClientId();
    // The same hello again (to subscribe again, say) with one more: that one still fits.
    raw.send({ t: 'hello', proto: 1, client: own, key: keyOf(own), subs: { notes: 0 }, adopt: [{ client: last, key: keyOf(last) }] });
    await raw.next((m) => m.t === 'snapshot');
    assert.deepEqual(raw.messages.filter((m) => m.t === 'error'), []);
    const extra = newClientId();
    raw.send({ t: 'hello', proto: 1, client: own, key: keyOf(own), subs: { notes: 0 }, adopt: [{ client: extra, key: keyOf(extra) }] });
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.ID);
    assert.equal(error.message, `A connection may send for at most ${MAX_ADOPTED} other client ids.`);
    raw.send(push(`${last}:1`, 'notes', 'adopted'));
    await raw.next((m) => m.t === 'sync' && m.id === `${last}:1`);
    raw.send(push(`${extra}:1`, 'notes', 'not adopted'));
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(reject.id, `${extra}:1`);
    assert.equal(reject.code, ErrorCode.ID);
    assert.deepEqual(events.filter((e) => e.startsWith('connect')), [`connect ${own}`]);
  });

  it('may create family members in a burst of ten times createRate, and no more', async (t) => {
    // One every 2 s: no member is allowed back while the hello runs, however slow the machine.
    const srv = await serve(t, { limits: { createRate: 0.5 } });
    const raw = await srv.raw();
    const subs = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`box/n${i}`, 0]));
    await raw.hello(undefined, subs);
    await raw.next((m) => m.t === 'snapshot' && m.store === 'box/n4');
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.RATE);
    assert.equal(error.store, 'box/n5');
    assert.equal(raw.messages.filter((m) => m.t === 'snapshot').length, 5);
  });
});

describe('subscriptions', () => {
  it('says subscribe once per store, and unsubscribing one store leaves the others', async (t) => {
    const srv = await serve(t);
    const events = recordEvents(srv);
    const raw = await srv.raw();
    const client = newClientId();
    await raw.hello(client, { notes: 0, other: 0 });
    raw.send({ t: 'sub', store: 'notes', v: 0 });
    await raw.next((m) => m.t === 'snapshot' && m.store === 'notes');
    raw.send({ t: 'unsub', store: 'notes' });
    const writer = await srv.raw();
    await writer.hello();
    writer.send(push(`${writer.clientId}:1`, 'notes', 'unseen'));
    writer.send(push(`${writer.clientId}:2`, 'other', 'seen'));
    const sync = await raw.next((m) => m.t === 'sync');
    assert.equal(sync.store, 'other');
    await settle();
    assert.ok(!raw.messages.some((m) => m.t === 'sync' && m.store === 'notes'), 'no batch of an unsubscribed store');
    assert.deepEqual(events.filter((e) => e.includes(client)), [`connect ${client}`, `subscribe ${client} notes`, `subscribe ${client} other`, `unsubscribe ${client} notes`]);
  });

  it('catching up after a reconnect: its own batches come with their ids, other clients’ without', async (t) => {
    const srv = await serve(t);
    const page = await srv.raw();
    const client = newClientId();
    page.send({ t: 'hello', proto: 1, client, key: keyOf(client), subs: { notes: 0 } });
    await page.next((m) => m.t === 'snapshot');
    const other = await srv.raw();
    await other.hello(undefined, { notes: 0 });
    other.send(push(`${other.clientId}:1`, 'notes', 'theirs'));
    await page.next((m) => m.t === 'sync' && m.v === 1);
    page.send(push(`${client}:1`, 'notes', 'mine'));
    await page.next((m) => m.t === 'sync' && m.v === 2);
    other.send(push(`${other.clientId}:2`, 'notes', 'theirs again'));
    await other.next((m) => m.t === 'sync' && m.v === 3);
    await page.close();
    // Back from v1: the confirmation of its batch (v2) was lost with the old socket, say.
    const again = await srv.raw();
    again.send({ t: 'hello', proto: 1, client, key: keyOf(client), subs: { notes: 1 } });
    await again.next((m) => m.t === 'sync' && m.v === 3);
    const syncs = again.messages.filter((m) => m.t === 'sync');
    assert.deepEqual(syncs.map((m) => [m.v, m.id]), [[2, `${client}:1`], [3, undefined]]);
  });

  it('a `sub` is told who is present in that store, and not again who is in the others', async (t) => {
    const srv = await serve(t);
    const peer = await srv.raw();
    await peer.hello(undefined, { notes: 0, other: 0 });
    for (const store of ['notes', 'other']) peer.send({ t: 'presence', store, key: 'presence-key-0123456789', state: { in: store } });
    for (const store of ['notes', 'other']) await peer.next((m) => m.t === 'presence' && m.store === store);
    const raw = await srv.raw();
    await raw.hello(undefined, { other: 0 });
    await raw.next((m) => m.t === 'presence' && m.store === 'other');
    // The peer's entries may still be on their way to subscribers (one frame per 50 ms interval).
    await delay(150);
    const from = raw.messages.length;
    raw.send({ t: 'sub', store: 'notes', v: 0 });
    const notes = await raw.next((m) => m.t === 'presence' && m.store === 'notes');
    assert.deepEqual(Object.values(notes.peers as object), [{ in: 'notes' }]);
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    assert.deepEqual(raw.since(from).filter((m) => m.t === 'presence').map((m) => m.store), ['notes']);
  });
});

describe('the rate limit', () => {
  it('is shared with the other connections from the same address', async (t) => {
    const srv = await serve(t, { limits: { rate: 1000, burst: 1000, addressRate: 1, addressBurst: 10 } });
    const first = await srv.raw();
    await first.hello();
    first.send(Array.from({ length: 6 }, () => ({ t: 'ping' })));
    for (let i = 0; i < 6; i++) await first.next((m) => m.t === 'pong');
    const second = await srv.raw();
    await second.hello();
    // 8 of the address's 10 are spent: these 5 are refused, though this connection sent 1.
    second.send(Array.from({ length: 5 }, () => ({ t: 'ping' })));
    const error = await second.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.RATE);
    assert.ok(!second.messages.some((m) => m.t === 'pong'));
  });
});
