// SPDX-License-Identifier: MIT
/**
 * @module hub.test
 * The hub over real WebSockets: real `ws` clients (the high-level `Client` and raw sockets
 * speaking the protocol by hand) against a real Koa + twin server on an ephemeral loopback
 * port. Convergence under concurrent writes, catch-up from the op log, actions as
 * transactions, idempotent batches, client id ownership, families, read and write hooks,
 * server code writes, client events, optimistic rebase and the offline queue.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import * as v from 'valibot';
import { applyOps, createClient, defineApp, ErrorCode, increment, settled, snapshot, status, subscribe } from '../src/index.js';
import type { Client, Json, Op, RejectDetail } from '../src/index.js';
import { createMemoryStorage, DEFAULT_SERVER_LIMITS } from './index.js';
import type { ClientEvent } from './index.js';
import { delay, newClientId, NodeWebSocket, startServer, until } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';

/** How long to watch a client to be sure it receives nothing more. */
const QUIET_MS = 150;
/** The welcome of a server with the default limits: it states them, so clients stay within. */
const { maxFrameBytes, maxMessages, maxOps, rate, burst } = DEFAULT_SERVER_LIMITS;
const WELCOME = { t: 'welcome', proto: 1, limits: { maxFrameBytes, maxMessages, maxOps, rate, burst } };

//#region helpers

/** Starts a server closed after the test. */
async function serve(t: TestContext, ...args: Parameters<typeof startServer>): Promise<TestServer> {
  const srv = await startServer(...args);
  t.after(() => srv.close());
  return srv;
}

/** A high-level client of `srv` with a handle on store `name`, once it holds the server's version. */
async function clientOf<T extends object>(srv: TestServer, name: string, serverStore: object): Promise<{ client: Client; store: T }> {
  const client = srv.client({ minDelay: 50, maxDelay: 200 });
  const store = client.store<T>(name);
  Object.keys(store); // reading it subscribes
  await until(() => status(store).connection === 'online' && status(store).v === status(serverStore).v
    && isDeepStrictEqual(snapshot(store), snapshot(serverStore)), `a client of ${name} to be in sync`);
  return { client, store };
}

/** Waits until every client store equals the server's store and has nothing pending. */
async function converged(serverStore: object, stores: object[], timeoutMs = 4000): Promise<void> {
  try {
    await until(() => stores.every((s) => status(s).pending === 0 && status(s).v === status(serverStore).v
      && isDeepStrictEqual(snapshot(s), snapshot(serverStore))), 'every client to converge', timeoutMs);
  } catch (err) {
    // Show what differs rather than only that it timed out.
    for (const s of stores) assert.deepEqual(snapshot(s), snapshot(serverStore));
    throw err;
  }
}

/** A raw client said hello (with `subs`), its snapshots received. */
async function rawSubscribed(srv: TestServer, subs: Record<string, number>, options: { query?: string; id?: string } = {}): Promise<RawClient> {
  const raw = await srv.raw(options.query ? { query: options.query } : {});
  await raw.hello(options.id ?? newClientId(), subs);
  for (const store of Object.keys(subs)) await raw.next((m) => (m.t === 'snapshot' || m.t === 'sync') && m.store === store);
  return raw;
}

/** Resolves after `QUIET_MS` with what `raw` received meanwhile. */
async function quiet(raw: RawClient): Promise<Message[]> {
  const from = raw.messages.length;
  await delay(QUIET_MS);
  return raw.since(from);
}

/** Writes by server code, committed: awaits the store's pending batches. */
async function committed(store: object, write: () => void): Promise<void> {
  write();
  await settled(store);
}

/** What `console.error` is given (its last argument: the error) until the test ends. */
function consoleErrors(t: TestContext): unknown[] {
  const errors: unknown[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.at(-1));
  t.after(() => void (console.error = error));
  return errors;
}

function opMessage(raw: RawClient, seq: number, store: string, ops: Op[]): { t: 'op'; id: string; store: string; ops: Op[] } {
  return { t: 'op', id: `${raw.clientId}:${seq}`, store, ops };
}

//#endregion helpers

