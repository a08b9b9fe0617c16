// SPDX-License-Identifier: MIT
/**
 * @module hub-edges.test
 * What the hub (`hub.ts`) promises about writes and calls, seen by clients over real sockets and
 * by server code: the status of a store on the server, local stores there, the caller of an
 * action, actions holding their stores, the outcome of a batch or call that never changes once
 * decided (a re-send gets it again, even when the hooks would now answer otherwise), hooks that
 * throw, and a refusal storage cannot record. Its stores' life (loading, idling, logs, closing)
 * is in hub-stores.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { caller, defineApp, ErrorCode, settled, snapshot, status } from '../src/index.js';
import { createMemoryStorage } from './index.js';
import type { StorageAdapter } from './index.js';
import { failingStorage } from '../test/helpers/failing-storage.js';
import { logger, nonNegative, serve, subscribed } from '../test/helpers/hub-kit.js';
import { delay, newClientId, until } from '../test/helpers/server.js';

/** How long to watch for something that must not happen. */
const QUIET_MS = 100;


describe('status() of a store on the server', () => {
  it('says online, its version and pending writes, and the last refusal of a write by server code', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }), { schema: nonNegative as never });
    const disk = failingStorage(createMemoryStorage());
    const { logged, log } = logger();
    t.after(() => void (disk.holding = false)); // should the test fail while storage holds the write
    await serve(t, app, { storage: disk.storage, logger: log });
    assert.deepEqual(status(doc), { connection: 'online', v: 0, pending: 0, error: undefined });

    disk.holding = true;
    doc.n = 1;
    await until(() => disk.atTheDoor === 1, 'the write at storage');
    assert.deepEqual(status(doc), { connection: 'online', v: 0, pending: 1, error: undefined }, 'pending until stored');
    disk.holding = false;
    await settled(doc);
    assert.deepEqual(status(doc), { connection: 'online', v: 1, pending: 0, error: undefined });

    // No 'error' listener: the refusal is logged and kept in status, nothing throws.
    doc.n = -1;
    await assert.rejects(settled(doc), { code: ErrorCode.SCHEMA });
    assert.deepEqual(status(doc).error, { code: ErrorCode.SCHEMA, message: status(doc).error?.message });
    assert.match(String(status(doc).error?.message), /negative/);
    assert.deepEqual(snapshot(doc), { n: 1 }, 'taken back');
    assert.ok(logged.some(([line]) => String(line).endsWith(`A write by server code to doc was refused: ${status(doc).error?.message}`)), 'the operator hears of it');
  });

  it('does not report a write by server code refused for storage trouble twice to server.on(\'error\')', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const disk = failingStorage(createMemoryStorage());
    const { log } = logger();
    const srv = await serve(t, app, { storage: disk.storage, logger: log });
    const errors: unknown[] = [];
    srv.server.on('error', (err) => errors.push(err));
    disk.failing = true;
    doc.n = 1;
    await assert.rejects(settled(doc), { code: ErrorCode.UNAVAILABLE });
    assert.equal(status(doc).error?.code, ErrorCode.UNAVAILABLE);
    await delay(QUIET_MS);
    assert.equal(errors.length, 1, 'heard once, where it happened (with the storage error)');
    assert.match(String((errors[0] as Error).message), /SQLITE_IOERR/);
  });

  it('says local for a local store, which holds its initial value and refuses writes by server code', async (t) => {
    const app = defineApp();
    const prefs = app.local('prefs', () => ({ theme: 'dark' }));
    await serve(t, app);
    assert.equal(status(prefs).connection, 'local');
    assert.deepEqual(snapshot(prefs), { theme: 'dark' });
    assert.throws(() => {
      prefs.theme = 'light';
    }, /Local store "prefs" lives in each browser tab; the server cannot write it\./);
    assert.deepEqual(snapshot(prefs), { theme: 'dark' });
  });
});

describe('caller() in an action', () => {
  it('is the user the auth hook returned for the call, and undefined for server code', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ by: [] as string[] }));
    const sign = app.action('sign', () => {
      const user = caller<string>(app) ?? '(server)';
      doc.by.push(user);
      return user;
    });
    const srv = await serve(t, app, { auth: ({ url }) => url.searchParams.get('user') ?? 'anonymous' });
    const raw = await subscribed(srv, { doc: 0 }, { query: 'user=alice' });
    raw.send({ t: 'call', id: `${raw.clientId}:1`, action: 'sign', args: [] });
    assert.deepEqual(await raw.next((m) => m.t === 'result'), { t: 'result', id: `${raw.clientId}:1`, value: 'alice' });
    assert.equal(await sign(), '(server)');
    assert.equal(caller(app), undefined, 'outside an action');
    assert.deepEqual(snapshot(doc).by, ['alice', '(server)']);
  });
});

