// SPDX-License-Identifier: MIT
/**
 * @module test-op.test
 * The `test` op (src/ops.ts, sent by undo and redo) cannot probe what a client may not read.
 * A batch's tests run only once the batch is let through: the store readable (`canRead`, in
 * the connection), open to client writes (`clientWrites`) and `authorize`d (in the hub) — so a
 * client tests only stores it may read and write, whose values it reads anyway. A batch refused
 * before that gets the same answer whatever its tests hold; a failed test names its path,
 * never a value. Real sockets, raw messages: an attacker writes its own frames.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp, ErrorCode } from '../src/index.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';

/** The value nobody but the admin may learn; long enough not to turn up by chance. */
const SECRET = 'hunter2-0f3a9c';

function makeApp() {
  const app = defineApp();
  app.shared('vault', () => ({ code: SECRET }), { canRead: ({ user }) => user === 'admin' });
  app.shared('board', () => ({ code: SECRET }), { authorize: ({ user }) => user === 'admin' });
  app.shared('ledger', () => ({ code: SECRET }), { clientWrites: false, canRead: ({ user }) => user === 'admin' });
  return app;
}

async function serve(t: TestContext): Promise<TestServer> {
  const srv = await startServer(makeApp(), { auth: ({ url }) => url.searchParams.get('user') ?? 'anyone' });
  t.after(() => srv.close());
  return srv;
}

/** A raw client of `user`, said hello, subscribed to `subs`. */
async function rawAs(srv: TestServer, user: string, subs: Record<string, number> = {}): Promise<{ raw: RawClient; id: string }> {
  const raw = await srv.raw({ query: `user=${user}` });
  const id = newClientId();
  await raw.hello(id, subs);
  return { raw, id };
}

/** The answers to a batch of tests of `code` in `store`: one right guess, one wrong. */
async function probe(raw: RawClient, id: string, store: string, seq: number): Promise<[Message, Message]> {
  const guess = (value: string, n: number) => raw.send({ t: 'op', id: `${id}:${n}`, store, ops: [{ op: 'test', path: ['code'], value }] });
  guess(SECRET, seq);
  const right = await raw.next((m) => m.id === `${id}:${seq}`);
  guess('wrong', seq + 1);
  const wrong = await raw.next((m) => m.id === `${id}:${seq + 1}`);
  return [right, wrong];
}

describe('the test op', () => {
  it('on a store the client may not read: TWIN_ERR_FORBIDDEN, the same for a right and a wrong guess, no value sent', async (t) => {
    const srv = await serve(t);
    const { raw, id } = await rawAs(srv, 'eve');
    const [right, wrong] = await probe(raw, id, 'vault', 1);
    assert.equal(right.t, 'reject');
    assert.equal(right.code, ErrorCode.FORBIDDEN);
    assert.deepEqual({ ...wrong, id: right.id }, right, 'the answer does not depend on the guess');
    // Nor does an actions-only store it may not read answer anything else.
    const [ledgerRight, ledgerWrong] = await probe(raw, id, 'ledger', 3);
    assert.equal(ledgerRight.code, ErrorCode.FORBIDDEN);
    assert.deepEqual({ ...ledgerWrong, id: ledgerRight.id }, ledgerRight);
    assert.ok(!raw.frames.some((frame) => frame.includes(SECRET)), 'the secret never went out');
    assert.equal(raw.messages.filter((m) => m.t === 'sync' || m.t === 'snapshot').length, 0);
  });

  it('on a store the client may read but not write: refused before its tests, whatever they hold', async (t) => {
    const srv = await serve(t);
    const { raw, id } = await rawAs(srv, 'eve');
    const [right, wrong] = await probe(raw, id, 'board', 1);
    assert.equal(right.code, ErrorCode.FORBIDDEN);
    assert.deepEqual({ ...wrong, id: right.id }, right);
  });

  it('on a store the client may read and write: the test runs; a failed one names the path, not the value', async (t) => {
    const srv = await serve(t);
    // (Subscribed: the confirmation of a batch comes as the store's sync.)
    const { raw, id } = await rawAs(srv, 'admin', { vault: 0 });
    const [right, wrong] = await probe(raw, id, 'vault', 1);
    assert.equal(right.t, 'sync', 'a right guess passes (a batch of tests only, committed)');
    assert.equal(wrong.t, 'reject');
    assert.equal(wrong.code, ErrorCode.CHANGED);
    assert.match(String(wrong.message), /\bcode\b/);
    assert.ok(!String(wrong.message).includes(SECRET) && !String(wrong.message).includes('wrong'), 'no value in the refusal');
  });
});