describe('sync between clients', () => {
  it('converges three clients and the server after concurrent sets, pushes and deletes', async (t) => {
    const app = defineApp();
    const board = app.shared('board', () => ({ title: '', items: [] as string[], tags: {} as Record<string, number> }));
    const srv = await serve(t, app);
    await committed(board, () => (board.title = 'start'));
    const clients = await Promise.all([0, 1, 2].map(() => clientOf<typeof board>(srv, 'board', board)));
    const stores = clients.map((c) => c.store);

    // Rounds of writes racing each other: each client deletes its own previous tag.
    for (let round = 0; round < 10; round++) {
      stores.forEach((s, i) => {
        s.title = `title by ${i} in ${round}`;
        s.items.push(`${i}-${round}`);
        s.tags[`t${i}-${round}`] = round;
        if (round > 0) delete s.tags[`t${i}-${round - 1}`];
      });
      if (round % 3 === 0) await delay(0);
    }
    await converged(board, stores);
    let final = snapshot(board);
    assert.equal(final.items.length, 30);
    assert.deepEqual([...final.items].sort(), [0, 1, 2].flatMap((i) => Array.from({ length: 10 }, (_, r) => `${i}-${r}`)).sort());
    assert.match(final.title, /^title by \d in 9$/);
    assert.deepEqual(Object.keys(final.tags).sort(), ['t0-9', 't1-9', 't2-9']);

    // Now all at once: everyone deletes the next one's tag, overwrites a shared key and an item.
    stores.forEach((s, i) => {
      delete s.tags[`t${(i + 1) % 3}-9`];
      s.tags.shared = i;
      s.items[0] = `first by ${i}`;
      s.items.splice(1, 1);
    });
    await converged(board, stores);
    final = snapshot(board);
    assert.deepEqual(Object.keys(final.tags), ['shared']);
    assert.match(final.items[0]!, /^first by \d$/);
    assert.equal(final.items.length, 27);
  });

  it('keeps every one of 60 interleaved pushes from three clients, each once', async (t) => {
    const app = defineApp();
    const list = app.shared('list', () => ({ items: [] as string[] }));
    const srv = await serve(t, app);
    const clients = await Promise.all([0, 1, 2].map(() => clientOf<typeof list>(srv, 'list', list)));
    for (let i = 0; i < 20; i++) {
      clients.forEach((c, n) => c.store.items.push(`c${n}-${i}`));
      await delay(0); // one batch per push: the three clients' batches interleave on the server
    }
    await converged(list, clients.map((c) => c.store));
    const items = snapshot(list).items;
    assert.equal(items.length, 60);
    assert.equal(new Set(items).size, 60);
    for (let n = 0; n < 3; n++) {
      // Each client's own pushes keep their order.
      const mine = items.filter((x) => x.startsWith(`c${n}-`));
      assert.deepEqual(mine, Array.from({ length: 20 }, (_, i) => `c${n}-${i}`));
    }
  });

  it('counts every concurrent increment from three clients', async (t) => {
    const app = defineApp();
    const counter = app.shared('counter', () => ({ n: 7 }));
    const srv = await serve(t, app);
    const clients = await Promise.all([0, 1, 2].map(() => clientOf<typeof counter>(srv, 'counter', counter)));
    for (let i = 0; i < 20; i++) {
      clients.forEach((c, n) => increment(c.store, 'n', n + 1));
      await delay(0);
    }
    await converged(counter, clients.map((c) => c.store));
    assert.equal(snapshot(counter).n, 7 + 20 * (1 + 2 + 3));
  });
});

