// SPDX-License-Identifier: MIT
/**
 * undo() and redo() against a real server with real WebSocket clients: each op kind undone and
 * redone; an undo refused — by the server, and here at once — when another client changed a
 * path it touched (the other's value kept, a coded error); the `test` op refusing a batch all
 * or nothing, and a malformed one refused; the bounded history; bad input; and a write of this
 * page not yet confirmed (in flight, queued offline, or this turn's) undone and redone at once.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { canRedo, canUndo, defineApp, ErrorCode, increment, redo, settled, snapshot, status, undo } from './index.js';
import type { Client, Json, RejectDetail } from './index.js';
import { MAX_BYTES, MAX_ENTRIES } from './undo.js';
import { newClientId, startServer, until } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';

interface Doc { title: string; n: number; list: string[]; meta: Record<string, Json> }

function makeApp() {
  const app = defineApp();
  const doc = app.shared('doc', (): Doc => ({ title: 'a', n: 0, list: ['x', 'y', 'z'], meta: { keep: 1 } }), {
    authorize: ({ ops }) => !ops.some((op) => op.path[1] === 'forbidden'),
  });
  app.action(function retitle(title: string) {
    doc.title = title;
  }, { optimistic: true });
  return { app, doc };
}

async function setup(t: TestContext, clients = 1): Promise<{ srv: TestServer; doc: object; stores: Doc[]; raw: Client[] }> {
  const { app, doc } = makeApp();
  const srv = await startServer(app);
  t.after(() => srv.close());
  const raw: Client[] = [];
  const stores: Doc[] = [];
  for (let i = 0; i < clients; i++) {
    const client = srv.client({ minDelay: 50, maxDelay: 200 });
    const store = client.store<Doc>('doc');
    Object.keys(store);
    raw.push(client);
    stores.push(store);
  }
  await synced(doc, stores);
  return { srv, doc, stores, raw };
}

/** Every client store equals the server's, nothing pending. */
async function synced(server: object, stores: object[]): Promise<void> {
  await until(() => stores.every((s) => status(s).connection === 'online' && status(s).pending === 0
    && status(s).v === status(server).v && isDeepStrictEqual(snapshot(s), snapshot(server))), 'the clients to be in sync');
}

/** Writes with `write` in one turn, waits for the confirmation; returns nothing. */
async function write(store: Doc, write: (s: Doc) => void): Promise<void> {
  write(store);
  await settled(store);
}

/** Lets the turn end, so its writes leave as a batch (the next click is another turn). */
function nextTurn(): Promise<void> {
  return Promise.resolve();
}

/** Undoes, checks the server's state, redoes, checks again. */
async function roundTrip(doc: object, store: Doc, before: Json, after: Json): Promise<void> {
  assert.deepEqual(snapshot(doc), after);
  assert.equal(canUndo(store), true);
  undo(store);
  assert.deepEqual(snapshot(store), before, 'the undo shows at once');
  await settled(store);
  assert.deepEqual(snapshot(doc), before, 'the server holds the state from before');
  assert.equal(canRedo(store), true);
  redo(store);
  await settled(store);
  assert.deepEqual(snapshot(doc), after, 'the redo makes the write again');
  assert.equal(canRedo(store), false);
}

