// SPDX-License-Identifier: MIT
/**
 * @module durability.test
 * A SQLite server process is SIGKILLed — no shutdown, no flush — while three clients write
 * without pause, then restarted on the same port and file. What README.md's storage table promises: "a
 * batch is acknowledged only once it is durable", so a restart loses nothing acknowledged. And
 * what src/PROTOCOL.md promises: clients re-send what was not confirmed after they reconnect, the server
 * applies each batch once, and every client converges to the server's state. The same goes for
 * an action call whose result the crash swallowed: re-sent, it must not run a second time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ADD_ITEM, BOARD } from '../test/fixtures/app.js';
import type { Board } from '../test/fixtures/app.js';
import { BoardWriter, boardClient, delay, eventually } from '../test/fixtures/board-writer.js';
import type { BoardClient } from '../test/fixtures/board-writer.js';
import { startNode } from '../test/helpers/node-process.js';
import type { NodeProcess } from '../test/helpers/node-process.js';
import { newClientId, rawClient } from '../test/helpers/server.js';
import type { RawClient } from '../test/helpers/server.js';

const APP = 'test/fixtures/app.ts';
const WRITERS = 3;
/** Kill and restart this many times in one run. */
const CRASHES = 2;
/**
 * Batches acknowledged (all writers together) before the first crash: past 500, so the first
 * process has compacted (the hub writes a snapshot every 500 batches) and the restart reads a
 * snapshot plus a log; then this many more before each later crash.
 */
const ACKED_BEFORE_FIRST_CRASH = 550;
const ACKED_BETWEEN_CRASHES = 200;
/** Writing time after the last restart, so writes also flow through the restarted server. */
const WRITE_AFTER_RESTART_MS = 700;
const TEST_TIMEOUT_MS = 90_000;