describe('hello catch-up', () => {
  it('sends a returning client exactly the batches it missed, not a snapshot', async (t) => {
    const app = defineApp();
    const log = app.shared('log', () => ({ items: [] as number[], pad: 'x'.repeat(50_000) }));
    const srv = await serve(t, app);
    await committed(log, () => log.items.push(0));
    const id = newClientId();
    const first = await srv.raw();
    await first.hello(id, { log: 0 });
    const snap = await first.next((m) => m.t === 'snapshot');
    const since = snap.v as number;
    assert.equal(since, 1);
    await first.close();

    for (let i = 1; i <= 5; i++) await committed(log, () => log.items.push(i));

    const back = await srv.raw();
    await back.hello(id, { log: since });
    for (let i = 1; i <= 5; i++) await back.next((m) => m.t === 'sync' && m.v === since + i);
    await delay(QUIET_MS);

    const expected: Message[] = [
      WELCOME,
      ...[1, 2, 3, 4, 5].map((i): Message => ({ t: 'sync', store: 'log', v: since + i, ops: [{ op: 'push', path: ['items'], values: [i] }] })),
    ];
    assert.deepEqual(back.messages, expected);
    assert.equal(back.messages.filter((m) => m.t === 'sync').length, 5);
    assert.equal(back.messages.filter((m) => m.t === 'snapshot').length, 0);
    // Bytes on the wire: the six messages as the server serializes them, plus `[`, `,`, `]` of coalesced frames.
    const framing = back.frames.reduce((sum, f) => {
      const parsed = JSON.parse(f) as unknown;
      return sum + (Array.isArray(parsed) ? 2 + parsed.length - 1 : 0);
    }, 0);
    const messageBytes = expected.reduce((sum, m) => sum + Buffer.byteLength(JSON.stringify(m)), 0);
    assert.equal(back.bytesReceived, messageBytes + framing);
    assert.ok(back.bytesReceived < 1000, `caught up with ${back.bytesReceived} bytes`);
    assert.ok(first.bytesReceived > 50_000, 'the first visit got the whole snapshot');
    // The returning client converges: its snapshot plus the missed ops is the server's state.
    let value = snap.value as Json;
    for (const sync of back.messages.filter((m) => m.t === 'sync')) value = applyOps(value, sync.ops as unknown as Op[]);
    assert.deepEqual(value, snapshot(log));
    assert.deepEqual(snapshot(log).items, [0, 1, 2, 3, 4, 5]);
  });

  it('sends a snapshot to a client further behind than the log', async (t) => {
    const app = defineApp();
    const log = app.shared('log', () => ({ items: [] as number[] }));
    const srv = await serve(t, app, { logSize: 3 });
    const id = newClientId();
    const first = await srv.raw();
    await first.hello(id, { log: 0 });
    const since = (await first.next((m) => m.t === 'snapshot')).v as number;
    await first.close();

    for (let i = 1; i <= 10; i++) await committed(log, () => log.items.push(i));

    const back = await srv.raw();
    await back.hello(id, { log: since });
    const snap = await back.next((m) => m.t === 'snapshot');
    assert.equal(snap.v, since + 10);
    assert.deepEqual(snap.value, { items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    await delay(QUIET_MS);
    assert.deepEqual(back.messages.map((m) => m.t), ['welcome', 'snapshot']);
  });

  it('sends a client that is already current nothing but the welcome', async (t) => {
    const app = defineApp();
    const log = app.shared('log', () => ({ items: [] as number[] }));
    const srv = await serve(t, app);
    await committed(log, () => log.items.push(1));
    const raw = await srv.raw();
    await raw.hello(newClientId(), { log: status(log).v });
    await delay(QUIET_MS);
    assert.deepEqual(raw.messages, [WELCOME]);
  });
});

describe('app.action()', () => {
  function actionApp() {
    const app = defineApp();
    const inbox = app.shared('inbox', () => ({ messages: [] as { text: string }[] }));
    const stats = app.shared('stats', () => ({ count: 0 }), {
      schema: v.object({ count: v.pipe(v.number(), v.maxValue(10)) }),
    });
    const post = app.action('post', (text: string) => {
      inbox.messages.push({ text });
      stats.count += 1;
      return { count: stats.count };
    });
    const boom = app.action('boom', (text: string) => {
      inbox.messages.push({ text });
      throw new Error('secret internals');
    });
    const overflow = app.action('overflow', () => {
      inbox.messages.push({ text: 'fine by itself' });
      stats.count = 1000; // breaks the schema of stats
    });
    return { app, inbox, stats, post, boom, overflow };
  }

  it('commits writes to two stores as one sync per store, with the call id for the caller only', async (t) => {
    const { app } = actionApp();
    const srv = await serve(t, app);
    const caller = await rawSubscribed(srv, { inbox: 0, stats: 0 });
    const other = await rawSubscribed(srv, { inbox: 0, stats: 0 });
    const id = `${caller.clientId}:1`;
    caller.send({ t: 'call', id, action: 'post', args: ['hello'] });

    const result = await caller.next((m) => m.t === 'result');
    assert.deepEqual(result, { t: 'result', id, value: { count: 1 } });
    await delay(QUIET_MS);
    const callerSyncs = caller.messages.filter((m) => m.t === 'sync');
    assert.deepEqual(callerSyncs, [
      { t: 'sync', store: 'inbox', v: 1, ops: [{ op: 'push', path: ['messages'], values: [{ text: 'hello' }] }], id },
      { t: 'sync', store: 'stats', v: 1, ops: [{ op: 'set', path: ['count'], value: 1 }], id },
    ]);
    const otherSyncs = other.messages.filter((m) => m.t === 'sync');
    assert.deepEqual(otherSyncs, callerSyncs.map(({ id: _, ...rest }) => rest));
    assert.ok(!other.frames.some((f) => f.includes(caller.clientId!)), 'the call id never reaches another client');
  });

  it('resolves the call of a high-level client with the result, and every client sees its writes', async (t) => {
    const { app, inbox, stats } = actionApp();
    const srv = await serve(t, app);
    const a = await clientOf<typeof inbox>(srv, 'inbox', inbox);
    const b = await clientOf<typeof inbox>(srv, 'inbox', inbox);
    assert.deepEqual(await a.client.call('post', ['one']), { count: 1 });
    assert.deepEqual(await b.client.call('post', ['two']), { count: 2 });
    await converged(inbox, [a.store, b.store]);
    assert.deepEqual(snapshot(a.store).messages, [{ text: 'one' }, { text: 'two' }]);
    assert.equal(status(stats).v, 2);
  });

  it("leaves the server's own view of the stores equal to what clients see after a client's call", async (t) => {
    // After a call from a client, server code (and the next action) must read the committed state.
    const { app, inbox, stats } = actionApp();
    const srv = await serve(t, app);
    const watcher = await rawSubscribed(srv, { inbox: 0, stats: 0 });
    const caller = await srv.raw();
    await caller.hello();
    caller.send({ t: 'call', id: `${caller.clientId}:1`, action: 'post', args: ['hello'] });
    await caller.next((m) => m.t === 'result');
    await watcher.next((m) => m.t === 'sync' && m.store === 'stats');
    assert.deepEqual(snapshot(inbox), { messages: [{ text: 'hello' }] });
    assert.deepEqual(snapshot(stats), { count: 1 });
    assert.equal(status(inbox).pending, 0);
    // Server code writing after it must not bring the call's writes back.
    await committed(stats, () => (stats.count = 5));
    assert.deepEqual(snapshot(stats), { count: 5 });
  });

  it('rejects a call whose action throws with TWIN_ERR_ACTION_FAILED, changing nothing', async (t) => {
    const { app, inbox, stats } = actionApp();
    const srv = await serve(t, app);
    const caller = await rawSubscribed(srv, { inbox: 0 });
    const other = await rawSubscribed(srv, { inbox: 0, stats: 0 });
    const before = { inbox: snapshot(inbox), stats: snapshot(stats), v: status(inbox).v };
    const id = `${caller.clientId}:1`;
    caller.send({ t: 'call', id, action: 'boom', args: ['lost'] });
    const reject = await caller.next((m) => m.t === 'reject');
    assert.equal(reject.id, id);
    assert.equal(reject.code, ErrorCode.ACTION_FAILED);
    assert.ok(!String(reject.message).includes('secret internals'), 'an unexposed error message stays on the server');
    assert.deepEqual({ inbox: snapshot(inbox), stats: snapshot(stats), v: status(inbox).v }, before);
    assert.deepEqual(await quiet(other), []);
    assert.equal(caller.messages.filter((m) => m.t === 'sync').length, 0);

    // The high-level client's promise rejects with the code.
    const { client } = await clientOf<typeof inbox>(srv, 'inbox', inbox);
    await assert.rejects(client.call('boom', ['x']), { code: ErrorCode.ACTION_FAILED });
  });

  it('rejects a call whose writes break a schema with TWIN_ERR_SCHEMA, changing no store', async (t) => {
    const { app, inbox, stats } = actionApp();
    const srv = await serve(t, app);
    const caller = await rawSubscribed(srv, { inbox: 0, stats: 0 });
    const other = await rawSubscribed(srv, { inbox: 0, stats: 0 });
    const before = { inbox: snapshot(inbox), stats: snapshot(stats), vi: status(inbox).v, vs: status(stats).v };
    const id = `${caller.clientId}:1`;
    caller.send({ t: 'call', id, action: 'overflow', args: [] });
    const reject = await caller.next((m) => m.t === 'reject');
    assert.equal(reject.id, id);
    assert.equal(reject.code, ErrorCode.SCHEMA);
    assert.match(String(reject.message), /stats/);
    assert.deepEqual({ inbox: snapshot(inbox), stats: snapshot(stats), vi: status(inbox).v, vs: status(stats).v }, before);
    assert.deepEqual(await quiet(other), []);
  });
});

describe('a refused batch on a store without a schema', () => {
  it('leaves the committed state exactly as it was, though its first ops applied before one failed', async (t) => {
    const app = defineApp();
    const s = app.shared('plain', () => ({ list: [1, 2, 3], obj: { a: 1 } as Record<string, Json>, n: 0 }));
    const srv = await serve(t, app);
    const raw = await rawSubscribed(srv, { plain: 0 });
    const before = structuredClone(snapshot(s));
    raw.send(opMessage(raw, 1, 'plain', [
      { op: 'push', path: ['list'], values: [4] },
      { op: 'splice', path: ['list'], index: 0, remove: 2, values: ['x'] },
      { op: 'del', path: ['obj', 'a'] },
      { op: 'set', path: ['obj', 'b'], value: { c: 1 } },
      { op: 'add', path: ['n'], delta: 5 },
      { op: 'set', path: ['obj', 'b', 'c', 'nope'], value: 1 }, // through a number: refused
    ]));
    assert.equal((await raw.next((m) => m.t === 'reject')).code, ErrorCode.PATH);
    assert.deepEqual(snapshot(s), before);
    // What later batches build on is the untouched state.
    raw.send(opMessage(raw, 2, 'plain', [{ op: 'push', path: ['list'], values: [4] }]));
    await raw.next((m) => m.t === 'sync' && m.v === 1);
    assert.deepEqual(snapshot(s), { ...before, list: [1, 2, 3, 4] });
    const fresh = await rawSubscribed(srv, { plain: 0 });
    assert.deepEqual(fresh.messages.find((m) => m.t === 'snapshot')?.value, { ...before, list: [1, 2, 3, 4] });
  });
});

describe('op batch ids', () => {
  it('applies a batch sent twice once, and acknowledges the second with an empty sync', async (t) => {
    const app = defineApp();
    const list = app.shared('list', () => ({ items: [] as string[] }));
    const srv = await serve(t, app);
    const sender = await rawSubscribed(srv, { list: 0 });
    const other = await rawSubscribed(srv, { list: 0 });
    const op = opMessage(sender, 1, 'list', [{ op: 'push', path: ['items'], values: ['once'] }]);

    sender.send(op);
    assert.deepEqual(await sender.next((m) => m.t === 'sync'), { t: 'sync', store: 'list', v: 1, ops: op.ops, id: op.id });
    sender.send(op);
    assert.deepEqual(await sender.next((m) => m.t === 'sync'), { t: 'sync', store: 'list', v: 1, ops: [], id: op.id });

    // Twice in one frame: the first is applied, the second acknowledged.
    const op2 = opMessage(sender, 2, 'list', [{ op: 'push', path: ['items'], values: ['twice'] }]);
    sender.send([op2, op2]);
    assert.deepEqual(await sender.next((m) => m.t === 'sync'), { t: 'sync', store: 'list', v: 2, ops: op2.ops, id: op2.id });
    assert.deepEqual(await sender.next((m) => m.t === 'sync'), { t: 'sync', store: 'list', v: 2, ops: [], id: op2.id });

    assert.deepEqual(snapshot(list).items, ['once', 'twice']);
    assert.equal(status(list).v, 2);
    await delay(QUIET_MS);
    assert.deepEqual(other.messages.filter((m) => m.t === 'sync').map((m) => m.v), [1, 2]);
  });
});

describe('hello client id', () => {
  it('lets a second connection with the same id take over; the first is told and closed', async (t) => {
    const app = defineApp();
    const list = app.shared('list', () => ({ items: [] as string[] }));
    const srv = await serve(t, app);
    const third = await rawSubscribed(srv, { list: 0 });
    const id = newClientId();
    const first = await rawSubscribed(srv, { list: 0 }, { id });
    first.send(opMessage(first, 1, 'list', [{ op: 'push', path: ['items'], values: ['from first'] }]));
    await first.next((m) => m.t === 'sync' && m.id === `${id}:1`);

    const second = await srv.raw();
    await second.hello(id, { list: 1 }); // current already: nothing to catch up
    const error = await first.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.REPLACED);
    assert.equal((await first.closed).code, 4009);

    second.send(opMessage(second, 2, 'list', [{ op: 'push', path: ['items'], values: ['from second'] }]));
    assert.deepEqual(await second.next((m) => m.t === 'sync'), {
      t: 'sync', store: 'list', v: 2, ops: [{ op: 'push', path: ['items'], values: ['from second'] }], id: `${id}:2`,
    });
    await third.next((m) => m.t === 'sync' && m.v === 2);
    await delay(QUIET_MS);
    assert.equal(srv.server.connectionCount, 2);
    assert.deepEqual(snapshot(list).items, ['from first', 'from second']);
    assert.ok(third.frames.length > 0);
    for (const frame of third.frames) assert.ok(!frame.includes(id), `a frame to another client holds the batch id: ${frame}`);
  });
});

describe('app.shared() family', () => {
  it('creates a member from init(id) on first subscribe; members are independent', async (t) => {
    const app = defineApp();
    const room = app.shared('room', (id: string) => ({ name: id, messages: [] as string[] }), { family: true });
    const srv = await serve(t, app);
    const raw = await srv.raw();
    await raw.hello(newClientId(), { 'room/general': 0 });
    assert.deepEqual(await raw.next((m) => m.t === 'snapshot'), { t: 'snapshot', store: 'room/general', v: 0, value: { name: 'general', messages: [] } });

    const client = srv.client();
    const general = client.store<{ name: string; messages: string[] }>('room/general');
    const random = client.store<{ name: string; messages: string[] }>('room/random');
    await until(() => snapshot(general).name === 'general' && snapshot(random).name === 'random', 'both members to arrive');
    general.messages.push('hi general');
    await settled(general);
    await raw.next((m) => m.t === 'sync' && m.store === 'room/general');

    assert.deepEqual(snapshot(room('general')), { name: 'general', messages: ['hi general'] });
    assert.deepEqual(snapshot(room('random')), { name: 'random', messages: [] });
    assert.deepEqual(snapshot(random), { name: 'random', messages: [] });
    assert.equal(status(room('random')).v, 0);
    await delay(QUIET_MS);
    assert.ok(!raw.messages.some((m) => m.store === 'room/random'), 'a subscriber of one member hears nothing of another');
  });

  it('lets an action write to a member nobody has opened yet (loaded, then the action runs again)', async (t) => {
    const app = defineApp();
    const room = app.shared('room', (id: string) => ({ name: id, messages: [] as string[] }), { family: true });
    const post = app.action(function post(id: string, text: string) {
      room(id).messages.push(text);
      return room(id).messages.length;
    });
    const srv = await serve(t, app);
    const client = srv.client();
    assert.equal(await client.call('post', ['fresh', 'first']), 1);
    assert.equal(await post('fresh', 'second'), 2);
    assert.deepEqual(snapshot(room('fresh')), { name: 'fresh', messages: ['first', 'second'] });
  });

  it('refuses a family member with an invalid id and the bare family name', async (t) => {
    const app = defineApp();
    app.shared('room', (id: string) => ({ name: id }), { family: true });
    const srv = await serve(t, app);
    const raw = await srv.raw();
    await raw.hello();
    raw.send({ t: 'sub', store: 'room', v: 0 });
    assert.equal((await raw.next((m) => m.t === 'error')).code, ErrorCode.STORE);
    raw.send({ t: 'sub', store: 'room/a/b', v: 0 });
    assert.ok(String((await raw.next((m) => m.t === 'error')).code).startsWith('TWIN_ERR_'));
  });
});

describe('canRead', () => {
  it('keeps a store from a user canRead refuses, and serves it to one it allows', async (t) => {
    const app = defineApp();
    const secret = app.shared('secret', () => ({ code: 'swordfish-0' }), { canRead: ({ user }) => user === 'admin' });
    const srv = await serve(t, app, { auth: ({ url }) => url.searchParams.get('user') ?? 'anonymous' });

    const bob = await srv.raw({ query: 'user=bob' });
    await bob.hello();
    bob.send({ t: 'sub', store: 'secret', v: 0 });
    const error = await bob.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.FORBIDDEN);
    assert.equal(error.store, 'secret');

    // In hello's subs too.
    const eve = await srv.raw({ query: 'user=eve' });
    await eve.hello(newClientId(), { secret: 0 });
    assert.equal((await eve.next((m) => m.t === 'error')).code, ErrorCode.FORBIDDEN);

    const admin = await srv.raw({ query: 'user=admin' });
    await admin.hello(newClientId(), { secret: 0 });
    assert.deepEqual(await admin.next((m) => m.t === 'snapshot'), { t: 'snapshot', store: 'secret', v: 0, value: { code: 'swordfish-0' } });
    admin.send(opMessage(admin, 1, 'secret', [{ op: 'set', path: ['code'], value: 'swordfish-1' }]));
    await admin.next((m) => m.t === 'sync');
    assert.equal(snapshot(secret).code, 'swordfish-1');

    // A write from bob is refused as well: he may not even see the store.
    bob.send(opMessage(bob, 1, 'secret', [{ op: 'set', path: ['code'], value: 'mine' }]));
    assert.equal((await bob.next((m) => m.t === 'reject')).code, ErrorCode.FORBIDDEN);
    await delay(QUIET_MS);
    for (const raw of [bob, eve]) {
      assert.ok(!raw.messages.some((m) => m.t === 'snapshot' || m.t === 'sync'), 'a refused reader got store data');
      assert.ok(!raw.frames.some((f) => f.includes('swordfish')), 'a refused reader got store data');
    }
    assert.equal(snapshot(secret).code, 'swordfish-1');
  });
});

