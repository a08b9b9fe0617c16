// SPDX-License-Identifier: MIT
/**
 * @module hub-isolation.test
 * Stores do not wait for each other; actions lock what they touch without deadlock and see
 * the state they write; the app decides which family members exist; memory is bounded (idle
 * members unloaded, the catch-up log bounded by bytes); stores can be closed to client ops.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp, ErrorCode, settled, snapshot } from '../src/index.js';
import type { StandardSchemaV1 } from '../src/standard-schema.js';
import { Hub } from './hub.js';
import { createMemoryStorage } from './index.js';
import { failingStorage } from '../test/helpers/failing-storage.js';
import { newClientId, startServer, until } from '../test/helpers/server.js';
import type { RawClient, TestServer } from '../test/helpers/server.js';

/** A schema whose checks of store `x` wait until the test lets them go. */
function heldSchema(): { schema: StandardSchemaV1; release: () => void; checking: () => number } {
  let waiting: (() => void)[] = [];
  let held = true;
  let checks = 0;
  const schema: StandardSchemaV1 = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) => {
        checks++;
        if (!held) return { value };
        return new Promise((resolve) => waiting.push(() => resolve({ value })));
      },
    },
  };
  return {
    schema,
    release: () => {
      held = false;
      for (const go of waiting) go();
      waiting = [];
    },
    checking: () => checks,
  };
}

async function serve(t: TestContext, app: ReturnType<typeof defineApp>, options = {}): Promise<TestServer> {
  const srv = await startServer(app, options);
  t.after(() => srv.close());
  return srv;
}

async function subscriber(srv: TestServer, subs: Record<string, number>): Promise<RawClient> {
  const raw = await srv.raw();
  await raw.hello(newClientId(), subs);
  return raw;
}

function op(raw: RawClient, seq: number, store: string, value: unknown) {
  return { t: 'op', id: `${raw.clientId}:${seq}`, store, ops: [{ op: 'set', path: ['v'], value }] };
}

