// SPDX-License-Identifier: MIT
/**
 * @module connection.test
 * One client's socket as the hub sees it, in the details a refusal is made of: how many
 * strikes close it (exactly the limit, once per frame), what a hello naming too many stores
 * gets, what a refusal says (the store of a refused batch, the server's own trouble hidden
 * behind a generic sentence and never a strike), and the `refusal` events operators count.
 * Store names here are well-formed, so a refusal is the hub's (the store), not the parser's.
 * What the server keeps to itself goes to `NODE_DEBUG=twin:server` (read from a child process:
 * Node reads NODE_DEBUG once, at start).
 */
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { CloseCode } from '../src/close-codes.js';
import { defineApp, ErrorCode } from '../src/index.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import type { TwinOptions } from './index.js';

function makeApp() {
  const app = defineApp();
  app.shared('notes', () => ({ items: [] as string[] }));
  app.shared('box', (id: string) => ({ id }), { family: true });
  app.shared('secret', () => ({}), { canRead: () => false });
  app.shared('vault', () => ({}), {
    canRead: () => {
      // The app's own failure (its database, say): not something the client did.
      throw new Error('vault database unreachable at 10.0.0.7');
    },
  });
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

  it('earns no strike for the server’s own trouble, however often, and hides what it was', async (t) => {
    const srv = await serve(t, { limits: { strikes: 1 } });
    const raw = await srv.raw();
    await raw.hello();
    for (let i = 0; i < 3; i++) {
      raw.send({ t: 'sub', store: 'vault', v: 0 });
      const error = await raw.next((m) => m.t === 'error');
      assert.equal(error.code, ErrorCode.INTERNAL);
      assert.equal(error.store, 'vault');
      assert.equal(error.message, 'The server failed to handle this message.');
    }
    assert.ok(!raw.frames.some((f) => f.includes('10.0.0.7')), 'the app’s error stays on the server');
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    assert.equal(raw.ws.readyState, raw.ws.OPEN);
  });

  it('earns a strike for a well-formed message the hub refuses (a store that does not exist)', async (t) => {
    const srv = await serve(t, { limits: { strikes: 1 } });
    const raw = await srv.raw();
    await raw.hello();
    raw.send({ t: 'sub', store: 'nosuch1', v: 0 });
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.STORE);
    raw.send({ t: 'sub', store: 'nosuch2', v: 0 });
    const closed = await raw.closed;
    assert.equal(closed.code, CloseCode.POLICY);
  });

  it('counts a hello naming stores that are gone as one strike, not one per store', async (t) => {
    // A page that outlived a deploy names stores the new code no longer has: it must stay.
    const srv = await serve(t, { limits: { strikes: 1 } });
    const raw = await srv.raw();
    raw.send({ t: 'hello', proto: 1, client: newClientId(), subs: { gone1: 0, notes: 0, gone2: 0, gone3: 0 } });
    for (const store of ['gone1', 'gone2', 'gone3']) {
      const error = await raw.next((m) => m.t === 'error' && m.store === store);
      assert.equal(error.code, ErrorCode.STORE);
    }
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    assert.equal(raw.ws.readyState, raw.ws.OPEN);
    assert.ok(raw.messages.some((m) => m.t === 'snapshot' && m.store === 'notes'));
    // But that one strike counts: the next refusal is one too many.
    raw.send({ t: 'sub', store: 'nosuch', v: 0 });
    assert.equal((await raw.closed).code, CloseCode.POLICY);
  });

  it('subscribes a hello naming exactly maxSubs stores to all of them, with no error', async (t) => {
    const srv = await serve(t, { limits: { maxSubs: 2 } });
    const raw = await srv.raw();
    await raw.hello(undefined, { 'box/a': 0, 'box/b': 0 });
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    assert.deepEqual(raw.messages.filter((m) => m.t === 'snapshot').map((m) => m.store).sort(), ['box/a', 'box/b']);
    assert.deepEqual(raw.messages.filter((m) => m.t === 'error'), []);
  });

  it('refuses a second hello as another client, and keeps the first', async (t) => {
    const srv = await serve(t);
    const raw = await srv.raw();
    await raw.hello(undefined, { notes: 0 });
    raw.send({ t: 'hello', proto: 1, client: newClientId(), subs: {} });
    const error = await raw.next((m) => m.t === 'error');
    assert.equal(error.code, ErrorCode.ID);
    assert.equal(error.message, 'This connection is another client already; open another connection to be this one.');
    raw.send({ t: 'op', id: `${raw.clientId}:1`, store: 'notes', ops: [{ op: 'push', path: ['items'], values: ['still me'] }] });
    await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:1`);
  });

  it('closes a hello with another key’s client id, sending the reason and nothing empty before it', async (t) => {
    const srv = await serve(t);
    const client = newClientId();
    const owner = await srv.raw();
    owner.send({ t: 'hello', proto: 1, client, key: 'the-owners-key-0123456789', subs: {} });
    await owner.next((m) => m.t === 'welcome');
    const thief = await srv.raw();
    thief.send({ t: 'hello', proto: 1, client, key: 'somebody-elses-key-98765', subs: { notes: 0 } });
    const closed = await thief.closed;
    assert.equal(closed.code, CloseCode.POLICY);
    assert.deepEqual(thief.frames.map((f) => JSON.parse(f) as unknown), [
      { t: 'error', code: ErrorCode.ID, message: 'This client id belongs to another client.' },
    ]);
    assert.equal(owner.ws.readyState, owner.ws.OPEN);
  });

  it('says which store a refusal of reading or of presence is about, in words', async (t) => {
    const srv = await serve(t);
    const raw = await srv.raw();
    await raw.hello();
    raw.send({ t: 'sub', store: 'secret', v: 0 });
    const forbidden = await raw.next((m) => m.t === 'error');
    assert.equal(forbidden.code, ErrorCode.FORBIDDEN);
    assert.equal(forbidden.message, 'You may not read store "secret".');
    raw.send({ t: 'presence', store: 'notes', key: 'presence-key-0123456789', state: { at: 1 } });
    const presence = await raw.next((m) => m.t === 'error');
    assert.equal(presence.code, ErrorCode.FORBIDDEN);
    assert.equal(presence.message, 'Subscribe to store "notes" before publishing presence in it.');
  });

  it('sends a lone message as itself, and a tick’s several as one array frame', async (t) => {
    const srv = await serve(t);
    const raw = await srv.raw();
    await raw.hello();
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    assert.equal(raw.frames.at(-1), '{"t":"pong"}');
    raw.send([{ t: 'ping' }, { t: 'ping' }]);
    await raw.next((m) => m.t === 'pong');
    await raw.next((m) => m.t === 'pong');
    assert.equal(raw.frames.at(-1), '[{"t":"pong"},{"t":"pong"}]');
  });

  it('closes a socket that sends text that is not UTF-8, and only that one', async (t) => {
    const srv = await serve(t);
    const bad = await srv.raw();
    const good = await srv.raw();
    await good.hello();
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    assert.equal((await bad.closed).code, 1007);
    good.send({ t: 'ping' });
    await good.next((m) => m.t === 'pong');
  });
});

/** Runs `script` (ESM, may import from the repository by absolute URL) with NODE_DEBUG=twin:server; resolves with its stderr. */
function runWithDebug(script: string): Promise<string> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root, env: { ...process.env, NODE_DEBUG: 'twin:server' }, timeout: 20_000,
    }, (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stderr)));
  });
}

describe('NODE_DEBUG=twin:server', () => {
  it('logs the server’s own trouble behind a refusal and a socket’s error, not the client’s refusals', async () => {
    const at = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
    const stderr = await runWithDebug(`
      const { startServer } = await import(${at('../test/helpers/server.ts')});
      const { defineApp } = await import(${at('../src/index.ts')});
      const app = defineApp();
      app.shared('vault', () => ({}), { canRead: () => { throw new Error('vault database unreachable'); } });
      const srv = await startServer(app);
      const raw = await srv.raw();
      await raw.hello();
      raw.send({ t: 'sub', store: 'nosuch', v: 0 });
      await raw.next((m) => m.t === 'error');
      raw.send({ t: 'sub', store: 'vault', v: 0 });
      await raw.next((m) => m.t === 'error');
      const bad = await srv.raw();
      bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      await bad.closed;
      await srv.close();
    `);
    const lines = stderr.split('\n').filter((line) => line.startsWith('TWIN:SERVER '));
    const internal = lines.filter((line) => line.includes('internal error handling'));
    assert.equal(internal.length, 1, stderr);
    assert.match(internal[0]!, /internal error handling sub: .*vault database unreachable/);
    assert.ok(lines.some((line) => /socket error: .*UTF-8/.test(line)), stderr);
  });
});
