// SPDX-License-Identifier: MIT
/**
 * @module adopt.test
 * A page sends the outbox a closed page left (`hello.adopt`): it claims that page's client id
 * with its key and re-sends its batches under their own ids. The server applies each once, holds
 * the adopted id to its key like any other, and keeps the adopting connection's own work apart.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '../src/close-codes.js';
import { defineApp, ErrorCode, snapshot } from '../src/index.js';
import { MAX_ADOPT, MAX_ADOPTED } from '../src/protocol.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';

function makeApp() {
  const app = defineApp();
  const notes = app.shared('notes', () => ({ items: [] as string[] }));
  return { app, notes };
}

async function serve(t: TestContext, app: ReturnType<typeof makeApp>['app']): Promise<TestServer> {
  const srv = await startServer(app);
  t.after(() => srv.close());
  return srv;
}

const key = () => `${newClientId()}-key`;
const push = (id: string, text: string) => ({ t: 'op', id, store: 'notes', ops: [{ op: 'push', path: ['items'], values: [text] }] });

describe('a hello that adopts a closed page’s client id', () => {
  it('re-sends its batches under their own ids, each applied once, confirmed to the adopter', async (t) => {
    const { app, notes } = makeApp();
    const srv = await serve(t, app);
    const gone = { client: newClientId(), key: key() };
    const page = await srv.raw();
    page.send({ t: 'hello', proto: 1, client: gone.client, key: gone.key, subs: { notes: 0 } });
    await page.next((m) => m.t === 'snapshot');
    page.send(push(`${gone.client}:1`, 'one'));
    await page.next((m) => m.t === 'sync' && m.id === `${gone.client}:1`);
    // The page goes away before its second batch is answered (it may or may not be committed).
    page.send(push(`${gone.client}:2`, 'two'));
    await page.close();

    const next = await srv.raw();
    const own = newClientId();
    next.send({ t: 'hello', proto: 1, client: own, key: key(), subs: { notes: 0 }, adopt: [gone] });
    await next.next((m) => m.t === 'snapshot');
    // The outbox still holds both (the first's confirmation was lost with the page, say).
    next.send(push(`${gone.client}:1`, 'one'));
    next.send(push(`${gone.client}:2`, 'two'));
    next.send(push(`${own}:1`, 'three'));
    for (const id of [`${gone.client}:1`, `${gone.client}:2`, `${own}:1`]) await next.next((m) => m.t === 'sync' && m.id === id);
    assert.deepEqual(snapshot(notes).items, ['one', 'two', 'three']);
    assert.ok(!next.messages.some((m) => m.t === 'reject'), 'nothing was refused');
  });

  it('needs the adopted id’s key: a wrong one is refused for that id alone, the owner unaffected', async (t) => {
    const { app, notes } = makeApp();
    const srv = await serve(t, app);
    const owner = { client: newClientId(), key: key() };
    const live = await srv.raw();
    live.send({ t: 'hello', proto: 1, client: owner.client, key: owner.key, subs: { notes: 0 } });
    await live.next((m) => m.t === 'snapshot');

    const thief = await srv.raw();
    const own = newClientId();
    thief.send({ t: 'hello', proto: 1, client: own, key: key(), subs: { notes: 0 }, adopt: [{ client: owner.client, key: key() }] });
    const error = await thief.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.ID);
    assert.match(String(error.message), new RegExp(owner.client));
    thief.send(push(`${owner.client}:1`, 'forged'));
    const reject = await thief.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.ID);
    // Its own id still works, and the owner's connection is still the owner's.
    thief.send(push(`${own}:1`, 'honest'));
    await thief.next((m) => m.t === 'sync' && m.id === `${own}:1`);
    live.send(push(`${owner.client}:1`, 'mine'));
    await live.next((m) => m.t === 'sync' && m.id === `${owner.client}:1`);
    assert.deepEqual(snapshot(notes).items, ['honest', 'mine']);
  });

  it('closes a socket the closed page left half-open: the adopter holds the id now', async (t) => {
    const { app } = makeApp();
    const srv = await serve(t, app);
    const gone = { client: newClientId(), key: key() };
    const stale = await srv.raw();
    stale.send({ t: 'hello', proto: 1, client: gone.client, key: gone.key, subs: {} });
    await stale.next((m) => m.t === 'welcome');
    const next = await srv.raw();
    next.send({ t: 'hello', proto: 1, client: newClientId(), key: key(), subs: {}, adopt: [gone] });
    await next.next((m) => m.t === 'welcome');
    assert.equal((await stale.closed).code, CloseCode.REPLACED);
  });

  it(`takes at most ${MAX_ADOPT} ids in one hello (a coded refusal, nothing claimed)`, async (t) => {
    const { app } = makeApp();
    const srv = await serve(t, app);
    const raw = await srv.raw();
    const adopt = Array.from({ length: MAX_ADOPT + 1 }, () => ({ client: newClientId(), key: key() }));
    raw.send({ t: 'hello', proto: 1, client: newClientId(), key: key(), subs: {}, adopt });
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.FRAME);
    assert.match(String(error.message), /adopt/);
    assert.ok(!raw.messages.some((m) => m.t === 'welcome'));
  });

  it(`holds at most ${MAX_ADOPTED} adopted ids over repeated hellos`, async (t) => {
    const { app } = makeApp();
    const srv = await serve(t, app);
    const raw = await srv.raw();
    const own = { client: newClientId(), key: key() };
    for (let round = 0; round <= MAX_ADOPTED / MAX_ADOPT; round++) {
      const adopt = Array.from({ length: MAX_ADOPT }, () => ({ client: newClientId(), key: key() }));
      raw.send({ t: 'hello', proto: 1, ...own, subs: {}, adopt });
      await raw.next((m) => m.t === 'welcome');
    }
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.ID);
    assert.match(String(error.message), new RegExp(`at most ${MAX_ADOPTED}`));
  });

  it('answers every batch of a long outbox it refuses, by id, and keeps the connection (one strike per frame)', async (t) => {
    const { app, notes } = makeApp();
    const srv = await serve(t, app);
    const other = { client: newClientId(), key: key() };
    const owner = await srv.raw();
    owner.send({ t: 'hello', proto: 1, client: other.client, key: other.key, subs: {} });
    await owner.next((m) => m.t === 'welcome');
    const raw = await srv.raw();
    const own = newClientId();
    // Someone else's id, claimed with a wrong key: its batches are not this connection's.
    raw.send({ t: 'hello', proto: 1, client: own, key: key(), subs: { notes: 0 }, adopt: [{ client: other.client, key: key() }] });
    await raw.next((m) => m.t === 'snapshot');
    const unreadable = Array.from({ length: 60 }, (_, i) => ({ t: 'op', id: `${own}:${i + 1}`, store: 'notes', ops: [{ op: 'frobnicate', path: ['items'] }] }));
    const foreign = Array.from({ length: 60 }, (_, i) => push(`${other.client}:${i + 1}`, `not mine ${i}`));
    raw.send([...unreadable, ...foreign.slice(0, 40)]);
    raw.send([...foreign.slice(40), push(`${own}:61`, 'fine')]);
    await raw.next((m) => m.t === 'sync' && m.id === `${own}:61`, 5_000);
    const rejects = raw.messages.filter((m) => m.t === 'reject');
    assert.equal(rejects.filter((m) => m.code === ErrorCode.OP).length, 60, 'each unreadable batch refused by its id');
    assert.equal(rejects.filter((m) => m.code === ErrorCode.ID).length, 60, 'each batch of the id it could not claim refused by its id');
    assert.deepEqual(snapshot(notes).items, ['fine']);
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
  });
});
