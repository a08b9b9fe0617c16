// SPDX-License-Identifier: MIT
/**
 * @module presence.test
 * Presence with real sockets (`server/presence.ts`): the grace that hides a reload, expiry of a
 * client that died silently (heartbeat), the 20-frames-a-second pace, limits and bad input
 * (coded errors, the connection stays), who may see and publish, the high-level client (which
 * keeps a store subscribed while its presence is published or watched), and family members
 * (each member its own presence, readable per member).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { defineApp, effect, presence, setPresence } from '../src/index.js';
import type { Json } from '../src/index.js';
import { PRESENCE_MAX_BYTES } from '../src/protocol.js';
import { delay, startServer, until } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';
import { peerId } from './presence.js';
import type { TwinOptions } from './twin.js';

const KEY_A = 'presence-key-of-tab-a-0001';
const KEY_B = 'presence-key-of-tab-b-0002';
const GRACE_MS = 300;
/** How long the client keeps a store it stopped watching (`UNSUB_GRACE` in src/client-core.ts). */
const UNSUB_GRACE_MS = 1000;

function appWithRooms() {
  const app = defineApp();
  app.shared('room', () => ({ topic: '' }));
  app.shared('secret', () => ({ code: 'x' }), { canRead: ({ user }) => user === 'admin' });
  return app;
}

const servers: TestServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function serve(options: TwinOptions = {}): Promise<TestServer> {
  const srv = await startServer(appWithRooms(), { presence: { graceMs: GRACE_MS }, auth: ({ url }) => url.searchParams.get('user') ?? 'anyone', ...options });
  servers.push(srv);
  return srv;
}

/** A raw client that said hello subscribed to `stores`. */
async function joined(srv: TestServer, stores: string[] = ['room'], query?: string): Promise<RawClient> {
  const raw = await srv.raw(query ? { query } : {});
  await raw.hello(undefined, Object.fromEntries(stores.map((s) => [s, 0])));
  for (const s of stores) await raw.next((m) => m.t === 'snapshot' && m.store === s);
  return raw;
}

/** Every peer change `raw` was told about in `store`, in order. */
function presenceMessages(raw: RawClient, store = 'room'): Message[] {
  return raw.messages.filter((m) => m.t === 'presence' && m.store === store && m.self === undefined && !m.rekey);
}

/** What `raw` believes the peers of `store` are now. */
function peersSeen(raw: RawClient, store = 'room'): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const m of presenceMessages(raw, store)) {
    for (const [id, state] of Object.entries(m.peers as Record<string, Json>)) {
      if (state === null) delete out[id];
      else out[id] = state;
    }
  }
  return out;
}