describe('undo(store) and redo(store)', () => {
  it('undo and redo a set, a new key, a del, a push, a splice and an add', async (t) => {
    const { doc, stores: [s] } = await setup(t);
    const steps: [string, (d: Doc) => void][] = [
      ['set', (d) => { d.title = 'b'; }],
      ['set of a new key', (d) => { d.meta.added = { deep: [1] }; }],
      ['del', (d) => { delete d.meta.keep; }],
      ['push', (d) => { d.list.push('p', 'q'); }],
      ['splice', (d) => { d.list.splice(1, 1, 'm', 'n'); }],
      ['del of an array item', (d) => { d.list.splice(0, 1); }],
      ['add', (d) => { increment(d, 'n', 5); }],
      ['a batch of several', (d) => { d.title = 'c'; d.list.push('r'); d.meta.keep = 2; }],
    ];
    for (const [what, step] of steps) {
      const before = snapshot(doc) as Json;
      await write(s!, step);
      const after = snapshot(doc) as Json;
      assert.notDeepEqual(before, after, what);
      await t.test(what, () => roundTrip(doc, s!, before, after));
    }
    // Every step can be undone, newest first, back to the start.
    for (let i = 0; i < steps.length; i++) {
      undo(s!);
      await settled(s!);
    }
    assert.deepEqual(snapshot(doc), { title: 'a', n: 0, list: ['x', 'y', 'z'], meta: { keep: 1 } });
    assert.equal(canUndo(s!), false);
  });

  it('undoes a push while another client pushed after it, keeping the other items', async (t) => {
    const { doc, stores: [a, b] } = await setup(t, 2);
    await write(a!, (d) => void d.list.push('mine'));
    await write(b!, (d) => void d.list.push('theirs'));
    await synced(doc, [a!, b!]);
    undo(a!);
    await settled(a!);
    assert.deepEqual((snapshot(doc) as Doc).list, ['x', 'y', 'z', 'theirs']);
  });

  it('undoes an add while others added too: only this client\'s delta is taken back', async (t) => {
    const { doc, stores: [a, b] } = await setup(t, 2);
    await write(a!, (d) => increment(d, 'n', 3));
    await write(b!, (d) => increment(d, 'n', 10));
    await synced(doc, [a!, b!]);
    undo(a!);
    await settled(a!);
    assert.equal((snapshot(doc) as Doc).n, 10);
  });

  it('is refused by the server with TWIN_ERR_CHANGED when another client changed a touched path this one has not heard of', async (t) => {
    const { srv, doc, stores: [a, b], raw } = await setup(t, 2);
    await write(a!, (d) => { d.title = 'mine'; });
    await synced(doc, [a!, b!]);
    // Another client's write lands first; A has not heard of it when it undoes (its socket is cut).
    const rejects: RejectDetail[] = [];
    raw[0]!.addEventListener('reject', (e) => rejects.push((e as CustomEvent<RejectDetail>).detail));
    raw[0]!.close();
    await write(b!, (d) => { d.title = 'theirs'; });
    undo(a!); // queued offline: A sees its own value, so it cannot know
    assert.equal((snapshot(a!) as Doc).title, 'a');
    raw[0]!.connect(srv.url);
    await assert.rejects(settled(a!), { code: ErrorCode.CHANGED });
    assert.equal((snapshot(doc) as Doc).title, 'theirs', "the other's value is kept");
    await synced(doc, [a!, b!]);
    assert.equal((snapshot(a!) as Doc).title, 'theirs');
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0]!.code, ErrorCode.CHANGED);
    assert.match(rejects[0]!.message, /title/, 'the message names the path');
    assert.equal(canUndo(a!), false, 'the refused step is gone');
    assert.equal(canRedo(a!), false, 'a refused undo leaves nothing to redo');
  });

  it('is refused here at once when this client already sees the change, changing nothing', async (t) => {
    const { doc, stores: [a, b] } = await setup(t, 2);
    await write(a!, (d) => void d.list.push('mine'));
    await write(b!, (d) => void d.list.splice(0, 1));
    await synced(doc, [a!, b!]);
    const v = status(doc).v;
    // The turn's batch, open, holds a write and its undo when the next undo is refused: it stays.
    a!.meta.same = 'turn';
    undo(a!);
    assert.equal(a!.meta.same, undefined, "the newest write, this turn's, is undone first");
    assert.throws(() => undo(a!), { code: ErrorCode.CHANGED });
    assert.equal(status(a!).error?.code, ErrorCode.CHANGED, 'shown as the store\'s error (<twin-error store>)');
    assert.equal(status(a!).pending, 1, 'only the turn\'s batch is sent');
    await settled(a!);
    assert.deepEqual((snapshot(doc) as Doc).list, ['y', 'z', 'mine']);
    assert.deepEqual((snapshot(doc) as Doc).meta, { keep: 1 });
    assert.equal(status(doc).v, v + 1, 'the turn\'s batch was committed');
    assert.equal(canUndo(a!), false, 'the refused step is gone');
  });

  it('redo is refused too when the undone value was changed since', async (t) => {
    const { doc, stores: [a, b] } = await setup(t, 2);
    await write(a!, (d) => { d.title = 'mine'; });
    undo(a!);
    await settled(a!);
    await write(b!, (d) => { d.title = 'theirs'; });
    await synced(doc, [a!, b!]);
    assert.throws(() => redo(a!), { code: ErrorCode.CHANGED });
    assert.equal((snapshot(doc) as Doc).title, 'theirs');
  });

  it('a new write ends what could be redone; a refused write leaves no history', async (t) => {
    const { doc, stores: [s] } = await setup(t);
    await write(s!, (d) => { d.title = 'one'; });
    undo(s!);
    await settled(s!);
    assert.equal(canRedo(s!), true);
    await write(s!, (d) => { d.title = 'two'; });
    assert.equal(canRedo(s!), false);
    // A write the server refuses leaves no history: the next undo takes back 'two'.
    s!.meta.forbidden = 1;
    await assert.rejects(settled(s!), { code: ErrorCode.FORBIDDEN });
    undo(s!);
    await settled(s!);
    assert.deepEqual(snapshot(doc), { title: 'a', n: 0, list: ['x', 'y', 'z'], meta: { keep: 1 } });
    assert.equal(canUndo(s!), false);
  });
});