describe('authorize', () => {
  it('rejects a refused write to its sender only, with TWIN_ERR_FORBIDDEN, the store unchanged', async (t) => {
    const app = defineApp();
    const board = app.shared('board', () => ({ notes: [] as string[] }), { authorize: ({ user }) => user !== 'guest' });
    const srv = await serve(t, app, { auth: ({ url }) => url.searchParams.get('user') ?? 'anonymous' });
    const guest = await srv.raw({ query: 'user=guest' });
    await guest.hello(newClientId(), { board: 0 });
    await guest.next((m) => m.t === 'snapshot');
    const member = await rawSubscribed(srv, { board: 0 }, { query: 'user=member' });

    const before = snapshot(board);
    const op = opMessage(guest, 1, 'board', [{ op: 'push', path: ['notes'], values: ['graffiti'] }]);
    guest.send(op);
    const reject = await guest.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.FORBIDDEN);
    assert.equal(reject.id, op.id);
    assert.deepEqual(snapshot(board), before);
    assert.equal(status(board).v, 0);
    assert.deepEqual(await quiet(member), []);

    member.send(opMessage(member, 1, 'board', [{ op: 'push', path: ['notes'], values: ['welcome'] }]));
    await member.next((m) => m.t === 'sync');
    assert.deepEqual(snapshot(board).notes, ['welcome']);
    // The guest still reads it.
    assert.deepEqual((await guest.next((m) => m.t === 'sync')).ops, [{ op: 'push', path: ['notes'], values: ['welcome'] }]);
  });
});

