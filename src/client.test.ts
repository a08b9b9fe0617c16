// SPDX-License-Identifier: MIT
/**
 * The client against a server that sends what no twin server sends — a real `ws` server on
 * 127.0.0.1 playing a broken proxy: the client drops that link, reconnects, and keeps the
 * state and versions it had, so the next server sends it only what it lacks. And a client
 * whose re-sent batch is confirmed as applied before, after a snapshot that holds it, shows it once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { createClient, settled, snapshot, status } from './index.js';
import type { Client, WebSocketClass } from './index.js';
import { NodeWebSocket, until } from '../test/helpers/server.js';

/** Frames a twin server never sends, one per connection. */
const BAD_FRAMES = [
  'not JSON',
  '{"t":"bogus"}',
  '{"t":"sync","store":"doc"}',
  '{"t":"snapshot","store":"doc","v":9,"value":null}',
  '[{"t":"pong"},{"t":"snapshot","store":"doc","v":5}]',
];

describe('Client and a server that sends malformed messages', () => {
  it('drops each such link, reconnects, and keeps its state and versions', async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const hellos: { subs: Record<string, number> }[] = [];
    const closed: number[] = [];
    server.on('connection', (ws: WebSocket) => {
      const n = hellos.length;
      ws.on('close', () => closed.push(n));
      ws.on('message', (data) => {
        const messages = [JSON.parse(String(data))].flat() as { t: string; subs: Record<string, number> }[];
        const hello = messages.find((m) => m.t === 'hello');
        if (!hello) return;
        hellos.push(hello);
        ws.send(JSON.stringify({ t: 'welcome', proto: 1 }));
        if (n < BAD_FRAMES.length) ws.send(BAD_FRAMES[n]!);
      });
    });
    const { port } = server.address() as { port: number };
    const client: Client = createClient({
      url: `ws://127.0.0.1:${port}`,
      WebSocket: NodeWebSocket as unknown as WebSocketClass,
      minDelay: 5,
      maxDelay: 20,
      hydration: { shared: { doc: { value: { text: 'hydrated' }, v: 3 } } },
    });
    t.after(async () => {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    });
    const doc = client.store<{ text: string }>('doc');
    assert.equal(doc.text, 'hydrated');

    await until(() => hellos.length === BAD_FRAMES.length + 1 && client.state === 'online', 'a reconnect after each bad frame');
    assert.deepEqual(closed.sort(), BAD_FRAMES.map((_, i) => i), 'the client closed every link that sent a bad frame');
    for (const hello of hellos) assert.deepEqual(hello.subs, { doc: 3 }, 'every hello asks from the version it had');
    assert.deepEqual(snapshot(doc), { text: 'hydrated' });
    assert.equal(status(doc).v, 3);
  });
});

describe('Client confirming a re-sent batch', () => {
  it('shows a batch once when a snapshot that holds it comes before the confirmation', async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    let connections = 0;
    server.on('connection', (ws: WebSocket) => {
      const n = ++connections;
      ws.on('message', (data) => {
        for (const m of [JSON.parse(String(data))].flat() as { t: string; id?: string }[]) {
          if (m.t === 'hello') {
            ws.send(JSON.stringify({ t: 'welcome', proto: 1 }));
            // The second server already committed the batch the first one never answered.
            ws.send(JSON.stringify({ t: 'snapshot', store: 'doc', v: n - 1, value: { items: n === 1 ? [] : ['a'] } }));
          }
          if (m.t === 'op' && n === 1) ws.terminate(); // committed, but the answer is lost
          if (m.t === 'op' && n === 2) ws.send(JSON.stringify({ t: 'sync', store: 'doc', v: 1, ops: [], id: m.id }));
        }
      });
    });
    const { port } = server.address() as { port: number };
    const client: Client = createClient({ url: `ws://127.0.0.1:${port}`, WebSocket: NodeWebSocket as unknown as WebSocketClass, minDelay: 5, maxDelay: 20 });
    t.after(async () => {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    });
    const doc = client.store<{ items: string[] }>('doc');
    await until(() => doc.items, 'the first snapshot');
    doc.items.push('a');
    await settled(doc);
    assert.deepEqual(snapshot(doc), { items: ['a'] });
    assert.deepEqual([...doc.items], ['a'], 'the view shows it once');
  });
});