describe('undo(store) while writes of this page are unconfirmed', () => {
  it('undoes the newest write at once though the server has not confirmed it, online or offline, and redoes it', async (t) => {
    const { srv, doc, stores: [s], raw } = await setup(t);
    await write(s!, (d) => { d.title = 'b'; });
    // In flight: sent, the server's answer not here yet.
    s!.title = 'c';
    await nextTurn();
    assert.equal(status(s!).pending, 1);
    assert.equal(canUndo(s!), true);
    undo(s!);
    assert.equal(s!.title, 'b', 'the undo shows at once');
    await settled(s!);
    assert.equal((snapshot(doc) as Doc).title, 'b', 'the server undid it: nobody else changed it');
    redo(s!);
    await settled(s!);
    assert.equal((snapshot(doc) as Doc).title, 'c');
    // Offline: two writes queued, both undone, newest first, then the confirmed one below them
    // (each step in a turn of its own, as clicks are).
    raw[0]!.close();
    s!.title = 'd';
    await nextTurn();
    s!.list.push('w');
    await nextTurn();
    assert.equal(status(s!).pending, 2);
    undo(s!);
    assert.deepEqual(s!.list, ['x', 'y', 'z']);
    assert.equal(s!.title, 'd');
    await nextTurn();
    undo(s!);
    assert.equal(s!.title, 'c');
    await nextTurn();
    undo(s!);
    assert.equal(s!.title, 'b', 'the confirmed write below them');
    await nextTurn();
    // The last undo is redone while it too waits for the connection.
    assert.equal(canRedo(s!), true);
    redo(s!);
    assert.equal(s!.title, 'c');
    raw[0]!.connect(srv.url);
    await settled(s!);
    await synced(doc, [s!]);
    assert.deepEqual(snapshot(doc), { title: 'c', n: 0, list: ['x', 'y', 'z'], meta: { keep: 1 } });
    // What the server confirmed in the end is the history: the redo to undo, the writes to redo.
    undo(s!);
    await settled(s!);
    assert.equal((snapshot(doc) as Doc).title, 'b');
    redo(s!);
    await settled(s!);
    assert.equal((snapshot(doc) as Doc).title, 'c');
    assert.equal(canRedo(s!), true, 'the two undone offline writes are still there to redo');
    redo(s!);
    redo(s!);
    await settled(s!);
    assert.deepEqual(snapshot(doc), { title: 'd', n: 0, list: ['x', 'y', 'z', 'w'], meta: { keep: 1 } });
  });

  it('a write of this page still unconfirmed ends what could be redone', async (t) => {
    const { doc, stores: [s] } = await setup(t);
    await write(s!, (d) => { d.title = 'b'; });
    undo(s!);
    await settled(s!);
    s!.n = 1;
    await nextTurn();
    assert.equal(canRedo(s!), false);
    assert.throws(() => redo(s!), { code: ErrorCode.HISTORY });
    await settled(s!);
    assert.deepEqual(snapshot(doc), { title: 'a', n: 1, list: ['x', 'y', 'z'], meta: { keep: 1 } });
  });

  it('brings back what this page saw before the unconfirmed write, not a value the write overwrote unseen', async (t) => {
    const { srv, doc, stores: [a, b], raw } = await setup(t, 2);
    raw[0]!.close();
    a!.title = 'mine';
    await nextTurn();
    undo(a!);
    assert.equal(a!.title, 'a');
    // Another client's write lands while A is offline: the server's order is B's, A's, A's undo.
    await write(b!, (d) => { d.title = 'theirs'; });
    raw[0]!.connect(srv.url);
    await settled(a!);
    await synced(doc, [a!, b!]);
    // A's write overwrote B's; its undo puts back the value A saw (the trade-off of undoing at
    // once, see src/undo.ts). Nothing changed the title after A's write, so the test passed.
    assert.equal((snapshot(doc) as Doc).title, 'a');
    assert.equal(canRedo(a!), true);
  });
});

