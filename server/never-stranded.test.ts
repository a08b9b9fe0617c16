// SPDX-License-Identifier: MIT
/**
 * @module never-stranded.test
 * Issue 11, case by case: every write a client shows ends exactly once, confirmed or reported
 * refused, when client and server refuse each other — over the rate limit, offline with a
 * full outbox, an oversized write, unknown and forbidden stores in `hello`/`sub`, and storage
 * that fails (our own adapter made to fail; a real redis-server stopped and frozen). Real
 * servers, the project's client over real `ws` sockets (recorded: the wire is the witness), a
 * TCP forwarder that really cuts them. Each test prints its counts: acknowledged, lost,
 * duplicated, wrongly confirmed (all but the first must be 0).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { TestContext } from 'node:test';
import { createClient, defineApp, ErrorCode, settled, snapshot, status } from '../src/index.js';
import { createMemoryStorage, createStorage } from './index.js';
import type { StorageAdapter, TwinOptions } from './index.js';
import { defineFixtureApp } from '../test/fixtures/app.js';
import type { Board, FixtureApp } from '../test/fixtures/app.js';
import { startCutProxy } from '../test/helpers/cut-proxy.js';
import type { CutProxy } from '../test/helpers/cut-proxy.js';
import { failingStorage, STORAGE_FAILURE_MESSAGE } from '../test/helpers/failing-storage.js';
import { startNode } from '../test/helpers/node-process.js';
import type { NodeProcess } from '../test/helpers/node-process.js';
import { startRedisProcess } from '../test/helpers/redis-process.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';
import { delay, nextTurn, outcomeOf, trackedWriter, waitFor } from '../test/helpers/tracked-writer.js';
import type { TrackedWriter } from '../test/helpers/tracked-writer.js';
import { answerTo, boardSubscriber, occurrences, pushOp, sendOps } from '../test/helpers/raw-batches.js';
import { recordingWebSocket } from '../test/helpers/wire-recorder.js';
import { assertFramesWithin, assertWelcomeStatesLimits, cutAndReconnect, refusalCounts } from '../test/helpers/wire-checks.js';

const TEST_TIMEOUT_MS = 30_000;
/** The codes a server marks retryable (`retry: true`): its own trouble or a limit, never the batch's fault. */
const RETRYABLE = new Set<string>([ErrorCode.RATE, ErrorCode.ORDER, ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL]);
/** The default frame limits (src/protocol.ts, DEFAULT_LIMITS) the client must keep to when the server states them. */
const DEFAULT_MAX_FRAME_BYTES = 1 << 20;
const DEFAULT_MAX_MESSAGES = 256;
/** The app `twin-state serve` runs in the crash test. */
const FIXTURE_APP = 'test/fixtures/app.ts';
/** An oversized write: 1.5 MB, over the default 1 MiB frame limit. */
const BIG_WRITE_BYTES = 1.5e6;

//#region helpers

/**
 * A fixture app served on 127.0.0.1 (closed after the test), and a cuttable forwarder to it.
 * What the server logs for its operator (storage failures, say) is kept in `logged`, not printed.
 */
async function serveBoard(t: TestContext, options: TwinOptions = {}, port?: number): Promise<{ srv: TestServer; fixture: FixtureApp; proxy: CutProxy; logged: string[] }> {
  const fixture = defineFixtureApp();
  const logged: string[] = [];
  const keep = (...args: unknown[]): void => void logged.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  const srv = await startServer(fixture.app, { logger: { warn: keep, error: keep }, ...options }, port === undefined ? {} : { port });
  const proxy = await startCutProxy(srv.port);
  t.after(async () => {
    await proxy.close();
    await srv.close();
  });
  return { srv, fixture, proxy, logged };
}

/** A tracked client of `url`, online with the board, closed after the test. */
async function writer(t: TestContext, url: string): Promise<TrackedWriter> {
  const w = trackedWriter(url);
  t.after(() => w.close());
  await w.ready();
  return w;
}

/** The server's board as a plain object. */
function serverBoard(fixture: FixtureApp): Board {
  return snapshot(fixture.board) as Board;
}

/**
 * Waits until every writer's view equals the server's board (each has nothing pending by
 * then, but may not have heard the others' last batches yet), and checks that the counter
 * holds exactly the increments of the writes on the server.
 */