describe('Client and how the server closes', () => {
  /** A server that welcomes each connection, then closes it with `code` and `reason`; records when each connection came. */
  async function closingServer(t: import('node:test').TestContext, code: number, reason: string) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const arrivals: number[] = [];
    server.on('connection', (ws: WebSocket) => {
      arrivals.push(Date.now());
      ws.on('message', (data) => {
        if (([JSON.parse(String(data))].flat() as { t: string }[]).some((m) => m.t === 'hello')) {
          ws.send(JSON.stringify({ t: 'welcome', proto: 1 }));
          setTimeout(() => ws.close(code, reason), 20);
        }
      });
    });
    t.after(() => new Promise((resolve) => server.close(resolve)));
    return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, arrivals };
  }

  it('waits at least half the retry hint of a restart (1012) before reconnecting, however short its own backoff', async (t) => {
    const { url, arrivals } = await closingServer(t, 1012, 'TWIN_ERR_UNAVAILABLE retry=400: The server is restarting.');
    const client: Client = createClient({ url, WebSocket: NodeWebSocket as unknown as WebSocketClass, minDelay: 5, maxDelay: 20 });
    t.after(() => client.close());
    client.connect();
    await until(() => arrivals.length >= 3, 'two reconnects', 5000);
    for (let i = 1; i < arrivals.length; i++) assert.ok(arrivals[i]! - arrivals[i - 1]! >= 200, `reconnect ${i} came ${arrivals[i]! - arrivals[i - 1]!} ms after the last`);
  });

  it('stops on a refusal (4403): state refused, no reconnect, a pending call and write end refused with the reason', async (t) => {
    const { url, arrivals } = await closingServer(t, 4403, 'TWIN_ERR_ORIGIN: WebSocket connections from http://evil.example are not allowed.');
    const client: Client = createClient({ url, WebSocket: NodeWebSocket as unknown as WebSocketClass, minDelay: 5, maxDelay: 20 });
    t.after(() => client.close());
    const rejects: string[] = [];
    client.addEventListener('reject', (e) => rejects.push((e as CustomEvent<{ code: string }>).detail.code));
    const call = client.call('anything', []).then(() => 'resolved', (err: { code: string; message: string }) => `${err.code} ${err.message}`);
    client.connect();
    await until(() => client.state === 'refused', 'the refused state');
    assert.match(await call, /^TWIN_ERR_ORIGIN .*not allowed/);
    assert.ok(rejects.includes('TWIN_ERR_ORIGIN'));
    // A write and a call made now end refused at once, instead of waiting for a connection that will not come.
    const doc = client.store<{ a?: number }>('doc');
    doc.a = 1;
    await assert.rejects(settled(doc), (err: { code?: string }) => err.code === 'TWIN_ERR_ORIGIN');
    assert.deepEqual(snapshot(doc), {}, 'the write is rolled back');
    assert.match(await client.call('later', []).then(() => 'resolved', (err: { code: string }) => err.code), /TWIN_ERR_ORIGIN/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(arrivals.length, 1, 'no reconnect after a refusal');
    // connect() tries again, on purpose.
    client.connect();
    await until(() => arrivals.length === 2, 'the reconnect asked for');
  });
});

describe('a store first used between the hello and the welcome', () => {
  it('is subscribed once the welcome comes (a sub sent before it would be dropped)', async (t) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const received: { t: string; store?: string; subs?: Record<string, number> }[] = [];
    let helloSeen!: () => void;
    const hello = new Promise<void>((resolve) => (helloSeen = resolve));
    let welcome!: () => void;
    server.on('connection', (ws: WebSocket) => {
      welcome = () => ws.send(JSON.stringify({ t: 'welcome', proto: 1 }));
      ws.on('message', (data) => {
        for (const m of [JSON.parse(String(data))].flat()) {
          received.push(m);
          if (m.t === 'hello') helloSeen();
        }
      });
    });
    const { port } = server.address() as { port: number };
    const client = createClient({ url: `ws://127.0.0.1:${port}`, WebSocket: NodeWebSocket as unknown as WebSocketClass });
    t.after(() => {
      client.close();
      server.close();
    });
    void client.store('first').x;
    client.connect();
    await hello;
    void client.store('second').x; // the hello named `first` only; the welcome has not come
    welcome();
    await until(() => received.some((m) => m.t === 'sub' && m.store === 'second'), 'a sub for the second store');
    assert.deepEqual(Object.keys(received.find((m) => m.t === 'hello')!.subs!), ['first']);
    assert.equal(received.filter((m) => m.t === 'sub' && m.store === 'first').length, 0, 'the first is not subscribed twice');
  });
});