describe('writes by server code', () => {
  it('broadcast to every subscribed client', async (t) => {
    const app = defineApp();
    const game = app.shared('game', () => ({ n: 0, log: [] as string[] }));
    const srv = await serve(t, app);
    const raw = await rawSubscribed(srv, { game: 0 });
    const { store } = await clientOf<typeof game>(srv, 'game', game);

    game.n = 5;
    game.log.push('server wrote');
    const sync = await raw.next((m) => m.t === 'sync');
    assert.deepEqual(sync, { t: 'sync', store: 'game', v: 1, ops: [{ op: 'set', path: ['n'], value: 5 }, { op: 'push', path: ['log'], values: ['server wrote'] }] });
    await converged(game, [store]);
    assert.deepEqual(snapshot(store), { n: 5, log: ['server wrote'] });
  });
});

describe('server.on()', () => {
  it('reports connect, subscribe, unsubscribe and disconnect with the client id', async (t) => {
    const app = defineApp();
    const presence = app.shared('presence', () => ({ active_users: 0 }));
    const srv = await serve(t, app);
    const events: (ClientEvent & { event: string })[] = [];
    let activeUsers = 0;
    for (const event of ['connect', 'disconnect', 'subscribe', 'unsubscribe'] as const) {
      srv.server.on(event, (info) => events.push({ event, ...info }));
    }
    srv.server.on('connect', () => {
      activeUsers++;
      increment(presence, 'active_users', 1);
    });
    srv.server.on('disconnect', () => {
      activeUsers--;
      increment(presence, 'active_users', -1);
    });

    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await clientOf<typeof presence>(srv, 'presence', presence));
    await until(() => activeUsers === 3 && snapshot(presence).active_users === 3, 'three users');
    await converged(presence, clients.map((c) => c.store));
    assert.equal(snapshot(clients[0]!.store).active_users, 3);
    for (const { client } of clients) {
      assert.equal(events.filter((e) => e.event === 'connect' && e.client === client.clientId).length, 1);
      assert.equal(events.filter((e) => e.event === 'subscribe' && e.client === client.clientId && e.store === 'presence').length, 1);
    }

    const gone = clients.pop()!;
    gone.client.close();
    await until(() => activeUsers === 2 && snapshot(presence).active_users === 2, 'two users');
    await converged(presence, clients.map((c) => c.store));
    assert.equal(events.filter((e) => e.event === 'unsubscribe' && e.client === gone.client.clientId && e.store === 'presence').length, 1);
    assert.equal(events.filter((e) => e.event === 'disconnect' && e.client === gone.client.clientId).length, 1);
    assert.equal(events.filter((e) => e.event === 'disconnect').length, 1);

    // An explicit unsub.
    const raw = await rawSubscribed(srv, { presence: 0 });
    raw.send({ t: 'unsub', store: 'presence' });
    await until(() => events.some((e) => e.event === 'unsubscribe' && e.client === raw.clientId), 'the unsubscribe event');
    assert.equal(activeUsers, 3);
  });
});