async function converged(fixture: FixtureApp, writers: readonly TrackedWriter[]): Promise<Board> {
  await waitFor(() => writers.every((w) => isDeepStrictEqual(snapshot(w.board), serverBoard(fixture))), 'every writer to converge to the server', 10_000);
  const server = serverBoard(fixture);
  const expected = writers.reduce((sum, w) => sum + w.ledger.tally(server.items).expectedCounter, 0);
  assert.equal(server.counter, expected, 'the server\'s counter holds exactly the increments of the writes it holds');
  return server;
}

//#endregion helpers

describe('over the rate limit, then a reconnect', () => {
  it('300 writes in a burst under a tight rate limit and a cut socket: each confirmed once or reported refused; settled() tells which', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const limits = { rate: 100, burst: 50 };
    const { fixture, proxy } = await serveBoard(t, { limits });
    // Written at once by a page hydrated by the server, before it was ever welcomed: it does not know the limits yet.
    const w = trackedWriter(proxy.url, { hydrated: true });
    t.after(() => w.close());
    await w.write(300, 'rate');
    const outcome = outcomeOf(settled(w.board));
    await delay(800);
    const pendingAtCut = status(w.board).pending;
    proxy.cut();
    t.diagnostic(`${pendingAtCut} writes unconfirmed when the socket was cut`);
    await w.quiesced(20_000, { t, label: 'rate + cut', server: () => serverBoard(fixture) });
    await waitFor(() => outcome.current.state !== 'pending', 'settled() to end');

    const tally = w.judge(t, 'rate + cut', serverBoard(fixture));
    t.diagnostic(`refusals on the wire: ${refusalCounts(w.log)}; settled() ${JSON.stringify(outcome.current)}; sockets opened ${w.log.sockets.length}`);
    assert.equal(outcome.current.state, tally.refused === 0 ? 'resolved' : 'rejected', 'settled() resolves only if every write was confirmed');
    assert.equal(w.client.state, 'online');
    assertWelcomeStatesLimits(w.log, limits);
    assertFramesWithin(w.log, limits.burst, DEFAULT_MAX_FRAME_BYTES, 'rate + cut');
    assert.ok(!w.log.received.some((m) => m.t === 'error' && m.code === ErrorCode.RATE), 'a rate refusal is never an error without a batch id');
    assert.ok(!w.log.closes.some((c) => c.code === 1008), 'the client was not disconnected for abuse');
  });

  it('a restart that tightens the rate limit while 300 writes wait, then a cut: each confirmed once or reported refused', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const storage = createMemoryStorage();
    t.after(() => storage.close());
    const before = defineFixtureApp();
    const loose = await startServer(before.app, { storage });
    const proxy = await startCutProxy(loose.port);
    t.after(() => proxy.close());
    const w = await writer(t, proxy.url);
    await loose.close();
    await waitFor(() => w.client.state !== 'online', 'the client to notice the stop');
    await w.write(300, 'tight');
    const outcome = outcomeOf(settled(w.board));
    // The same app redeployed with tighter limits: the client learns them only from the new welcome.
    const limits = { rate: 100, burst: 40 };
    const after = defineFixtureApp();
    const tight = await startServer(after.app, { storage, limits });
    t.after(() => tight.close());
    proxy.target = tight.port;
    await waitFor(() => w.log.received.filter((m) => m.t === 'welcome').length >= 2, 'the client to be welcomed by the new server');
    await delay(300);
    const pendingAtCut = status(w.board).pending;
    proxy.cut();
    t.diagnostic(`${pendingAtCut} writes unconfirmed when the socket was cut`);
    await w.quiesced(20_000, { t, label: 'tightened + cut', server: () => serverBoard(after) });
    await waitFor(() => outcome.current.state !== 'pending', 'settled() to end');
    const tally = w.judge(t, 'tightened + cut', serverBoard(after));
    t.diagnostic(`refusals on the wire: ${refusalCounts(w.log)}; settled() ${JSON.stringify(outcome.current)}; sockets opened ${w.log.sockets.length}`);
    assert.equal(outcome.current.state, tally.refused === 0 ? 'resolved' : 'rejected', 'settled() resolves only if every write was confirmed');
    assert.equal(w.client.state, 'online');
    assert.ok(!w.log.received.some((m) => m.t === 'error' && m.code === ErrorCode.RATE), 'a rate refusal is never an error without a batch id');
    assert.ok(!w.log.closes.some((c) => c.code === 1008), 'the client was not disconnected for abuse');
  });

  it('a rate refusal names its batch and is retryable; later seqs are refused (TWIN_ERR_ORDER) until it is sent again; none is "already applied" unapplied', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { srv, fixture } = await serveBoard(t, { limits: { rate: 20, burst: 10 } });
    const raw = await boardSubscriber(srv);
    const tokens = Array.from({ length: 20 }, (_, i) => `raw-${i + 1}`);
    for (let seq = 1; seq <= tokens.length; seq++) sendOps(raw, pushOp(raw, seq, tokens[seq - 1]!));

    const first = new Map<number, Message>();
    for (let seq = 1; seq <= tokens.length; seq++) first.set(seq, await answerTo(raw, `${raw.clientId}:${seq}`));
    const refused = [...first].filter(([, m]) => m.t === 'reject').map(([seq]) => seq);
    t.diagnostic(`first pass: ${tokens.length - refused.length} applied, refused ${refused.length}: ${[...new Set(refused.map((s) => `${first.get(s)!.code}${first.get(s)!.retry ? ' (retry)' : ''}`))].join(', ')}`);
    assert.ok(refused.length > 0, 'a burst of 20 over a burst limit of 10 is refused in part');
    const gap = refused[0]!;
    assert.deepEqual(refused, Array.from({ length: tokens.length - gap + 1 }, (_, i) => gap + i), 'after the first refused seq, every later one is refused too');
    for (const seq of refused) {
      const m = first.get(seq)!;
      assert.equal(m.retry, true, `seq ${seq}: the refusal is retryable`);
      assert.ok(m.code === ErrorCode.RATE || m.code === ErrorCode.ORDER, `seq ${seq}: refused with ${String(m.code)}`);
    }
    assert.equal(first.get(gap)!.code, ErrorCode.RATE, 'the first refusal says why: the rate');

    await delay(600); // the bucket refills
    if (refused.length > 1) {
      // The one after the gap, first: it must wait for the gap to be filled.
      sendOps(raw, pushOp(raw, gap + 1, tokens[gap]!));
      const early = await answerTo(raw, `${raw.clientId}:${gap + 1}`);
      assert.deepEqual([early.t, early.code, early.retry], ['reject', ErrorCode.ORDER, true], `seq ${gap + 1} sent before seq ${gap} waits for it: ${JSON.stringify(early)}`);
      await delay(100);
    }
    for (const seq of refused) {
      sendOps(raw, pushOp(raw, seq, tokens[seq - 1]!));
      const answer = await answerTo(raw, `${raw.clientId}:${seq}`);
      assert.equal(answer.t, 'sync', `seq ${seq} sent again at a fair pace is applied: ${JSON.stringify(answer)}`);
      assert.ok(Array.isArray(answer.ops) && answer.ops.length > 0, `seq ${seq} was applied now, not confirmed as "already applied"`);
      await delay(120);
    }
    assert.deepEqual(occurrences(serverBoard(fixture).items, tokens), tokens.map(() => 1), 'every batch is on the server exactly once');
  });
});

