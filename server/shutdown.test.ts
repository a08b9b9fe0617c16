// SPDX-License-Identifier: MIT
/**
 * Tests of graceful shutdown and the health check (issue 13.7, 13.8), with a real server and
 * real `ws` clients: `/_twin/health` says `starting` (503) until the stores are loaded, `ready`
 * (200), then `draining` (503) once `close()` began; `close()` lets a commit in flight finish
 * (its confirmation reaches the client, and storage holds it), closes every socket with 1012
 * and a retry hint, and a newcomer during the drain gets 1012 too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { defineApp, ErrorCode } from '../src/index.js';
import type { StandardSchemaV1 } from '../src/standard-schema.js';
import { CloseCode, parseCloseReason } from '../src/close-codes.js';
import { createMemoryStorage, twin } from './index.js';
import { RESTART_RETRY_MS } from './twin.js';
import { delay, newClientId, startServer, until, within } from '../test/helpers/server.js';
import { greeting } from '../test/helpers/refused.js';

/** How long the slow store's schema takes to answer: the commit "in flight" during close(). */
const CHECK_MS = 300;

/** A schema that takes CHECK_MS to accept anything: a commit that is still running when close() is called. */
const slowSchema: StandardSchemaV1<{ n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'twin-test',
    validate: async (value) => {
      await delay(CHECK_MS);
      return { value: value as { n: number } };
    },
  },
};

async function health(http: string): Promise<{ status: number; body: { status: string; ok: boolean } }> {
  const res = await fetch(`${http}/_twin/health`);
  return { status: res.status, body: (await res.json()) as { status: string; ok: boolean } };
}

describe('/_twin/health', () => {
  it('says starting (503) while the stores load, then ready (200)', async (t) => {
    const app = defineApp();
    app.shared('board', () => ({ n: 0 }));
    const memory = createMemoryStorage();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The real memory storage, whose first load waits for the test: a slow database at startup.
    const storage = { ...memory, load: async (name: string) => (await gate, memory.load(name)) };
    const server = twin(app, { storage: storage as typeof memory });
    const koa = new Koa();
    koa.use(server.middleware());
    const http = koa.listen(0, '127.0.0.1');
    t.after(async () => {
      release();
      await server.close();
      await memory.close();
      http.close();
    });
    await once(http, 'listening');
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    assert.deepEqual(await health(base), { status: 503, body: { status: 'starting', ok: false, connections: 0 } });
    release();
    await within(server.ready, 'the server to be ready');
    assert.deepEqual(await health(base), { status: 200, body: { status: 'ready', ok: true, connections: 0 } });
  });
});

describe('server.close()', () => {
  it('drains: health says draining, a commit in flight is confirmed and stored, then every socket gets 1012 with a retry hint', async (t) => {
    const app = defineApp();
    const slow = app.shared('slow', () => ({ n: 0 }), { schema: slowSchema });
    void slow;
    const storage = createMemoryStorage();
    t.after(() => storage.close());
    const srv = await startServer(app, { storage });
    t.after(() => srv.close());
    assert.equal((await health(srv.http)).body.status, 'ready');

    const writer = await srv.raw();
    const id = newClientId();
    await writer.hello(id, { slow: 0 });
    await writer.next((m) => m.t === 'snapshot');
    const watcher = await srv.raw();
    await watcher.hello(newClientId(), { slow: 0 });
    await watcher.next((m) => m.t === 'snapshot');

    writer.send({ t: 'op', id: `${id}:1`, store: 'slow', ops: [{ op: 'set', path: ['n'], value: 7 }] });
    await delay(CHECK_MS / 3); // the schema check is running
    const closing = srv.server.close();
    const during = await health(srv.http);
    assert.deepEqual(during, { status: 503, body: { status: 'draining', ok: false, connections: 2 } });
    const newcomer = await greeting(srv.url);
    assert.notEqual(newcomer, 'welcome', 'no new connections while draining');
    if (newcomer !== 'welcome') {
      assert.equal(newcomer.code, CloseCode.RESTART);
      assert.equal(parseCloseReason(newcomer.reason).retry, RESTART_RETRY_MS);
    }

    await within(closing, 'close() to finish', 3000);
    const ack = await writer.next((m) => m.t === 'sync' && m.id === `${id}:1`);
    assert.deepEqual(ack.ops, [{ op: 'set', path: ['n'], value: 7 }], 'the commit in flight was confirmed before the close');
    await watcher.next((m) => m.t === 'sync' && m.v === 1);
    for (const client of [writer, watcher]) {
      const { code, reason } = await client.closed;
      assert.equal(code, CloseCode.RESTART);
      const parsed = parseCloseReason(reason);
      assert.equal(parsed.code, ErrorCode.UNAVAILABLE);
      assert.equal(parsed.retry, RESTART_RETRY_MS);
      assert.ok(parsed.message.length > 10, `a readable reason: ${reason}`);
    }
    const stored = await storage.load('slow');
    assert.equal(stored?.v, 1, 'storage holds the commit that was in flight');
    assert.equal(srv.server.connectionCount, 0);
  });

  it('returns the same promise when called again, and ends with no client left', async () => {
    const app = defineApp();
    app.shared('board', () => ({ n: 0 }));
    const srv = await startServer(app);
    const raw = await srv.raw();
    await raw.hello();
    const first = srv.server.close();
    assert.equal(srv.server.close(), first);
    await within(first, 'close() to finish');
    assert.equal((await raw.closed).code, CloseCode.RESTART);
    await until(() => srv.server.connectionCount === 0, 'no connection left');
    await srv.close();
  });
});