describe('Client optimistic view', () => {
  function docApp() {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ list: [] as string[], forbidden: 0, ok: 0 }), {
      authorize: async ({ ops }) => {
        if (ops.some((op) => op.path[0] === 'forbidden')) return false;
        if (ops.some((op) => op.op === 'push' && op.values.includes('slow'))) await delay(300);
        return true;
      },
    });
    return { app, doc };
  }

  it("rebases a pending write on a write that lands first, ending equal to the server's state", async (t) => {
    const { app, doc } = docApp();
    const srv = await serve(t, app);
    const a = await clientOf<typeof doc>(srv, 'doc', doc);
    const b = await clientOf<typeof doc>(srv, 'doc', doc);

    a.store.list.push('slow');
    assert.deepEqual(snapshot(a.store).list, ['slow'], 'a write shows at once');
    await delay(20); // A's batch is on the server, held by authorize
    b.store.list.push('b');
    await settled(b.store);
    // B's write reached A while A's is still pending: A shows it under its own.
    await until(() => status(a.store).v === 1, "B's batch to reach A");
    assert.equal(status(a.store).pending, 1);
    assert.deepEqual(snapshot(a.store).list, ['b', 'slow']);

    await settled(a.store);
    await converged(doc, [a.store, b.store]);
    assert.deepEqual(snapshot(doc).list, ['b', 'slow']);

    // A refused write makes A show its confirmed state alone: the rebase above left it intact.
    a.store.forbidden = 1;
    await assert.rejects(settled(a.store), { code: ErrorCode.FORBIDDEN });
    assert.deepEqual(snapshot(a.store), snapshot(doc));
  });

  it('rolls back a refused write, sets status().error and fires reject on the Client', async (t) => {
    const { app, doc } = docApp();
    const srv = await serve(t, app);
    const a = await clientOf<typeof doc>(srv, 'doc', doc);
    const rejects: RejectDetail[] = [];
    a.client.addEventListener('reject', (event) => rejects.push((event as CustomEvent<RejectDetail>).detail));
    const changes: Json[] = [];
    subscribe(a.store, () => changes.push(snapshot(a.store).forbidden));

    a.store.forbidden = 1;
    assert.equal(snapshot(a.store).forbidden, 1, 'the write shows at once');
    const refused = assert.rejects(settled(a.store), { code: ErrorCode.FORBIDDEN });
    await delay(0);
    a.store.ok = 1; // a later, allowed write survives the rollback
    await refused;
    await settled(a.store);

    assert.deepEqual(snapshot(a.store), { list: [], forbidden: 0, ok: 1 });
    assert.equal(status(a.store).error?.code, ErrorCode.FORBIDDEN);
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0]!.code, ErrorCode.FORBIDDEN);
    assert.equal(rejects[0]!.store, 'doc');
    assert.ok(changes.includes(1) && changes.at(-1) === 0);
    assert.deepEqual(snapshot(doc), { list: [], forbidden: 0, ok: 1 });
  });
});