describe('offline with 300 unconfirmed writes', () => {
  it('socket cut and the network down while 300 writes queue: all 300 committed exactly once when it is back', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { fixture, proxy } = await serveBoard(t);
    const w = await writer(t, proxy.url);
    proxy.down = true;
    proxy.cut();
    await waitFor(() => w.client.state !== 'online', 'the client to notice the cut');
    await w.write(300, 'offline');
    assert.equal(status(w.board).pending, 300, 'the 300 writes wait, unconfirmed');
    const outcome = outcomeOf(settled(w.board));
    await delay(300);
    proxy.down = false;
    await w.quiesced(20_000, { t, label: 'offline (cut)', server: () => serverBoard(fixture) });
    const tally = w.judge(t, 'offline (cut)', serverBoard(fixture));
    t.diagnostic(`refusals on the wire: ${refusalCounts(w.log)}; frames sent ${w.log.sentFrames.length}, largest ${Math.max(...w.log.sentFrames.map((f) => f.messages))} messages`);
    assert.equal(tally.acknowledged, 300, 'all 300 are committed and confirmed');
    await waitFor(() => outcome.current.state !== 'pending', 'settled() to end');
    assert.deepEqual(outcome.current, { state: 'resolved' });
    assertFramesWithin(w.log, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_FRAME_BYTES, 'offline (cut)');
  });

  it('server stopped while 300 writes queue, restarted on the same storage and port: all 300 committed exactly once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const storage = createMemoryStorage();
    t.after(() => storage.close());
    const first = defineFixtureApp();
    const srv1 = await startServer(first.app, { storage });
    const w = await writer(t, srv1.url);
    await srv1.close();
    await waitFor(() => w.client.state !== 'online', 'the client to notice the stop');
    await w.write(300, 'restart');
    assert.equal(status(w.board).pending, 300);

    const second = defineFixtureApp();
    const srv2 = await startServer(second.app, { storage }, { port: srv1.port });
    t.after(() => srv2.close());
    await w.quiesced(20_000, { t, label: 'offline (restart)', server: () => serverBoard(second) });
    const tally = w.judge(t, 'offline (restart)', serverBoard(second));
    t.diagnostic(`refusals on the wire: ${refusalCounts(w.log)}`);
    assert.equal(tally.acknowledged, 300, 'all 300 are committed and confirmed');
    assertFramesWithin(w.log, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_FRAME_BYTES, 'offline (restart)');
  });
});