describe('per-store ordering', () => {
  it('a write to store y is committed while a slow check of store x is still running', async (t) => {
    const held = heldSchema();
    const app = defineApp();
    const x = app.shared('x', () => ({ v: 0 }), { schema: held.schema as never });
    const y = app.shared('y', () => ({ v: 0 }));
    const srv = await serve(t, app);
    const raw = await subscriber(srv, { x: 0, y: 0 });
    const writer = await subscriber(srv, { y: 0 });
    raw.send(op(raw, 1, 'x', 1));
    await until(() => held.checking() === 1, 'the check of x to start');
    // Another client's write to y does not wait for x.
    writer.send(op(writer, 1, 'y', 1));
    await writer.next((m) => m.t === 'sync' && m.id === `${writer.clientId}:1`);
    assert.equal(snapshot(y).v, 1);
    assert.equal(snapshot(x).v, 0, 'x is still being checked');
    held.release();
    await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:1`);
    assert.equal(snapshot(x).v, 1);
  });
});

describe('actions', () => {
  it('read-then-set calls all count: each runs holding its store, 200 at once', async (t) => {
    const app = defineApp();
    const counter = app.shared('counter', () => ({ n: 0 }));
    const bump = app.action('bump', async () => {
      const n = counter.n;
      await Promise.resolve(); // an await between the read and the write
      counter.n = n + 1;
    });
    const srv = await serve(t, app);
    const clients = [srv.client(), srv.client()];
    await Promise.all(Array.from({ length: 200 }, (_, i) => clients[i % 2]!.call('bump', [])));
    assert.equal(snapshot(counter).n, 200);
    void bump;
  });

  it('two actions taking two stores in opposite orders never wait for each other for good', async (t) => {
    const app = defineApp();
    const a = app.shared('a', () => ({ n: 0 }));
    const b = app.shared('b', () => ({ n: 0 }));
    app.action('ab', async () => {
      a.n += 1;
      await Promise.resolve();
      b.n += 1;
    });
    app.action('ba', async () => {
      b.n += 1;
      await Promise.resolve();
      a.n += 1;
    });
    const srv = await serve(t, app);
    const client = srv.client();
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.call(i % 2 ? 'ab' : 'ba', [])));
    assert.deepEqual([snapshot(a).n, snapshot(b).n], [50, 50]);
  });

  it('run optimistically only when declared: a function returning a promise, undeclared, runs once, on the server', async (t) => {
    const app = defineApp();
    const tags = app.shared('tags', () => ({ list: [] as string[] }));
    // A plain function that returns a promise (not an `async function`): sniffing its type would miss it.
    const addTag = (tag: string) => Promise.resolve().then(() => {
      tags.list.push(tag);
    });
    app.action('add_tag', addTag);
    const srv = await serve(t, app);
    const client = srv.client();
    const page = client.store<{ list: string[] }>('tags');
    await until(() => page.list, 'the snapshot');
    // What a built app's page runs: the same definition, the page's store in place of the server's.
    const pageRun = (tag: string) => Promise.resolve().then(() => {
      page.list.push(tag);
    });
    const call = (run: unknown, options: object) => (client as unknown as { call(def: unknown, args: unknown[]): Promise<unknown> })
      .call({ app, name: 'add_tag', run, options }, ['x']);
    await call(pageRun, {});
    await settled(page);
    assert.deepEqual(snapshot(tags).list, ['x'], 'the server ran it once; the page did not run it');
    assert.deepEqual([...page.list], ['x']);

    // Declared optimistic and synchronous: it shows at once, and still happens once.
    const shown: string[][] = [];
    const syncRun = (tag: string) => {
      page.list.push(tag);
    };
    const done = call(syncRun, { optimistic: true });
    shown.push([...page.list]);
    await done;
    await settled(page);
    assert.deepEqual(shown, [['x', 'x']], 'the optimistic write showed before the server answered');
    assert.deepEqual(snapshot(tags).list, ['x', 'x']);
    assert.deepEqual([...page.list], ['x', 'x']);

    // Declared optimistic by mistake on a promise-returning function: the page says so.
    const warnings: unknown[][] = [];
    t.mock.method(console, 'warn', (...args: unknown[]) => warnings.push(args));
    await call(() => Promise.resolve(), { optimistic: true });
    assert.ok(warnings.some((w) => String(w[0]).includes('returned a promise')), 'a warning says why it did not run optimistically');
  });
});

describe('family members', () => {
  it('exist only when the app says so; refused ids create nothing, in memory or in storage', async (t) => {
    const app = defineApp();
    app.shared('room', (id: string) => ({ name: id }), { family: true, exists: (id) => id.startsWith('ok-') });
    const storage = createMemoryStorage();
    const srv = await serve(t, app, { storage });
    const raw = await subscriber(srv, { 'room/ok-1': 0, 'room/evil': 0 });
    await until(() => raw.messages.some((m) => m.t === 'error') && raw.messages.some((m) => m.t === 'snapshot'), 'both answers');
    const error = raw.messages.find((m) => m.t === 'error')!;
    assert.equal(error.code, ErrorCode.STORE);
    assert.equal(error.store, 'room/evil');
    assert.equal(raw.messages.find((m) => m.t === 'snapshot')!.store, 'room/ok-1');
    assert.ok(![...srv.server.hub.loaded()].some((s) => s.name === 'room/evil'));
    assert.equal(await storage.load('room/evil'), undefined);
    // Reading a member writes nothing either: it reaches storage with its first commit.
    assert.equal(await storage.load('room/ok-1'), undefined);
  });

  it('are created at a bounded rate per connection: a hello naming 200 new ones gets most refused, coded', async (t) => {
    const app = defineApp();
    app.shared('room', (id: string) => ({ name: id }), { family: true });
    const srv = await serve(t, app);
    const subs = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`room/r${i}`, 0]));
    const raw = await subscriber(srv, subs);
    await until(() => raw.messages.filter((m) => m.t === 'snapshot' || m.t === 'error').length === 200, 'an answer per store');
    const created = raw.messages.filter((m) => m.t === 'snapshot').length;
    const refused = raw.messages.filter((m) => m.t === 'error');
    assert.ok(created >= 40 && created <= 60, `${created} created in a burst (createRate 5/s, burst 50)`);
    assert.ok(refused.every((m) => m.code === ErrorCode.RATE && typeof m.store === 'string'));
    assert.equal([...srv.server.hub.loaded()].filter((s) => s.name.startsWith('room/')).length, created);
  });

  it('nobody uses are unloaded, and come back from storage with their version', async () => {
    const app = defineApp();
    const room$ = app.shared('room', (id: string) => ({ name: id, n: 0 }), { family: true });
    const inc = app.action('inc', () => {
      room$('a').n += 1;
    });
    const storage = createMemoryStorage();
    const hub = new Hub(app, { storage, idleMs: 50 });
    try {
      await inc();
      await inc();
      const room = (await hub.load('room/a'))!;
      assert.equal(room.v, 2);
      await until(() => ![...hub.loaded()].includes(room), 'the idle member to be unloaded', 3000);
      const back = (await hub.load('room/a'))!;
      assert.notEqual(back, room);
      assert.equal(back.v, 2);
      assert.deepEqual(back.replica.confirmed, { name: 'a', n: 2 });
    } finally {
      await hub.close();
    }
  });
});

describe('the catch-up log', () => {
  it('is bounded by bytes: large batches keep fewer, and a client behind it gets a snapshot', async () => {
    const app = defineApp();
    const doc$ = app.shared('doc', () => ({ text: '' }));
    const big = 'x'.repeat(100_000);
    const write = app.action('write', (i: number) => {
      doc$.text = `${i}${big}`;
    });
    const hub = new Hub(app, { storage: createMemoryStorage(), logBytes: 1 << 20 });
    try {
      const doc = (await hub.load('doc'))!;
      for (let i = 0; i < 50; i++) await write(i);
      assert.equal(doc.v, 50);
      assert.ok(doc.logBytes <= 1 << 20, `${doc.logBytes} bytes of log`);
      assert.ok(doc.log.length < 20, `${doc.log.length} batches kept`);
      assert.equal(doc.since(1), undefined, 'a client at version 1 gets a snapshot');
      assert.ok(doc.since(49)?.length === 1, 'a client one behind gets the batch');
    } finally {
      await hub.close();
    }
  });
});

describe('clientWrites: false', () => {
  it('refuses client ops with TWIN_ERR_ACTIONS_ONLY; actions and server code still write', async (t) => {
    const app = defineApp();
    const board = app.shared('board', () => ({ posts: [] as string[] }), { clientWrites: false });
    app.action('post', (text: string) => {
      board.posts.push(text);
    });
    const srv = await serve(t, app);
    const raw = await subscriber(srv, { board: 0 });
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'board', ops: [{ op: 'set', path: ['posts'], value: [] }] });
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.ACTIONS_ONLY);
    assert.equal(reject.retry, undefined, 'final');
    raw.send({ t: 'call', id: `${raw.clientId}:2`, action: 'post', args: ['hello'] });
    await raw.next((m) => m.t === 'result');
    board.posts.push('from the server');
    await until(() => snapshot(board).posts.length === 2, 'the server write');
    assert.deepEqual(snapshot(board).posts, ['hello', 'from the server']);
  });
});

describe("server.on('error')", () => {
  it('hears a refused write by server code and a storage failure; the operator log has each once', async (t) => {
    const app = defineApp();
    const score = app.shared('score', () => ({ n: 0 }), { schema: nonNegative() as never });
    const failing = failingStorage(createMemoryStorage());
    const logged: unknown[][] = [];
    const srv = await serve(t, app, { storage: failing.storage, logger: { warn: (...a: unknown[]) => logged.push(a), error: (...a: unknown[]) => logged.push(a) } });
    const errors: unknown[] = [];
    srv.server.on('error', (err) => errors.push(err));

    score.n = -1; // server code breaks the schema
    await until(() => errors.length === 1, 'the refused server write');
    assert.equal((errors[0] as { code?: string }).code, ErrorCode.SCHEMA);

    failing.failing = true;
    score.n = 5;
    await until(() => errors.length === 2, 'the storage failure');
    assert.match(String((errors[1] as Error).message), /SQLITE_IOERR/);
    assert.equal(snapshot(score).n, 0, 'nothing was written');
    assert.ok(logged.some((line) => /server code/.test(String(line[0]))) && logged.some((line) => /Storage failed/.test(String(line[0]))), 'both are in the operator log');
  });
});

/** A schema refusing a negative `n`. */
function nonNegative(): StandardSchemaV1 {
  return {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) => ((value as { n: number }).n < 0 ? { issues: [{ message: 'n must not be negative', path: ['n'] }] } : { value }),
    },
  };
}