describe('actions on the hub', () => {
  it('commit two writes of one action to one store as one batch', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0, log: [] as string[] }));
    app.action('twice', () => {
      doc.n = 1;
      doc.log.push('a');
    });
    const srv = await serve(t, app);
    const raw = await subscribed(srv, { doc: 0 });
    raw.send({ t: 'call', id: `${raw.clientId}:1`, action: 'twice', args: [] });
    const sync = await raw.next((m) => m.t === 'sync');
    assert.deepEqual(sync.ops, [{ op: 'set', path: ['n'], value: 1 }, { op: 'push', path: ['log'], values: ['a'] }]);
    assert.deepEqual(snapshot(doc), { n: 1, log: ['a'] });
  });

  it('hold their store across an await: ten read-then-set calls at once all count', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const inc = app.action('inc', async () => {
      const n = doc.n;
      await delay(2);
      doc.n = n + 1;
    });
    await serve(t, app);
    await Promise.all(Array.from({ length: 10 }, () => inc()));
    assert.equal(snapshot(doc).n, 10);
  });

  it('called by server code run every time: neither a result nor a refusal is kept for server code', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const bump = app.action('bump', () => {
      doc.n += 1;
      return doc.n;
    });
    let fails = 0;
    const boom = app.action('boom', () => {
      fails++;
      throw new Error('nope');
    });
    await serve(t, app);
    assert.equal(await bump(), 1);
    assert.equal(await bump(), 2);
    await assert.rejects(boom(), { code: ErrorCode.ACTION_FAILED });
    await assert.rejects(boom(), { code: ErrorCode.ACTION_FAILED });
    assert.equal(fails, 2);
  });
});