describe('offline with 300 unconfirmed writes, the server crashed', () => {
  it('a SQLite server process SIGKILLed, 300 writes queued, restarted on its file and port: all 300 committed exactly once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-stranded-'));
    const storage = `sqlite:${path.join(dir, 'crash.db')}`;
    const nodes: NodeProcess[] = [];
    t.after(async () => {
      await Promise.allSettled(nodes.map((n) => n.kill()));
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const first = await startNode({ app: FIXTURE_APP, storage });
    nodes.push(first);
    const w = await writer(t, first.url);
    w.writeOne('before-crash', 1);
    await w.quiesced();
    await first.kill();
    await waitFor(() => w.client.state !== 'online', 'the client to notice the crash');
    await w.write(300, 'crash');
    assert.equal(status(w.board).pending, 300);
    const second = await startNode({ app: FIXTURE_APP, storage, port: first.port });
    nodes.push(second);
    await w.quiesced(20_000);
    // The server's state as a fresh client of the restarted process sees it.
    const checker = await writer(t, second.url);
    const server = snapshot(checker.board) as Board;
    const tally = w.judge(t, 'offline (SIGKILL)', server);
    assert.equal(tally.acknowledged, 301, 'the write before the crash and all 300 after it are committed and confirmed');
    assertFramesWithin(w.log, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_FRAME_BYTES, 'offline (SIGKILL)');
  });
});

describe('an oversized write', () => {
  it('is refused locally at once with TWIN_ERR_TOO_BIG and rolled back; the writes around it are confirmed, also after a reconnect', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { fixture, proxy } = await serveBoard(t);
    const w = await writer(t, proxy.url);
    w.board.last = 'before';
    await settled(w.board);

    w.writeOne('pre', 1);
    await nextTurn();
    const big = 'x'.repeat(BIG_WRITE_BYTES);
    let thrown: unknown;
    let sameTurn: ReturnType<typeof outcomeOf> | undefined;
    try {
      w.board.last = big;
      sameTurn = outcomeOf(settled(w.board)); // waits for the big write too
    } catch (err) {
      thrown = err; // refusing by throwing is "at once" too
    }
    await nextTurn();
    const tooBig = (): boolean => (thrown as { code?: string } | undefined)?.code === ErrorCode.TOO_BIG
      || w.ledger.rejects.some((r) => r.code === ErrorCode.TOO_BIG);
    await waitFor(tooBig, 'the oversized write to be refused with TWIN_ERR_TOO_BIG', 200);
    assert.notEqual(w.board.last, big, 'the oversized write is rolled back');
    assert.equal(w.board.last, 'before');
    assert.ok(w.board.items.includes('pre'), 'the write pending before it is untouched');
    if (sameTurn) {
      await waitFor(() => sameTurn!.current.state !== 'pending', 'settled() to end', 5_000);
      assert.deepEqual(sameTurn.current, { state: 'rejected', code: ErrorCode.TOO_BIG }, 'settled() rejects: something it waited for was refused');
    }

    for (let i = 0; i < 5; i++) {
      w.writeOne(`small-${i}`, 1);
      await nextTurn();
    }
    await w.quiesced();
    assertFramesWithin(w.log, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_FRAME_BYTES, 'oversized');

    await cutAndReconnect(proxy, w);
    w.writeOne('after-reconnect', 1);
    await w.quiesced();
    const server = serverBoard(fixture);
    const tally = w.judge(t, 'oversized', server);
    assert.equal(tally.acknowledged, 7, 'pre, the 5 small writes and the one after the reconnect are confirmed');
    assert.equal(server.last, 'before', 'the server never got the oversized value');
    assert.equal(w.ledger.rejects.filter((r) => r.code === ErrorCode.TOO_BIG).length, thrown ? 0 : 1, 'the refusal is reported once');
  });
});