describe('a subscriber that throws', () => {
  it('stops no commit, broadcast or other subscriber, on the server or in a client; its error is reported', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const srv = await serve(t, app);
    const reported = consoleErrors(t);

    const onServer: number[] = [];
    subscribe(doc, () => {
      throw new Error('server subscriber');
    });
    subscribe(doc, () => void onServer.push(snapshot(doc).n));
    const a = await clientOf<typeof doc>(srv, 'doc', doc);
    const b = await clientOf<typeof doc>(srv, 'doc', doc);
    const inB: number[] = [];
    subscribe(b.store, () => {
      throw new Error('client subscriber');
    });
    subscribe(b.store, () => void inB.push(snapshot(b.store).n));

    a.store.n = 1; // committed by the hub, which then tells every subscriber
    await settled(a.store);
    await committed(doc, () => increment(doc, 'n', 1)); // written by server code
    await converged(doc, [a.store, b.store]);
    assert.equal(snapshot(doc).n, 2);
    assert.deepEqual(onServer, [1, 2]);
    assert.deepEqual(inB, [1, 2]);
    const messages = reported.map((err) => (err as Error).message);
    assert.equal(messages.filter((m) => m === 'server subscriber').length, 2);
    assert.equal(messages.filter((m) => m === 'client subscriber').length, 2);
  });
});

describe('a server.on() listener that throws', () => {
  it('stops neither the connection it is about nor the server; its error is logged', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const srv = await serve(t, app);
    const logged = consoleErrors(t);
    const events: string[] = [];
    for (const event of ['connect', 'subscribe', 'unsubscribe', 'disconnect'] as const) {
      srv.server.on(event, () => {
        throw new Error(event);
      });
      srv.server.on(event, () => void events.push(event));
    }

    const a = await clientOf<typeof doc>(srv, 'doc', doc);
    a.store.n = 1;
    await settled(a.store);
    a.client.close();
    await until(() => events.includes('disconnect'), 'the disconnect event');
    const b = await clientOf<typeof doc>(srv, 'doc', doc);
    assert.equal(b.store.n, 1);
    assert.deepEqual(events, ['connect', 'subscribe', 'unsubscribe', 'disconnect', 'connect', 'subscribe']);
    assert.deepEqual(logged.map((err) => (err as Error).message), events);
  });
});