describe('sqlite storage: a server process killed while clients write', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-durability-'));
  const file = path.join(dir, 't.db');
  const nodes: NodeProcess[] = [];
  const clients: BoardClient[] = [];
  const writers: BoardWriter[] = [];

  after(async () => {
    await Promise.allSettled(writers.map((w) => w.stop()));
    for (const c of clients) c.close();
    await Promise.allSettled(nodes.map((n) => n.kill()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Connects a fresh client and returns the server's state as it sees it. */
  async function serverState(url: string): Promise<{ value: Board; v: number }> {
    const checker = boardClient(url);
    clients.push(checker);
    try {
      await eventually(() => checker.ready(), 'a checking client to get the board');
      return checker.state();
    } finally {
      checker.close();
    }
  }

  it('loses no acknowledged batch, applies each once, and the clients converge', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    let node = await startNode({ app: APP, storage: `sqlite:${file}` });
    nodes.push(node);
    for (let i = 0; i < WRITERS; i++) clients.push(boardClient(node.url));
    const writing = clients.slice(0, WRITERS);
    await eventually(() => writing.every((c) => c.ready()), 'the writing clients to get the board');
    for (const [i, c] of writing.entries()) writers.push(new BoardWriter(`w${i}`, c).start());

    for (let crash = 1; crash <= CRASHES; crash++) {
      const target = ACKED_BEFORE_FIRST_CRASH + (crash - 1) * ACKED_BETWEEN_CRASHES;
      await eventually(() => writers.reduce((sum, w) => sum + w.acked.size, 0) >= target, `${target} acknowledged batches before crash ${crash}`);
      await node.kill();
      // Acknowledgements are recorded as they arrive; none can arrive from a dead process, but
      // a sync already in a client's socket buffer may still be read: it was durable too.
      const ackedAtCrash = writers.map((w) => ({ tags: [...w.acked], increments: w.incrementsAcked, unconfirmed: w.written.length - w.acked.size }));
      t.diagnostic(`crash ${crash}: ${ackedAtCrash.map((a, i) => `w${i} ${a.tags.length} acknowledged, ${a.unconfirmed} in flight`).join('; ')}`);

      node = await startNode({ app: APP, storage: `sqlite:${file}`, port: node.port });
      nodes.push(node);
      const restarted = await serverState(node.url);
      const items = new Set(restarted.value.items);
      for (const [i, acked] of ackedAtCrash.entries()) {
        const missing = acked.tags.filter((tag) => !items.has(tag));
        assert.deepEqual(missing, [], `crash ${crash}: acknowledged batches of w${i} are missing after the restart`);
      }
      const ackedIncrements = ackedAtCrash.reduce((sum, a) => sum + a.increments, 0);
      assert.ok(restarted.value.counter >= ackedIncrements,
        `crash ${crash}: the counter is ${restarted.value.counter} after the restart, but ${ackedIncrements} was acknowledged`);
    }

    await delay(WRITE_AFTER_RESTART_MS);
    await Promise.all(writers.map((w) => w.stop()));
    await Promise.all(writers.map((w) => w.drained()));
    for (const w of writers) {
      assert.deepEqual(w.failures, [], `${w.name}: a batch was refused`);
      assert.deepEqual(w.target.rejects, [], `${w.name}: the server refused something`);
    }

    const final = await serverState(node.url);
    const written = writers.flatMap((w) => w.written);
    const counts = new Map<string, number>();
    for (const tag of final.value.items) counts.set(tag, (counts.get(tag) ?? 0) + 1);
    assert.deepEqual(written.filter((tag) => !counts.has(tag)), [], 'every batch written is in the list');
    assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'no batch was applied twice');
    assert.equal(final.value.items.length, written.length, 'the list holds exactly the batches written');
    for (const w of writers) {
      const mine = final.value.items.filter((tag) => tag.startsWith(`${w.name}-`));
      assert.deepEqual(mine, w.written, `${w.name}'s pushes are in the order it wrote them`);
    }
    const increments = writers.reduce((sum, w) => sum + w.incrementsWritten, 0);
    assert.equal(final.value.counter, increments, 'the counter counts every increment exactly once');

    await eventually(() => writing.every((c) => c.state().v === final.v), 'every client to reach the server\'s version', undefined,
      () => `versions: ${writing.map((c) => c.state().v).join(', ')}; server ${final.v}.`);
    for (const [i, c] of writing.entries()) {
      assert.deepEqual(c.state().value, final.value, `client w${i} holds the server's state`);
    }
    t.diagnostic(`${written.length} batches written, final version ${final.v}`);
  });

  it('an action call whose result was lost in a crash runs once when the client re-sends it', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The client sees no result (the server died after committing), so after reconnecting it
    // re-sends the call under the same id, as it does for unconfirmed batches (src/PROTOCOL.md).
    const raws: RawClient[] = [];
    try {
      let node = await startNode({ app: APP, storage: `sqlite:${path.join(dir, 'call.db')}` });
      nodes.push(node);
      const id = newClientId();
      const call = { t: 'call', id: `${id}:1`, action: ADD_ITEM, args: ['called-once'] };
      const first = await rawClient(node.url);
      raws.push(first);
      await first.hello(id, { [BOARD]: 0 });
      first.send(call);
      await first.next((m) => m.t === 'result' && m.id === call.id);
      await node.kill();

      node = await startNode({ app: APP, storage: `sqlite:${path.join(dir, 'call.db')}`, port: node.port });
      nodes.push(node);
      const again = await rawClient(node.url);
      raws.push(again);
      await again.hello(id, { [BOARD]: 0 });
      again.send(call);
      const answer = await again.next((m) => (m.t === 'result' || m.t === 'reject') && m.id === call.id);
      assert.equal(answer.t, 'result', 'the re-sent call is answered');
      const state = await serverState(node.url);
      assert.deepEqual(state.value.items, ['called-once'], 'the action ran once');
    } finally {
      await Promise.all(raws.map((r) => r.close()));
    }
  });
});