describe('a decided outcome never changes', () => {
  it('a call re-sent after it ran is answered without running again; one that failed gets its refusal again', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    let runs = 0;
    app.action('bump', () => {
      runs++;
      doc.n += 1;
      return doc.n;
    });
    let fails = 0;
    app.action('boom', () => {
      fails++;
      throw new Error('secret internals');
    });
    const srv = await serve(t, app);
    const id = newClientId();
    const first = await subscribed(srv, { doc: 0 }, { id });
    first.send({ t: 'call', id: `${id}:1`, action: 'bump', args: [] });
    assert.deepEqual(await first.next((m) => m.t === 'result'), { t: 'result', id: `${id}:1`, value: 1 });
    first.send({ t: 'call', id: `${id}:2`, action: 'boom', args: [] });
    const refused = await first.next((m) => m.t === 'reject');
    assert.equal(refused.code, ErrorCode.ACTION_FAILED);
    await first.close();
    const ran = { runs, fails }; // an action runs twice the first time: it learns which stores it takes

    // The same client again, as after a reconnect: it sends both once more.
    const again = await srv.raw();
    await again.hello(id, { doc: 1 }); // current: nothing to catch up
    again.send({ t: 'call', id: `${id}:1`, action: 'bump', args: [] });
    assert.deepEqual(await again.next((m) => m.t === 'result'), { t: 'result', id: `${id}:1`, value: null });
    again.send({ t: 'call', id: `${id}:2`, action: 'boom', args: [] });
    const repeated = await again.next((m) => m.t === 'reject');
    assert.deepEqual({ code: repeated.code, message: repeated.message }, { code: refused.code, message: refused.message });
    assert.deepEqual({ runs, fails }, ran, 'neither call ran again');
    assert.equal(snapshot(doc).n, 1);
  });

  it('a batch refused by authorize is refused again when re-sent, though authorize would now let it through', async (t) => {
    const app = defineApp();
    let open = false;
    const seen: unknown[] = [];
    const doc = app.shared('doc', () => ({ n: 0 }), {
      authorize: (request) => {
        seen.push(request);
        return open;
      },
    });
    const srv = await serve(t, app, { auth: () => 'bob' });
    const raw = await subscribed(srv, { doc: 0 });
    const ops = [{ op: 'set', path: ['n'], value: 5 }];
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops });
    const refused = await raw.next((m) => m.t === 'reject');
    assert.equal(refused.code, ErrorCode.FORBIDDEN);
    assert.equal(refused.retry, undefined, 'final');
    assert.deepEqual(seen, [{ user: 'bob', store: 'doc', ops }], 'authorize sees who writes what where');
    open = true;
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops });
    const repeated = await raw.next((m) => m.t === 'reject');
    assert.equal(repeated.code, ErrorCode.FORBIDDEN);
    assert.equal(seen.length, 1, 'decided from the record, not asked again');
    raw.send({ t: 'op', id: `${raw.clientId}:2`, store: 'doc', ops });
    await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:2`);
    assert.equal(snapshot(doc).n, 5);
  });

  it('a batch refused for now (storage trouble) is not recorded: sent again, it lands', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const disk = failingStorage(createMemoryStorage());
    const { log } = logger();
    const srv = await serve(t, app, { storage: disk.storage, logger: log });
    const raw = await subscribed(srv, { doc: 0 });
    disk.failing = true;
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: 7 }] });
    const refused = await raw.next((m) => m.t === 'reject');
    assert.equal(refused.code, ErrorCode.UNAVAILABLE);
    disk.failing = false;
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: 7 }] });
    const sync = await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:1`);
    assert.equal(sync.v, 1);
    assert.equal(snapshot(doc).n, 7);
  });

  it('a refusal storage cannot record is still answered, and the operator is told a re-send may be tried again', async (t) => {
    const app = defineApp();
    app.shared('doc', () => ({ n: 0 }), { schema: nonNegative as never });
    const storage = withFailingRefuse(createMemoryStorage());
    const { logged, log } = logger();
    const srv = await serve(t, app, { storage, logger: log });
    const raw = await subscribed(srv, { doc: 0 });
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: -1 }] });
    const refused = await raw.next((m) => m.t === 'reject');
    assert.equal(refused.code, ErrorCode.SCHEMA);
    await until(() => logged.some(([line]) => /Could not record the refusal of a batch of client/.test(String(line))), 'the operator to be told');
    const line = logged.find(([l]) => /Could not record the refusal/.test(String(l)))!;
    assert.equal(String(line[0]).replace(/^\[twin-state\] /, ''), `Could not record the refusal of a batch of client ${raw.clientId}; a re-send of it may be tried again.`);
  });
});

describe('hooks that throw', () => {
  it('an authorize hook that throws refuses the batch as the server\'s fault, its words not shown', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }), {
      authorize: () => {
        throw new Error('secret: the database password is hunter2');
      },
    });
    const srv = await serve(t, app);
    const raw = await subscribed(srv, { doc: 0 });
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: 1 }] });
    const refused = await raw.next((m) => m.t === 'reject');
    assert.equal(refused.code, ErrorCode.INTERNAL);
    assert.equal(refused.retry, undefined, 'final');
    assert.ok(!raw.frames.some((f) => f.includes('hunter2')), 'the hook\'s words stay on the server');
    assert.equal(snapshot(doc).n, 0);
  });

  it('the exists hook of a family is asked with the id and the user, and refuses a member to that user only', async (t) => {
    const app = defineApp();
    const asked: unknown[] = [];
    app.shared('room', (id: string) => ({ id }), {
      family: true,
      exists: (id, { user }) => {
        asked.push([id, user]);
        return user === 'alice';
      },
    });
    const srv = await serve(t, app, { auth: ({ url }) => url.searchParams.get('user') ?? 'anonymous' });
    const bob = await subscribed(srv, { 'room/x': 0 }, { query: 'user=bob' });
    assert.ok(bob.messages.some((m) => m.t === 'error' && m.store === 'room/x' && m.code === ErrorCode.STORE), 'bob is told there is no such store');
    const alice = await subscribed(srv, { 'room/x': 0 }, { query: 'user=alice' });
    assert.ok(alice.messages.some((m) => m.t === 'snapshot' && m.store === 'room/x'));
    assert.deepEqual(asked, [['x', 'bob'], ['x', 'alice']]);
  });
});

/** `storage` whose `refuse` (recording a client's refused batch) always fails. */
function withFailingRefuse(storage: StorageAdapter): StorageAdapter {
  return new Proxy(storage, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (key === 'refuse') return () => Promise.reject(new Error('ECONNRESET: refuse failed (injected by the test)'));
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
