// SPDX-License-Identifier: MIT
/**
 * @module hub-stores.test
 * The life of the hub's stores (`hub.ts`), as server code, storage and clients see it: where a
 * store is kept in storage and when its first snapshot is written, which family members may be
 * created, which stores are served, which are unloaded when idle, the catch-up log's bounds per
 * store and for the whole hub, the hub as the runtime of server code, and what a closed hub lets go.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineApp, ErrorCode, settled } from '../src/index.js';
import { createMemoryStorage } from './index.js';
import { Hub } from './hub.js';
import { failingStorage } from '../test/helpers/failing-storage.js';
import { logger, serve, subscribed } from '../test/helpers/hub-kit.js';
import { delay, newClientId, until } from '../test/helpers/server.js';

/** How long to watch for something that must not happen. */
const QUIET_MS = 100;


describe('loading stores', () => {
  it('keeps a store without a persist option under its own name in storage', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const storage = createMemoryStorage();
    await serve(t, app, { storage });
    doc.n = 3;
    await settled(doc);
    assert.deepEqual((await storage.load('doc'))?.value, { n: 3 });
  });

  it('does not write the snapshot of a store storage holds already before its first batch', async (t) => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const inner = createMemoryStorage();
    await inner.compact('doc', { n: 5 }, 0, '{"n":5}');
    let compacts = 0;
    const storage = new Proxy(inner, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key === 'compact') compacts++;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await serve(t, app, { storage });
    doc.n = 6;
    await settled(doc);
    assert.equal(compacts, 0);
    const stored = await inner.load('doc');
    assert.deepEqual([stored?.value, stored?.v], [{ n: 6 }, 1]);
  });

  it('asks mayCreate only before creating a family member: never for a plain store or a stored member', async () => {
    const app = defineApp();
    app.shared('doc', () => ({ n: 0 }));
    app.shared('room', (id: string) => ({ id }), { family: true });
    const storage = createMemoryStorage();
    await storage.compact('room/old', { id: 'old' }, 0, '{"id":"old"}');
    const hub = new Hub(app, { storage });
    try {
      const never = { mayCreate: () => false };
      assert.ok(await hub.load('doc', never));
      assert.ok(await hub.load('room/old', never));
      await assert.rejects(hub.load('room/new', never), { code: ErrorCode.RATE, message: 'You are creating stores too fast; "room/new" was not created.' });
      assert.ok(await hub.load('room/new', { mayCreate: () => true }));
    } finally {
      await hub.close();
    }
  });

  it('serves no local store to a client, and tells server code to load a member it reads before loading', async (t) => {
    const app = defineApp();
    app.local('prefs', () => ({ theme: 'dark' }));
    const room$ = app.shared('room', (id: string) => ({ id }), { family: true });
    const srv = await serve(t, app);
    const raw = await srv.raw();
    await raw.hello(newClientId(), { prefs: 0 });
    const error = await raw.next((m) => m.t === 'error');
    assert.deepEqual([error.code, error.store], [ErrorCode.STORE, 'prefs']);
    assert.throws(() => room$('later').id, { code: ErrorCode.STORE, message: 'Store "room/later" is not loaded yet: await server.ready (or hub.load("room/later")) before using it outside an action.' });
  });

  it('refuses client writes to a store open to actions only, saying so', async (t) => {
    const app = defineApp();
    app.shared('board', () => ({ posts: [] as string[] }), { clientWrites: false });
    const srv = await serve(t, app);
    const raw = await subscribed(srv, { board: 0 });
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'board', ops: [{ op: 'set', path: ['posts'], value: [] }] });
    const refused = await raw.next((m) => m.t === 'reject');
    assert.equal(refused.message, 'Store "board" takes writes only through its actions.');
  });
});

describe('idle stores', () => {
  it('unloads only family members nobody used or wrote in memory alone; the others stay with their state', async () => {
    const app = defineApp();
    app.shared('doc', () => ({ n: 0 }));
    const room$ = app.shared('room', (id: string) => ({ id, n: 0 }), { family: true });
    const scratch$ = app.shared('scratch', (id: string) => ({ id, n: 0 }), { family: true, persist: false });
    const hub = new Hub(app, { storage: createMemoryStorage(), idleMs: 50 });
    try {
      const doc = (await hub.load('doc'))!;
      const unused = (await hub.load('room/unused'))!;
      const busy = (await hub.load('room/busy'))!;
      const written = (await hub.load('scratch/written'))!;
      const untouched = (await hub.load('scratch/untouched'))!;
      scratch$('written').n = 42;
      await settled(scratch$('written'));
      const fetched = (await hub.load('room/fetched'))!;
      // Server code keeps using one member all along, and something keeps loading another.
      const keepBusy = setInterval(() => {
        void room$('busy').n;
        void hub.load('room/fetched');
      }, 10);
      try {
        await until(() => !has(hub, unused) && !has(hub, untouched), 'the unused members to be unloaded', 3000);
      } finally {
        clearInterval(keepBusy);
      }
      assert.ok(has(hub, doc), 'a store that is not a family member stays');
      assert.ok(has(hub, busy), 'a member in use stays');
      assert.ok(has(hub, fetched), 'a member loaded again and again stays');
      assert.ok(has(hub, written), 'a member written in memory alone stays (it would lose its state)');
      assert.deepEqual((await hub.load('scratch/written'))!.replica.confirmed, { id: 'written', n: 42 });
    } finally {
      await hub.close();
    }
  });
});