describe('the persist option of a shared store', () => {
  it('prefixes its key in storage, so two apps share one storage without mixing; false keeps it in memory', async (t) => {
    const storage = createMemoryStorage();
    t.after(() => storage.close());
    const define = (prefix: string) => {
      const app = defineApp();
      return {
        app,
        doc: app.shared('doc', () => ({ by: '' }), { persist: prefix }),
        room: app.shared('room', () => ({ n: 0 }), { family: true, persist: prefix }),
        scratch: app.shared('scratch', () => ({ n: 0 }), { persist: false }),
      };
    };
    const one = define('one:');
    const two = define('two:');
    const nodeOne = await serve(t, one.app, { storage });
    await serve(t, two.app, { storage });
    await nodeOne.server.hub.load('room/a'); // a family member is loaded on first use
    await committed(one.doc, () => void (one.doc.by = 'one'));
    await committed(two.doc, () => void (two.doc.by = 'two'));
    await committed(one.room('a'), () => increment(one.room('a'), 'n', 5));
    await committed(one.scratch, () => increment(one.scratch, 'n', 1));

    assert.deepEqual((await storage.load('one:doc'))?.value, { by: 'one' });
    assert.deepEqual((await storage.load('two:doc'))?.value, { by: 'two' });
    assert.deepEqual((await storage.load('one:room/a'))?.value, { n: 5 });
    assert.equal(await storage.load('doc'), undefined);
    assert.equal(await storage.load('one:scratch'), undefined);
    assert.equal(await storage.load('scratch'), undefined);

    // Another node of app one, on the same storage, finds its stores under the same keys.
    const again = define('one:');
    const nodeAgain = await serve(t, again.app, { storage });
    await nodeAgain.server.hub.load('room/a');
    await until(() => again.doc.by === 'one' && again.room('a').n === 5, 'the stores of app one');
    assert.equal(again.scratch.n, 0);
  });
});

describe('two hubs on one storage', () => {
  it("apply each other's batches, and a node whose state no longer takes them reloads it from storage", async (t) => {
    const storage = createMemoryStorage();
    const define = () => {
      const app = defineApp();
      return { app, list: app.shared('list', () => ({ items: [] as string[] })) };
    };
    const [a, b] = [define(), define()];
    await serve(t, a.app, { storage });
    const nodeB = await serve(t, b.app, { storage });
    await committed(a.list, () => a.list.items.push('one'));
    await until(() => snapshot(b.list).items.length === 1, 'node B to adopt node A\'s batch');

    // Simulate a node that diverged (no public API can do this): its committed tree loses the list.
    const storeB = await nodeB.server.hub.load('list');
    delete (storeB!.replica.confirmed as { items?: unknown }).items;
    const watcher = await rawSubscribed(nodeB, { list: 0 });
    await committed(a.list, () => a.list.items.push('two'));
    await until(() => isDeepStrictEqual(snapshot(b.list), { items: ['one', 'two'] }) && status(b.list).v === 2, 'node B to reload from storage');
    assert.deepEqual(storeB!.replica.confirmed, { items: ['one', 'two'] });
    const resync = await watcher.next((m) => m.t === 'snapshot' && m.v === 2);
    assert.deepEqual(resync.value, { items: ['one', 'two'] }, 'its subscribers get the reloaded state');
  });
});

describe('Client offline queue', () => {
  it('applies writes made while the server was down once, after the client reconnects by itself', async (t) => {
    const app = defineApp();
    const todo = app.shared('todo', () => ({ items: [] as string[], n: 0 }));
    const storage = createMemoryStorage();
    t.after(() => storage.close());
    let srv = await startServer(app, { storage });
    t.after(() => srv.close());
    await committed(todo, () => todo.items.push('before'));
    const port = srv.port;
    const options = { url: srv.url, WebSocket: NodeWebSocket, minDelay: 50, maxDelay: 200 };
    const clients = [createClient(options).connect(), createClient(options).connect()];
    t.after(() => clients.forEach((c) => c.close()));
    const [a, b] = clients.map((c) => c.store<typeof todo>('todo')) as [typeof todo, typeof todo];
    Object.keys(a);
    Object.keys(b);
    await converged(todo, [a, b]);

    await srv.close();
    await until(() => clients.every((c) => c.state !== 'online'), 'the clients to notice');
    a.items.push('offline 1');
    await delay(0);
    a.items.push('offline 2');
    increment(a, 'n', 2);
    b.items.push('offline b');
    assert.deepEqual(snapshot(a).items, ['before', 'offline 1', 'offline 2']);
    assert.equal(status(a).pending, 2);
    await delay(100); // a reconnect attempt or two fail meanwhile

    srv = await startServer(app, { storage }, { port });
    await until(() => clients.every((c) => c.state === 'online'), 'the clients to reconnect', 4000);
    await converged(todo, [a, b]);
    const items = snapshot(todo).items;
    assert.deepEqual(items.filter((x) => x === 'offline 1').length, 1);
    assert.deepEqual(items.filter((x) => x === 'offline 2').length, 1);
    assert.deepEqual(items.filter((x) => x === 'offline b').length, 1);
    assert.equal(items.length, 4);
    assert.equal(snapshot(todo).n, 2);
    // Reconnecting once more re-sends nothing.
    const v = status(todo).v;
    clients[0]!.connect();
    await until(() => clients[0]!.state === 'online', 'a second reconnect');
    await delay(QUIET_MS);
    assert.equal(status(todo).v, v);
    await converged(todo, [a, b]);
  });
});