describe('subscriptions fail one by one', () => {
  /** An app with a readable store, a forbidden one, and a server that serves it. */
  async function serveThree(t: TestContext) {
    const app = defineApp();
    const open = app.shared('open', () => ({ n: 0 }));
    app.shared('secret', () => ({ code: 'swordfish' }), { canRead: () => false });
    const srv = await startServer(app);
    const proxy = await startCutProxy(srv.port);
    t.after(async () => {
      await proxy.close();
      await srv.close();
    });
    return { srv, proxy, open };
  }

  /** After hello or sub for nope, secret and open: an error each for the first two, a snapshot for the third. */
  async function assertServedOneByOne(raw: RawClient, from: number): Promise<void> {
    await raw.next((m) => m.t === 'snapshot' && m.store === 'open');
    await delay(100);
    const got = raw.since(from);
    const nope = got.find((m) => m.t === 'error' && m.store === 'nope');
    const secret = got.find((m) => m.t === 'error' && m.store === 'secret');
    assert.equal(nope?.code, ErrorCode.STORE, `an unknown store gets its own error: ${JSON.stringify(got).slice(0, 400)}`);
    assert.equal(secret?.code, ErrorCode.FORBIDDEN, 'a forbidden store gets its own error');
    assert.ok(!got.some((m) => (m.t === 'snapshot' || m.t === 'sync') && m.store !== 'open'), 'no data of the refused stores');
    assert.equal(raw.ws.readyState, raw.ws.OPEN, 'the connection stays up');
  }

  it('hello and sub with an unknown, a forbidden and a readable store: errors for the first two, the third is served', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { srv, proxy, open } = await serveThree(t);
    const viaHello = await srv.raw();
    await viaHello.hello(newClientId(), { nope: 0, secret: 0, open: 0 });
    await assertServedOneByOne(viaHello, 0);

    const viaSub = await srv.raw();
    await viaSub.hello(newClientId(), {});
    const from = viaSub.messages.length;
    viaSub.send([{ t: 'sub', store: 'nope', v: 0 }, { t: 'sub', store: 'secret', v: 0 }, { t: 'sub', store: 'open', v: 0 }]);
    await assertServedOneByOne(viaSub, from);
    sendOps(viaSub, { t: 'op', id: `${viaSub.clientId}:1`, store: 'open', ops: [{ op: 'set', path: ['n'], value: 1 }] });
    assert.equal((await answerTo(viaSub, `${viaSub.clientId}:1`)).t, 'sync', 'the served store takes writes');

    // The project's client: a page that outlived a deploy (nope) or a permission (secret).
    const wire = recordingWebSocket();
    const client = createClient({ url: proxy.url, WebSocket: wire.WebSocket, minDelay: 20, maxDelay: 250 }).connect();
    t.after(() => client.close());
    const stores = ['nope', 'secret', 'open'].map((name) => client.store<{ n?: number }>(name));
    for (const s of stores) void Object.keys(s); // reading subscribes
    const w = { client, log: wire.log };
    await waitFor(() => w.client.state === 'online' && stores[2]!.n === 1, 'the client to get the open store');
    open.n = 5;
    await waitFor(() => stores[2]!.n === 5, 'a server write to reach the client');
    await cutAndReconnect(proxy, w); // the next hello names all three again
    open.n = 6;
    await waitFor(() => stores[2]!.n === 6, 'a server write to reach the client after the reconnect');
    const codes = w.log.received.filter((m) => m.t === 'error').map((m) => `${String(m.store)} ${String(m.code)}`);
    t.diagnostic(`client errors: ${codes.join(', ')}`);
    assert.ok(codes.includes(`nope ${ErrorCode.STORE}`) && codes.includes(`secret ${ErrorCode.FORBIDDEN}`), 'each refused store was named');
  });
});