describe('the catch-up log of the whole hub', () => {
  it('is bounded by hubLogBytes across stores: each store\'s log is cut, and a client behind it gets a snapshot', async () => {
    const app = defineApp();
    const a = app.shared('a', () => ({ text: '' }));
    const b = app.shared('b', () => ({ text: '' }));
    const big = 'x'.repeat(50_000);
    const hub = new Hub(app, { storage: createMemoryStorage(), hubLogBytes: 1 << 20 });
    try {
      const stores = [(await hub.load('a'))!, (await hub.load('b'))!];
      for (let i = 0; i < 20; i++) {
        a.text = `${i}${big}`;
        b.text = `${i}${big}`;
        await Promise.all([settled(a), settled(b)]);
      }
      const held = stores.reduce((sum, store) => sum + store.logBytes, 0);
      assert.ok(held <= 1 << 20, `${held} bytes of log in all`);
      assert.ok(stores.every((store) => store.since(1) === undefined), 'a client far behind gets a snapshot');
      assert.ok(stores.every((store) => store.since(19)?.length === 1), 'one just behind gets the batch');
    } finally {
      await hub.close();
    }
  });

  it('keeps 1,000 batches per store by default (cut back to them once it holds twice as many)', async () => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    const hub = new Hub(app, { storage: createMemoryStorage() });
    try {
      const store = (await hub.load('doc'))!;
      for (let i = 1; i <= 2000; i++) {
        doc.n = i; // a batch each
        await settled(doc);
      }
      assert.equal(store.v, 2000);
      assert.equal(store.since(999), undefined, 'a client 1,001 behind gets a snapshot');
      assert.equal(store.since(1000)?.length, 1000, 'one 1,000 behind gets the batches');
    } finally {
      await hub.close();
    }
  });
});

describe('Hub.close()', () => {
  it('stops hearing other nodes, unbinds the app and drops its listeners; a second close is harmless', async () => {
    const storage = createMemoryStorage();
    const define = () => {
      const app = defineApp();
      return { app, doc: app.shared('doc', () => ({ n: 0 })) };
    };
    const a = define();
    const b = define();
    const hubA = new Hub(a.app, { storage });
    const hubB = new Hub(b.app, { storage });
    try {
      const storeA = (await hubA.load('doc'))!;
      await hubB.load('doc');
      b.doc.n = 1;
      await settled(b.doc);
      await until(() => storeA.v === 1, 'node A to hear node B');
      hubA.on('commit', () => undefined);
      await hubA.close();
      assert.equal(hubA.listenerCount('commit'), 0, 'its listeners are dropped');
      b.doc.n = 2;
      await settled(b.doc);
      await delay(QUIET_MS);
      assert.equal(storeA.v, 1, 'a closed hub no longer follows storage');
      // The app is free again: a new hub may serve it (while bound, that throws).
      const hubC = new Hub(a.app, { storage });
      await hubA.close(); // again: it must not unbind the app from the hub that serves it now
      assert.throws(() => new Hub(a.app, { storage }), /already served by another hub/);
      await hubC.close();
    } finally {
      await hubA.close();
      await hubB.close();
    }
  });

  it('stops asking storage about an append whose outcome it could not hear once closed, so closing is prompt', async (t) => {
    const app = defineApp();
    app.shared('doc', () => ({ n: 0 }));
    const disk = failingStorage(createMemoryStorage());
    let asked = 0;
    // Storage is gone: appends fail, and so does asking whether the client's batch was stored.
    const storage = new Proxy(disk.storage, {
      get(target, key) {
        if (key === 'client') {
          return () => {
            asked++;
            return Promise.reject(new Error('ECONNREFUSED (injected by the test)'));
          };
        }
        return Reflect.get(target, key) as unknown;
      },
    });
    const { log } = logger();
    const srv = await serve(t, app, { storage, logger: log });
    const raw = await subscribed(srv, { doc: 0 });
    disk.failing = true;
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'doc', ops: [{ op: 'set', path: ['n'], value: 1 }] });
    await until(() => asked >= 3, 'the hub to keep asking storage');
    const started = Date.now();
    await srv.server.hub.close();
    const ms = Date.now() - started;
    assert.ok(ms < 2500, `closed in ${ms} ms (it would ask for 10 s)`);
  });
});

describe('the hub as the runtime of server code', () => {
  it('calls an action by name, and refuses an unknown action or store by name, naming it', async () => {
    const app = defineApp();
    const doc = app.shared('doc', () => ({ n: 0 }));
    app.action('bump', (by: number) => {
      doc.n += by;
      return doc.n;
    });
    const hub = new Hub(app, { storage: createMemoryStorage() });
    try {
      assert.equal(await hub.call('bump', [2]), 2);
      await assert.rejects(hub.call('nope', []), { code: ErrorCode.ACTION, message: 'There is no action "nope".' });
      assert.throws(() => hub.replica('nope'), { code: ErrorCode.STORE, message: 'There is no store "nope".' });
    } finally {
      await hub.close();
    }
  });
});

/** Whether `hub` holds `store` in memory now. */
function has(hub: Hub, store: object): boolean {
  return [...hub.loaded()].includes(store as never);
}