describe('undo(store) with bad input', () => {
  it('throws TWIN_ERR_HISTORY when there is nothing to undo or redo, and changes nothing', async (t) => {
    const { doc, stores: [s] } = await setup(t);
    const v = status(doc).v;
    assert.equal(canUndo(s!), false);
    assert.throws(() => undo(s!), { code: ErrorCode.HISTORY });
    assert.throws(() => redo(s!), { code: ErrorCode.HISTORY });
    assert.equal(status(s!).pending, 0);
    assert.equal(status(s!).error, undefined);
    assert.equal(status(doc).v, v);
    assert.throws(() => undo({}), TypeError);
  });

  it('has nothing to undo after an action call (the server ran it) nor in a local store', async (t) => {
    const { srv, doc, stores: [s], raw } = await setup(t);
    await raw[0]!.call('retitle', ['by action']);
    await synced(doc, [s!]);
    assert.equal((snapshot(doc) as Doc).title, 'by action');
    assert.equal(canUndo(s!), false);
    assert.throws(() => undo(s!), { code: ErrorCode.HISTORY });
    const local = srv.client({ hydration: { local: { prefs: { value: { theme: 'light' } } } } });
    const prefs = local.store<{ theme: string }>('prefs');
    assert.equal(status(prefs).connection, 'local');
    prefs.theme = 'dark';
    assert.equal(canUndo(prefs), false);
    assert.throws(() => undo(prefs), { code: ErrorCode.HISTORY });
    assert.equal(prefs.theme, 'dark');
  });

  it('throws TWIN_ERR_HISTORY for server code (no history there)', async (t) => {
    const { doc } = await setup(t);
    assert.throws(() => undo(doc), { code: ErrorCode.HISTORY });
  });
});

describe('the undo history', () => {
  it(`keeps at most ${MAX_ENTRIES} batches per store, the newest`, async (t) => {
    const { doc, stores: [s] } = await setup(t);
    for (let i = 1; i <= MAX_ENTRIES + 5; i++) {
      s!.n = i;
      await settled(s!);
    }
    let undone = 0;
    while (canUndo(s!)) {
      undo(s!);
      await settled(s!);
      undone++;
    }
    assert.equal(undone, MAX_ENTRIES);
    assert.equal((snapshot(doc) as Doc).n, 5, 'the oldest five are out of reach');
  });

  it(`keeps at most ${MAX_BYTES / 1024} KB of ops per store; a batch bigger than that clears what lies below it`, async (t) => {
    const { stores: [s] } = await setup(t);
    const chunk = 'x'.repeat(40 * 1024);
    for (let i = 0; i < 8; i++) {
      s!.title = chunk + i;
      await settled(s!);
    }
    let undone = 0;
    while (canUndo(s!)) {
      undo(s!);
      await settled(s!);
      undone++;
    }
    // Each entry holds the value left (a test) and the one before: ~80 KB, so three fit.
    assert.equal(undone, 3);
    s!.title = 'y'.repeat(MAX_BYTES);
    await settled(s!);
    assert.equal(canUndo(s!), false);
  });
});

describe('the test op', () => {
  it('refuses its batch all or nothing with TWIN_ERR_CHANGED, and passes when the value is there', async (t) => {
    const { srv, doc } = await setup(t);
    const raw = await srv.raw();
    const id = newClientId();
    await raw.hello(id, { doc: 0 });
    const v = status(doc).v;
    raw.send({ t: 'op', id: `${id}:1`, store: 'doc', ops: [{ op: 'set', path: ['title'], value: 'half' }, { op: 'test', path: ['n'], value: 7 }] });
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.CHANGED);
    assert.match(String(reject.message), /\bn\b/);
    assert.equal((snapshot(doc) as Doc).title, 'a', 'nothing of the batch was applied');
    assert.equal(status(doc).v, v);
    raw.send({ t: 'op', id: `${id}:2`, store: 'doc', ops: [{ op: 'test', path: ['n'], value: 0 }, { op: 'test', path: ['meta', 'nope'] }, { op: 'test', path: ['list'], value: ['x', 'y', 'z'] }, { op: 'set', path: ['title'], value: 'ok' }] });
    const sync = await raw.next((m) => m.t === 'sync' && m.id === `${id}:2`);
    assert.equal(sync.v, v + 1);
    assert.equal((snapshot(doc) as Doc).title, 'ok');
    // A test of a missing value fails when something is there.
    raw.send({ t: 'op', id: `${id}:3`, store: 'doc', ops: [{ op: 'test', path: ['title'] }, { op: 'set', path: ['title'], value: 'no' }] });
    assert.equal((await raw.next((m) => m.t === 'reject')).code, ErrorCode.CHANGED);
  });

  it('refuses a malformed test op with TWIN_ERR_OP, changing nothing', async (t) => {
    const { srv, doc } = await setup(t);
    const raw = await srv.raw();
    const id = newClientId();
    await raw.hello(id, { doc: 0 });
    const v = status(doc).v;
    raw.send({ t: 'op', id: `${id}:1`, store: 'doc', ops: [{ op: 'test', path: 'title', value: 'a' }, { op: 'set', path: ['title'], value: 'x' }] });
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.OP);
    assert.equal(status(doc).v, v);
    assert.equal((snapshot(doc) as Doc).title, 'a');
  });
});