describe('presence', () => {
  it('shows a peer to every reader, under a hashed id, and tells the publisher its own id', async () => {
    const srv = await serve();
    const a = await joined(srv);
    const b = await joined(srv);
    a.send({ t: 'presence', store: 'room', key: KEY_A, state: { name: 'Ada' } });
    const self = await a.next((m) => m.t === 'presence' && typeof m.self === 'string');
    assert.equal(self.self, peerId(KEY_A));
    assert.notEqual(self.self, KEY_A, 'the key itself is never shown');
    await until(() => peersSeen(b)[peerId(KEY_A)], 'b to see a');
    assert.deepEqual(peersSeen(b), { [peerId(KEY_A)]: { name: 'Ada' } });
    assert.ok(!JSON.stringify(b.messages).includes(KEY_A), 'no reader ever sees the key');
    // A newcomer gets everyone at once.
    const c = await joined(srv);
    await until(() => peersSeen(c)[peerId(KEY_A)], 'c to get the list with its subscription');
    // No version bump, nothing in the log.
    const room = await srv.server.hub.load('room');
    assert.equal(room!.v, 0);
    assert.equal(room!.log.length, 0);
  });

  it('grace: a reload (new connection, new client id, same key) shows no leave and no join', async () => {
    const srv = await serve();
    const watcher = await joined(srv);
    const tab = await joined(srv);
    tab.send({ t: 'presence', store: 'room', key: KEY_A, state: { name: 'Ada' } });
    await until(() => peersSeen(watcher)[peerId(KEY_A)], 'the watcher to see the tab');
    const before = presenceMessages(watcher).length;
    await tab.close();
    await delay(GRACE_MS / 3);
    const reloaded = await joined(srv); // a new client id, as a reloaded page has
    reloaded.send({ t: 'presence', store: 'room', key: KEY_A, state: { name: 'Ada' } });
    await reloaded.next((m) => m.t === 'presence' && m.self === peerId(KEY_A));
    await delay(GRACE_MS * 2);
    assert.deepEqual(presenceMessages(watcher).slice(before), [], 'the watcher saw nothing: no leave, no join');
    assert.deepEqual(srv.server.presence.peers('room'), { [peerId(KEY_A)]: { name: 'Ada' } });
    // Without a reload, the peer leaves once the grace is over.
    await reloaded.close();
    await delay(GRACE_MS / 2);
    assert.ok(peersSeen(watcher)[peerId(KEY_A)], 'still there within the grace');
    await until(() => !peersSeen(watcher)[peerId(KEY_A)], 'the peer to leave after the grace', GRACE_MS * 4);
  });

  it('expiry: a client that stops answering (no close frame) is dropped by the heartbeat, then leaves', async () => {
    const srv = await serve({ heartbeat: 100 });
    const watcher = await joined(srv);
    const tab = await joined(srv);
    tab.send({ t: 'presence', store: 'room', key: KEY_B, state: { x: 1 } });
    await until(() => peersSeen(watcher)[peerId(KEY_B)], 'the watcher to see the tab');
    // The tab's machine froze: its socket is never read again, so no pong and no close frame.
    (tab.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    await until(() => !peersSeen(watcher)[peerId(KEY_B)], 'the silent peer to be gone', 3000);
    const took = Date.now() - started;
    assert.ok(took >= GRACE_MS, `gone after the heartbeat and the grace (${took} ms)`);
  });

  it('coalescing: 100 updates in 1 s from one client reach a peer in at most ~21 frames, the last one kept', async () => {
    const srv = await serve();
    const watcher = await joined(srv);
    const mover = await joined(srv);
    const framesBefore = watcher.frames.length;
    const started = Date.now();
    for (let i = 1; i <= 100; i++) {
      mover.send({ t: 'presence', store: 'room', key: KEY_A, state: { x: i } });
      await delay(10);
    }
    await until(() => (peersSeen(watcher)[peerId(KEY_A)] as { x: number } | undefined)?.x === 100, 'the last position');
    const frames = watcher.frames.slice(framesBefore).filter((f) => f.includes('"presence"'));
    // At most one frame per 50 ms of the time it took (a busy machine stretches the 1 s).
    const elapsed = Date.now() - started;
    assert.ok(frames.length <= Math.ceil(elapsed / 50) + 3, `${frames.length} frames carried presence in ${elapsed} ms`);
    assert.ok(frames.length >= 5, `updates were not held back for ever (${frames.length} frames)`);
  });

  it('limits: oversized, malformed, too deep, unknown or unsubscribed store: a coded error, nothing changes, the connection stays', async () => {
    const srv = await serve();
    const watcher = await joined(srv);
    const raw = await joined(srv);
    const cases: [unknown, string][] = [
      [{ t: 'presence', store: 'room', key: KEY_A, state: { text: 'x'.repeat(PRESENCE_MAX_BYTES) } }, 'TWIN_ERR_TOO_BIG'],
      [{ t: 'presence', store: 'room', key: KEY_A, state: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }, 'TWIN_ERR_DEPTH'],
      [{ t: 'presence', store: 'room', key: KEY_A, state: JSON.parse('{"__proto__": {"x": 1}}') as Json }, 'TWIN_ERR_VALUE'],
      [{ t: 'presence', store: 'room', key: 'short', state: 1 }, 'TWIN_ERR_FRAME'],
      [{ t: 'presence', store: 'room', key: KEY_A }, 'TWIN_ERR_FRAME'],
      [{ t: 'presence', store: 'nowhere', key: KEY_A, state: 1 }, 'TWIN_ERR_STORE'],
    ];
    for (const [message, code] of cases) {
      raw.send(message);
      const error = await raw.next((m) => m.t === 'error');
      assert.equal(error.code, code, JSON.stringify(message).slice(0, 80));
    }
    // Readable, but not subscribed to: refused too.
    const other = await joined(srv, []);
    other.send({ t: 'presence', store: 'room', key: KEY_B, state: 1 });
    assert.equal((await other.next((m) => m.t === 'error')).code, 'TWIN_ERR_FORBIDDEN');
    await delay(150);
    assert.deepEqual(srv.server.presence.peers('room'), {}, 'no entry was made');
    assert.deepEqual(presenceMessages(watcher), [], 'no reader heard anything');
    // Still connected, and a good one passes.
    raw.send({ t: 'ping' });
    await raw.next((m) => m.t === 'pong');
    raw.send({ t: 'presence', store: 'room', key: KEY_A, state: { ok: true } });
    await until(() => peersSeen(watcher)[peerId(KEY_A)], 'the good state');
  });

  it('bounds the peers of a store (TWIN_ERR_OVERLOAD past maxPeers)', async () => {
    const srv = await serve({ presence: { graceMs: GRACE_MS, maxPeers: 2 } });
    const clients = await Promise.all([1, 2, 3].map(() => joined(srv)));
    for (const [i, c] of clients.entries()) c.send({ t: 'presence', store: 'room', key: `${KEY_A}-${i}`, state: i });
    assert.equal((await clients[2]!.next((m) => m.t === 'error')).code, 'TWIN_ERR_OVERLOAD');
    assert.equal(Object.keys(srv.server.presence.peers('room')).length, 2);
  });

  it('authorization: a user who may not read a store neither sees nor publishes its presence', async () => {
    const srv = await serve();
    const admin = await joined(srv, ['secret'], 'user=admin');
    admin.send({ t: 'presence', store: 'secret', key: KEY_A, state: { name: 'root' } });
    await admin.next((m) => m.t === 'presence' && typeof m.self === 'string');
    const eve = await srv.raw({ query: 'user=eve' });
    await eve.hello(undefined, { secret: 0, room: 0 });
    assert.equal((await eve.next((m) => m.t === 'error' && m.store === 'secret')).code, 'TWIN_ERR_FORBIDDEN');
    eve.send({ t: 'presence', store: 'secret', key: KEY_B, state: { name: 'eve' } });
    assert.equal((await eve.next((m) => m.t === 'error' && m.store === 'secret')).code, 'TWIN_ERR_FORBIDDEN');
    await delay(150);
    assert.deepEqual(presenceMessages(eve, 'secret'), [], 'eve saw nobody in secret');
    assert.deepEqual(Object.keys(srv.server.presence.peers('secret')), [peerId(KEY_A)]);
  });

  it('nobody publishes as another: the id comes from the key, and a taken-over key tells the old page to rekey', async () => {
    const srv = await serve();
    const a = await joined(srv);
    const b = await joined(srv);
    a.send({ t: 'presence', store: 'room', key: KEY_A, state: { name: 'Ada' } });
    await a.next((m) => m.t === 'presence' && typeof m.self === 'string');
    // b knows a's public id, not its key: naming the id as a key makes another peer.
    b.send({ t: 'presence', store: 'room', key: `${peerId(KEY_A)}xx`, state: { name: 'Mallory' } });
    await b.next((m) => m.t === 'presence' && typeof m.self === 'string');
    const peers = srv.server.presence.peers('room');
    assert.deepEqual(peers[peerId(KEY_A)], { name: 'Ada' }, "a's entry is a's");
    assert.equal(Object.keys(peers).length, 2);
    // A duplicated tab (same key, both live): the newest holds the entry, the other is told to rekey.
    const twin = await joined(srv);
    twin.send({ t: 'presence', store: 'room', key: KEY_A, state: { name: 'Ada (copy)' } });
    await a.next((m) => m.t === 'presence' && m.rekey === true);
    // The old page withdrawing with that key does not remove the new holder's entry.
    a.send({ t: 'presence', store: 'room', key: KEY_A, state: null });
    a.send({ t: 'ping' });
    await a.next((m) => m.t === 'pong');
    assert.deepEqual(srv.server.presence.peers('room')[peerId(KEY_A)], { name: 'Ada (copy)' });
    a.send({ t: 'presence', store: 'room', key: KEY_B, state: { name: 'Ada' } });
    await until(() => Object.keys(srv.server.presence.peers('room')).length === 3, 'the rekeyed tab as a peer of its own');
  });

  it('the client: presence() is a signal of the peers with self marked, setPresence coalesces, re-published after a reconnect', async () => {
    const srv = await serve();
    const one = srv.client();
    const two = srv.client();
    const roomOne = storeOf(one);
    const roomTwo = storeOf(two);
    setPresence(roomOne, { name: 'One' });
    assert.deepEqual(presence(roomOne).map((p) => [p.state, p.self]), [[{ name: 'One' }, true]], 'the own entry shows at once');
    setPresence(roomTwo, { name: 'Two' });
    await until(() => presence(roomOne).length === 2 && presence(roomTwo).length === 2, 'both to see both');
    assert.deepEqual(presence(roomOne).map((p) => p.self), [true, false]);
    assert.equal(presence(roomOne)[0]!.id, presence(roomTwo)[1]!.id, 'the same id on both sides');
    assert.throws(() => setPresence(roomOne, { big: 'x'.repeat(2000) }), { code: 'TWIN_ERR_TOO_BIG' });
    // Reconnect: the entry comes back (within the grace, nobody saw it go).
    one.connect();
    await until(() => one.state === 'online', 'one to reconnect');
    await delay(200);
    assert.deepEqual(presence(roomTwo).map((p) => p.state), [{ name: 'Two' }, { name: 'One' }]);
    setPresence(roomOne, undefined);
    await until(() => presence(roomTwo).length === 1, 'a withdrawn entry to leave');
  });

  it('the client keeps a store subscribed while its presence is published or watched, though nothing reads its value', async () => {
    const srv = await serve();
    const one = srv.client();
    const two = srv.client();
    const roomOne = one.store<{ topic: string }>('room');
    const roomTwo = two.store<{ topic: string }>('room');
    // Each page shows the room's topic for a while (a binding), then no longer does.
    const stopTopics = [effect(() => void roomOne.topic), effect(() => void roomTwo.topic)];
    // One only publishes; two only watches.
    setPresence(roomOne, { name: 'One' });
    let seenByTwo: Json[] = [];
    const stopPeers = effect(() => {
      seenByTwo = presence(roomTwo).map((p) => p.state);
    });
    await until(() => seenByTwo.length === 1, 'two to see one');
    for (const stop of stopTopics) stop();
    // Past the client's grace before it lets go of an unwatched store (1 s).
    await delay(UNSUB_GRACE_MS + 300);
    const room = await srv.server.hub.load('room');
    assert.equal(room!.subscribers.size, 2, 'both pages are still subscribed');
    assert.deepEqual(Object.values(srv.server.presence.peers('room')), [{ name: 'One' }], "one's entry stayed");
    setPresence(roomOne, { name: 'One again' });
    await until(() => JSON.stringify(seenByTwo) === '[{"name":"One again"}]', 'two to hear the new state');
    // Neither published nor watched any more: the store is let go (it was only presence's).
    stopPeers();
    setPresence(roomOne, undefined);
    await until(() => room!.subscribers.size === 0, 'both pages to let go of the store', UNSUB_GRACE_MS + 1000);
    assert.deepEqual(srv.server.presence.peers('room'), {});
  });
});

describe('presence on family members', () => {
  it('is per member: two clients see each other in room/1 and not in room/2, and canRead applies per member', async () => {
    const app = defineApp();
    app.shared('room', (id: string) => ({ id }), { family: true, canRead: ({ user, store }) => store !== 'room/vip' || user === 'admin' });
    const srv = await startServer(app, { presence: { graceMs: GRACE_MS }, auth: ({ url }) => url.searchParams.get('user') ?? 'anyone' });
    servers.push(srv);
    const ada = srv.client({ url: `${srv.url}?user=admin` });
    const bob = srv.client({ url: `${srv.url}?user=bob` });
    const [ada1, ada2, bob1, bob2] = [ada.store('room/1'), ada.store('room/2'), bob.store('room/1'), bob.store('room/2')];
    const states = (store: object) => presence(store).map((p) => p.state);
    setPresence(ada1, { name: 'Ada' });
    setPresence(bob1, { name: 'Bob' });
    await until(() => presence(ada1).length === 2 && presence(bob1).length === 2, 'both to see both in room/1');
    assert.deepEqual(states(ada1), [{ name: 'Ada' }, { name: 'Bob' }]);
    assert.deepEqual(states(bob1), [{ name: 'Bob' }, { name: 'Ada' }]);
    assert.equal(presence(ada1)[1]!.id, presence(bob1)[0]!.id, "Bob's id, the same on both sides");
    // Both read room/2 as well: nobody is there, and an entry there stays there.
    assert.deepEqual([states(ada2), states(bob2)], [[], []]);
    setPresence(bob2, { name: 'Bob in 2' });
    await until(() => presence(ada2).length === 1, 'Ada to see Bob in room/2');
    assert.deepEqual(states(ada2), [{ name: 'Bob in 2' }]);
    await delay(150);
    assert.deepEqual(states(ada1), [{ name: 'Ada' }, { name: 'Bob' }], "room/2's entry is not room/1's");
    assert.deepEqual(Object.values(srv.server.presence.peers('room/1')).map((p) => (p as { name: string }).name).sort(), ['Ada', 'Bob']);
    assert.deepEqual(Object.values(srv.server.presence.peers('room/2')), [{ name: 'Bob in 2' }]);
    // room/vip is the admin's only; eve may read the other members.
    const adaVip = ada.store('room/vip');
    setPresence(adaVip, { name: 'Ada' });
    await until(() => Object.keys(srv.server.presence.peers('room/vip')).length === 1, "Ada's entry in room/vip");
    const eve = await srv.raw({ query: 'user=eve' });
    await eve.hello(undefined, { 'room/vip': 0, 'room/1': 0 });
    assert.equal((await eve.next((m) => m.t === 'error' && m.store === 'room/vip')).code, 'TWIN_ERR_FORBIDDEN');
    await until(() => Object.keys(peersSeen(eve, 'room/1')).length === 2, 'eve to get the peers of room/1');
    eve.send({ t: 'presence', store: 'room/vip', key: KEY_B, state: { name: 'eve' } });
    assert.equal((await eve.next((m) => m.t === 'error' && m.store === 'room/vip')).code, 'TWIN_ERR_FORBIDDEN');
    setPresence(adaVip, { name: 'Ada, moved' });
    await until(() => JSON.stringify(srv.server.presence.peers('room/vip')).includes('moved'), 'the move to reach the server');
    await delay(150);
    assert.deepEqual(presenceMessages(eve, 'room/vip'), [], 'eve heard nobody in room/vip');
    assert.deepEqual(Object.values(srv.server.presence.peers('room/vip')), [{ name: 'Ada, moved' }]);
  });
});

function storeOf(client: ReturnType<TestServer['client']>): object {
  return client.store('room');
}