describe('storage failing', () => {
  it('appends failing for 1.5 s: clients get retryable refusals, are not disconnected, and every write lands once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const disk = failingStorage(createMemoryStorage());
    t.after(() => disk.storage.close());
    const { srv, fixture, proxy, logged } = await serveBoard(t, { storage: disk.storage });
    const writers = await Promise.all([0, 1, 2].map(() => writer(t, proxy.url)));
    disk.failing = true;
    const writing = writers.map((w, i) => w.write(100, `disk${i}`, 10));
    await delay(500);
    // Reads go on while appends fail: a newcomer gets the board.
    const reader = await srv.raw();
    await reader.hello(newClientId(), { board: 0 });
    await reader.next((m) => m.t === 'snapshot' && m.store === 'board', 3_000);
    await delay(1_000);
    disk.failing = false;
    await Promise.all(writing);
    for (const [i, w] of writers.entries()) await w.quiesced(20_000, { t, label: `writer ${i}`, server: () => serverBoard(fixture) });

    const server = await converged(fixture, writers);
    for (const [i, w] of writers.entries()) {
      const tally = w.judge(t, `writer ${i}`, server, false);
      t.diagnostic(`writer ${i} refusals on the wire: ${refusalCounts(w.log)}`);
      assert.equal(tally.acknowledged, 100, `writer ${i}: every write landed once storage was back`);
    }
    t.diagnostic(`appends refused by storage: ${disk.refused}; lines logged for the operator: ${logged.length}`);
    assert.ok(disk.refused > 0, 'the storage did fail');
    assert.ok(logged.some((line) => line.includes(STORAGE_FAILURE_MESSAGE)), 'whoever runs the server hears of the storage failure');
    const all = writers.flatMap((w) => w.log.received);
    assert.ok(all.some((m) => m.t === 'reject' && m.code === ErrorCode.UNAVAILABLE && m.retry === true), 'clients are told: unavailable, retry');
    assert.deepEqual(all.filter((m) => m.t === 'reject' && !RETRYABLE.has(String(m.code))).slice(0, 3), [], 'no final refusal for the server\'s trouble');
    assert.deepEqual(all.filter((m) => m.t === 'error' && m.code === ErrorCode.RATE).slice(0, 3), [], 'storage failures are not strikes');
    assert.ok(!writers.some((w) => w.log.closes.some((c) => c.code === 1008)), 'no client was disconnected with 1008');
  });

  it('dedup cannot lie: a batch refused for the storage is re-sent and applied, later ones wait (TWIN_ERR_ORDER), a final refusal stays refused', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const disk = failingStorage(createMemoryStorage());
    t.after(() => disk.storage.close());
    const { srv, fixture } = await serveBoard(t, { storage: disk.storage });
    const id = newClientId();
    const raw = await boardSubscriber(srv, id);
    sendOps(raw, pushOp(raw, 1, 't1'));
    assert.equal((await answerTo(raw, `${id}:1`)).t, 'sync');

    disk.failing = true;
    // 70 batches while storage fails: more refusals than the 50 strikes a client may earn.
    for (let seq = 2; seq <= 71; seq += 10) {
      sendOps(raw, Array.from({ length: 10 }, (_, i) => pushOp(raw, seq + i, `t${seq + i}`)));
      await delay(60);
    }
    for (let seq = 2; seq <= 71; seq++) {
      const answer = await answerTo(raw, `${id}:${seq}`);
      assert.equal(answer.t, 'reject', `seq ${seq} cannot be committed now`);
      assert.equal(answer.retry, true, `seq ${seq}: retryable`);
      assert.equal(answer.code, seq === 2 ? ErrorCode.UNAVAILABLE : answer.code, 'the first says unavailable');
      assert.ok(answer.code === ErrorCode.UNAVAILABLE || answer.code === ErrorCode.ORDER, `seq ${seq}: ${String(answer.code)}`);
    }
    await delay(100);
    assert.equal(raw.ws.readyState, raw.ws.OPEN, 'refusals for the server\'s trouble are not strikes');

    disk.failing = false;
    sendOps(raw, pushOp(raw, 72, 't72')); // skips the refused ones: must wait for them
    const early = await answerTo(raw, `${id}:72`);
    assert.equal(early.t, 'reject', 'a later seq is not applied over a gap');
    assert.equal(early.code, ErrorCode.ORDER);
    assert.equal(early.retry, true);
    for (let seq = 2; seq <= 72; seq += 10) {
      const last = Math.min(seq + 9, 72);
      sendOps(raw, Array.from({ length: last - seq + 1 }, (_, i) => pushOp(raw, seq + i, `t${seq + i}`)));
      for (let s = seq; s <= last; s++) {
        const answer = await answerTo(raw, `${id}:${s}`);
        assert.equal(answer.t, 'sync', `seq ${s} re-sent in order is applied: ${JSON.stringify(answer)}`);
        assert.ok(Array.isArray(answer.ops) && answer.ops.length > 0, `seq ${s} is applied now, never "already applied"`);
      }
      await delay(60);
    }

    // A final refusal is recorded: re-sent later, even after a later seq was committed, it is refused again.
    sendOps(raw, { t: 'op', id: `${id}:73`, store: 'board', ops: [{ op: 'push', path: ['nowhere', 'deep'], values: ['t73'] }] });
    const final = await answerTo(raw, `${id}:73`);
    assert.equal(final.t, 'reject');
    assert.notEqual(final.retry, true, 'bad input is refused for good');
    sendOps(raw, pushOp(raw, 74, 't74'));
    assert.equal((await answerTo(raw, `${id}:74`)).t, 'sync', 'a final refusal does not hold later seqs');
    await raw.close();
    const again = await boardSubscriber(srv, id);
    sendOps(again, { t: 'op', id: `${id}:73`, store: 'board', ops: [{ op: 'push', path: ['nowhere', 'deep'], values: ['t73'] }] });
    const replay = await answerTo(again, `${id}:73`);
    assert.equal(replay.t, 'reject', `a batch refused for good is never answered "already applied": ${JSON.stringify(replay)}`);
    assert.equal(replay.code, final.code);

    const tokens = Array.from({ length: 72 }, (_, i) => `t${i + 1}`).concat('t74');
    const items = serverBoard(fixture).items;
    assert.deepEqual(occurrences(items, tokens), tokens.map(() => 1), 'every batch applied exactly once');
    assert.deepEqual(items, tokens, 'in seq order');
  });

  /** Two tracked writers on a Redis-backed server while `outage` happens to the redis-server. */
  async function redisOutage(t: TestContext, label: string, outage: (redis: Awaited<ReturnType<typeof startRedisProcess>>) => Promise<void>): Promise<void> {
    const redis = await startRedisProcess();
    t.after(() => redis.dispose());
    const storage: StorageAdapter = await createStorage(redis.url);
    t.after(() => storage.close());
    const { fixture, proxy } = await serveBoard(t, { storage });
    const writers = await Promise.all([0, 1].map(() => writer(t, proxy.url)));
    const writing = writers.map((w, i) => w.write(100, `${label}${i}`, 15));
    await delay(300);
    await outage(redis);
    await Promise.all(writing);
    for (const [i, w] of writers.entries()) await w.quiesced(15_000, { t, label: `${label} writer ${i}`, server: () => serverBoard(fixture) });
    const server = await converged(fixture, writers);
    for (const [i, w] of writers.entries()) {
      const tally = w.judge(t, `${label} writer ${i}`, server, false);
      t.diagnostic(`${label} writer ${i} refusals on the wire: ${refusalCounts(w.log)}`);
      assert.equal(tally.acknowledged, 100, `${label} writer ${i}: every write landed once Redis was back`);
      assert.ok(!w.log.received.some((m) => m.t === 'error' && m.code === ErrorCode.RATE), 'storage failures are not strikes');
      assert.ok(!w.log.closes.some((c) => c.code === 1008), 'no client was disconnected with 1008');
      assert.deepEqual(w.log.received.filter((m) => m.t === 'reject' && m.retry !== true).slice(0, 3), [], 'no final refusal for the server\'s trouble');
    }
  }

  it('redis-server (AOF) stopped for 1.5 s and started again while two clients write: every write lands once, nobody is disconnected', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await redisOutage(t, 'stop', async (redis) => {
      await redis.stop();
      await delay(1_500);
      await redis.start();
    });
  });

  it('redis-server frozen (SIGSTOP) for 1.5 s while two clients write: every write lands once, nobody is disconnected', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    await redisOutage(t, 'freeze', async (redis) => {
      redis.pause();
      await delay(1_500);
      redis.resume();
    });
  });
});
