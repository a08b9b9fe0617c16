// SPDX-License-Identifier: MIT
/**
 * @module store-pipeline-edges.test
 * The edges of a store's pipeline (`store-pipeline.ts`) that its main tests do not reach, each
 * seen from a client's socket and from storage: the bound on appends on their way at once, an
 * action waiting for the store, a batch that lost a race to another node, an append that fails
 * with nothing to say, storage that cannot be read after an append failed, a first snapshot
 * that cannot be written, and refusals for now next to other senders' batches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { defineApp, ErrorCode, settled, snapshot, status, TwinError } from '../src/index.js';
import { createMemoryStorage } from './index.js';
import type { StorageAdapter } from './index.js';
import { failingStorage } from '../test/helpers/failing-storage.js';
import type { FailingStorage } from '../test/helpers/failing-storage.js';
import { delay, newClientId, startServer, until } from '../test/helpers/server.js';
import type { Message, RawClient, TestServer } from '../test/helpers/server.js';

/** The bound on one store's appends on their way at once (`MAX_IN_FLIGHT`). */
const MAX_IN_FLIGHT = 256;
/** How long to watch storage to be sure no more appends arrive. */
const QUIET_MS = 100;

/** Storage calls a test makes fail: the next `compact`s or `since`s reject. */
interface Faults {
  compact: number;
  since: number;
}

/** `storage` whose next `faults.compact` compacts and `faults.since` reads of batches reject. */
function faulty(storage: StorageAdapter, faults: Faults): StorageAdapter {
  return new Proxy(storage, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (key !== 'compact' && key !== 'since') return method;
      return (...args: unknown[]) => {
        if (faults[key] > 0) {
          faults[key]--;
          // A slow failure, as a lost connection's: whatever arrives meanwhile waits behind it.
          return delay(QUIET_MS).then(() => Promise.reject(new Error(`ECONNRESET: ${key} failed (injected by the test)`)));
        }
        return method(...args);
      };
    },
  });
}

interface Setup {
  srv: TestServer;
  disk: FailingStorage;
  faults: Faults;
  /** What the hub told its operator. */
  logged: string[];
  doc: { n: number; log: number[] };
}

/** Storage methods a test replaces; each gets the real one as `real`. */
type Overrides = { [K in 'append' | 'follow']?: (real: StorageAdapter[K], ...args: Parameters<StorageAdapter[K]>) => ReturnType<StorageAdapter[K]> };

/** `storage` with some methods replaced by `overrides`. */
function wrap(storage: StorageAdapter, overrides: Overrides): StorageAdapter {
  return new Proxy(storage, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      const override = overrides[key as keyof Overrides] as ((real: unknown, ...args: unknown[]) => unknown) | undefined;
      return override ? (...args: unknown[]) => override(method, ...args) : method;
    },
  });
}

/** A server with store `doc` on failing memory storage (`seeded`: stored before the server starts). */
async function setup(t: TestContext, options: { seeded?: boolean; inner?: StorageAdapter; outer?: Overrides; logSize?: number } = {}): Promise<Setup> {
  const app = defineApp();
  const doc = app.shared('doc', () => ({ n: 0, log: [] as number[] }));
  // An action that reads the store's committed state and writes it.
  app.action('stamp', () => {
    doc.log.push(300);
    return doc.n;
  });
  const inner = options.inner ?? createMemoryStorage();
  if (options.seeded ?? true) await inner.compact('doc', { n: 0, log: [] }, 0, '{"n":0,"log":[]}');
  const disk = failingStorage(inner);
  const faults: Faults = { compact: 0, since: 0 };
  const logged: string[] = [];
  const log = (message: string) => void logged.push(message);
  // A test that fails while storage holds appends must not leave close() waiting for them.
  t.after(() => void (disk.holding = false));
  const storage = wrap(faulty(disk.storage, faults), options.outer ?? {});
  const srv = await startServer(app, { storage, limits: { rate: 1e6, burst: 1e6 }, logger: { warn: log, error: log }, ...(options.logSize ? { logSize: options.logSize } : {}) });
  t.after(() => srv.close());
  return { srv, disk, faults, logged, doc };
}

/** A raw client subscribed to `doc`. */
async function subscriber(srv: TestServer): Promise<RawClient> {
  const raw = await srv.raw();
  await raw.hello(newClientId(), { doc: 0 });
  await raw.next((m) => m.t === 'snapshot' || m.t === 'sync');
  return raw;
}

/** Batch `seq` of `raw`: pushes `value` (default: seq) to the log and sets n to it. */
function push(raw: RawClient, seq: number, value = seq): void {
  raw.send({ t: 'op', id: `${raw.clientId}:${seq}`, store: 'doc', ops: [{ op: 'set', path: ['n'], value }, { op: 'push', path: ['log'], values: [value] }] });
}

/** The first answer (`sync` with its id, `reject`) to each batch or call of `raw`, by seq. */
function answers(raw: RawClient): Map<number, Message> {
  const bySeq = new Map<number, Message>();
  for (const m of raw.messages) {
    if ((m.t === 'sync' || m.t === 'reject') && typeof m.id === 'string') {
      const seq = Number(m.id.split(':')[1]);
      if (!bySeq.has(seq)) bySeq.set(seq, m);
    }
  }
  return bySeq;
}

/** The versions `raw`'s batches `seqs` were confirmed at, in seq order. */
function versions(raw: RawClient, seqs: number[]): unknown[] {
  const got = answers(raw);
  return seqs.map((seq) => got.get(seq)?.v);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('a store pipeline: appends on their way', () => {
  it(`keeps at most ${MAX_IN_FLIGHT} of a store's appends at storage at once; the rest follow as they land, in order`, async (t) => {
    const { srv, disk } = await setup(t);
    // A connection has at most 64 batches on their way: five clients fill the pipeline.
    const clients = await Promise.all(range(1, 5).map(() => subscriber(srv)));
    const EACH = 60;
    disk.holding = true;
    for (const [i, raw] of clients.entries()) {
      for (let seq = 1; seq <= EACH; seq++) push(raw, seq, 1000 * i + seq);
      const expected = Math.min(MAX_IN_FLIGHT, EACH * (i + 1));
      await until(() => disk.atTheDoor === expected, `${expected} appends at storage (${disk.atTheDoor} now)`);
    }
    await delay(QUIET_MS);
    assert.equal(disk.atTheDoor, MAX_IN_FLIGHT, 'no more than the bound go out');
    assert.ok(clients.every((raw) => answers(raw).size === 0), 'nothing confirmed before it is stored');
    disk.holding = false;
    await until(() => clients.every((raw) => answers(raw).size === EACH), 'every batch answered', 5000);
    // Committed in the order they arrived: client by client, each in its own order.
    for (const [i, raw] of clients.entries()) assert.deepEqual(versions(raw, range(1, EACH)), range(EACH * i + 1, EACH * (i + 1)));
    const all = clients.flatMap((_, i) => range(1, EACH).map((seq) => 1000 * i + seq));
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: all.at(-1), log: all });
  });

  it('launches nothing more while an action waits for the store: the action sees only stored batches, and later batches come after it', async (t) => {
    const { srv, disk } = await setup(t);
    const raw = await subscriber(srv);
    const other = await subscriber(srv); // calls with nothing of its own on the way (a call waits for those)
    disk.holding = true;
    for (let seq = 1; seq <= 3; seq++) push(raw, seq);
    await until(() => disk.atTheDoor === 3, 'three appends at storage');
    other.send({ t: 'call', id: `${other.clientId}:1`, action: 'stamp', args: [] });
    await delay(QUIET_MS); // the action runs, and waits for the store's lock
    for (let seq = 4; seq <= 6; seq++) push(raw, seq);
    await delay(QUIET_MS);
    assert.equal(disk.atTheDoor, 3, 'batches sent after the action waits do not go out before it');
    disk.holding = false;
    await until(() => answers(raw).size === 6 && other.messages.some((m) => m.t === 'result'), 'every batch and the call answered');
    assert.deepEqual(other.messages.find((m) => m.t === 'result'), { t: 'result', id: `${other.clientId}:1`, value: 3 }, 'the action read the state of the three stored batches');
    assert.equal(answers(other).get(1)?.v, 4, 'the action committed as version 4');
    assert.deepEqual(versions(raw, range(1, 6)), [1, 2, 3, 5, 6, 7], 'the batches sent after it come after it');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 6, log: [1, 2, 3, 300, 4, 5, 6] });
  });

  it("does not stop for its own batches heard back from storage before their appends answered", async (t) => {
    // Storage that writes (and tells followers) at once but answers late, as a slow network does.
    let answer!: () => void;
    const late = new Promise<void>((resolve) => (answer = resolve));
    let appends = 0;
    const { srv } = await setup(t, {
      outer: {
        append: async (real, parts, client) => {
          appends++;
          await real(parts, client);
          await late;
        },
      },
    });
    t.after(answer); // before close() waits for it, should the test fail
    const raw = await subscriber(srv);
    push(raw, 1);
    await until(() => appends === 1, 'the first append sent');
    await delay(QUIET_MS); // storage tells this node of the batch meanwhile
    for (let seq = 2; seq <= 4; seq++) push(raw, seq);
    await until(() => appends === 4, `the later appends sent while the first has not answered (${appends} sent)`);
    answer();
    await until(() => answers(raw).size === 4, 'every batch answered');
    assert.deepEqual(versions(raw, range(1, 4)), range(1, 4));
    assert.equal(raw.messages.filter((m) => m.t === 'sync').length, 4, 'each confirmed once');
  });
});

describe('a store pipeline: failed appends', () => {
  it('refuses, retryably, a batch whose append rejected with no error at all, confirming nothing', async (t) => {
    const inner = createMemoryStorage();
    await inner.compact('doc', { n: 0, log: [] }, 0, '{"n":0,"log":[]}');
    let silentFailures = 1;
    const silent = new Proxy(inner, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function') return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (key !== 'append') return method;
        // A driver that rejects with `undefined` (it happens): the hub must not read it as success.
        return (...args: unknown[]) => (silentFailures-- > 0 ? Promise.reject(undefined) : method(...args));
      },
    });
    const { srv } = await setup(t, { inner: silent, seeded: false });
    const errors: unknown[] = [];
    srv.server.on('error', (err) => errors.push(err));
    const raw = await subscriber(srv);
    push(raw, 1);
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(errors.length, 1, 'whoever runs the server hears of it');
    assert.equal((errors[0] as Error).message, 'The append failed.', 'as an error that says what failed');
    assert.equal(reject.id, `${raw.clientId}:1`);
    assert.equal(reject.code, ErrorCode.UNAVAILABLE);
    assert.equal(reject.retry, true);
    assert.equal((await inner.load('doc'))?.v, 0, 'nothing stored');
    assert.equal(raw.messages.filter((m) => m.t === 'sync').length, 0, 'nothing confirmed or broadcast');
    push(raw, 1); // sent again: this time it lands
    const sync = await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:1`);
    assert.equal(sync.v, 1);
    assert.deepEqual((await inner.load('doc'))?.value, { n: 1, log: [1] });
  });

  it("refuses, retryably, the first batch of a new store whose first snapshot cannot be written, and its client's next one behind it; sent again, they land", async (t) => {
    const { srv, faults, logged } = await setup(t, { seeded: false });
    const raw = await subscriber(srv);
    const other = await subscriber(srv);
    faults.compact = 1;
    push(raw, 1);
    await delay(QUIET_MS / 4);
    push(raw, 2); // waits behind the first
    push(other, 1, 100); // another client's, waiting too
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.UNAVAILABLE);
    assert.equal(reject.retry, true);
    const behind = await raw.next((m) => m.t === 'reject');
    assert.deepEqual([behind.id, behind.code, behind.retry], [`${raw.clientId}:2`, ErrorCode.ORDER, true], 'its client\'s next batch may not land before it');
    const others = await other.next((m) => m.t === 'sync' && m.id === `${other.clientId}:1`);
    assert.equal(others.v, 1, "another client's batch is committed (the store's first snapshot written on its turn)");
    assert.ok(logged.some((line) => /Storage failed/.test(line)), 'the operator hears of it');
    push(raw, 1);
    push(raw, 2);
    const sync = await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:2`);
    assert.equal(sync.v, 3);
    assert.deepEqual((await srv.server.hub.storage.load('doc'))?.value, { n: 2, log: [100, 1, 2] });
  });

  it('after an append that wrote but failed to answer while storage cannot be read back, refuses the ones after it for now (stored, but it cannot tell); their re-sends are answered as applied', async (t) => {
    const { srv, disk, faults, doc } = await setup(t);
    const raw = await subscriber(srv);
    disk.failOnce(`${raw.clientId}:3`, 'after');
    disk.holding = true;
    for (let seq = 1; seq <= 6; seq++) push(raw, seq);
    await until(() => disk.atTheDoor === 6, 'six appends at storage');
    faults.since = 1; // the refresh after the failure
    disk.holding = false;
    await until(() => answers(raw).size === 6, 'every batch answered');
    const got = answers(raw);
    assert.deepEqual(versions(raw, [1, 2]), [1, 2]);
    for (const seq of [4, 5, 6]) {
      assert.equal(got.get(seq)!.t, 'reject', `batch ${seq} is not confirmed while the server cannot tell`);
      assert.equal(got.get(seq)!.code, ErrorCode.UNAVAILABLE);
      assert.equal(got.get(seq)!.message, 'The server cannot tell now whether this was stored; it will be sent again.');
      assert.equal(got.get(seq)!.retry, true);
    }
    // The hub hears its own batches from storage, and the client sends the refused ones again.
    await until(() => status(doc).v === 6, 'the hub to hold all six');
    const from = raw.messages.length;
    for (const seq of [4, 5, 6]) push(raw, seq);
    await until(() => raw.since(from).filter((m) => m.t === 'sync' && m.id).length === 3, 'the re-sends answered');
    for (const m of raw.since(from).filter((m) => m.t === 'sync' && m.id)) assert.deepEqual(m.ops ?? [], [], 'answered as applied before, not applied again');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 6, log: [1, 2, 3, 4, 5, 6] });
  });

  it('after an append that wrote but failed to answer, tells its client it was applied even when the log no longer reaches back to it', async (t) => {
    const { disk, srv } = await setup(t, { logSize: 2 });
    const raw = await subscriber(srv);
    disk.failOnce(`${raw.clientId}:3`, 'after');
    disk.holding = true;
    for (let seq = 1; seq <= 6; seq++) push(raw, seq);
    await until(() => disk.atTheDoor === 6, 'six appends at storage');
    disk.holding = false;
    // Caught up from storage, the store keeps only its last two batches: batch 3 is no longer in its log.
    await until(() => raw.messages.some((m) => m.t === 'sync' && m.id === `${raw.clientId}:3` && (m.ops as unknown[]).length === 0), 'batch 3 answered as applied');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 6, log: [1, 2, 3, 4, 5, 6] });
    push(raw, 7);
    await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:7`);
  });

  it('a batch storage refuses for good (a refusal it recorded) takes none of its client\'s later batches with it', async (t) => {
    let refuse: string | undefined;
    const { srv, disk } = await setup(t, {
      outer: {
        // Storage answers with the refusal it holds on record for this batch (see storage-clients.ts).
        append: (real, parts, client) => (parts.some((p) => p.batch.id === refuse)
          ? Promise.reject(new TwinError(ErrorCode.FORBIDDEN, 'You may not write to store "doc".'))
          : real(parts, client)),
      },
    });
    const raw = await subscriber(srv);
    refuse = `${raw.clientId}:2`;
    disk.holding = true;
    for (let seq = 1; seq <= 4; seq++) push(raw, seq);
    await until(() => disk.atTheDoor === 3, 'the other appends at storage');
    disk.holding = false;
    await until(() => answers(raw).size === 4, 'every batch answered');
    const got = answers(raw);
    assert.equal(got.get(2)!.code, ErrorCode.FORBIDDEN);
    assert.equal(got.get(2)!.retry, undefined, 'final');
    assert.deepEqual(versions(raw, [1, 3, 4]), [1, 2, 3], 'the later ones are checked again and committed');
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 4, log: [1, 3, 4] });
  });

  it('a batch that keeps losing the race is refused for now after a bounded number of tries', async (t) => {
    let tries = 0;
    const { srv } = await setup(t, {
      outer: {
        // Another node always takes the version first (storage says so; the catch-up finds nothing new).
        append: () => {
          tries++;
          return Promise.reject(Object.assign(new TwinError(ErrorCode.CONFLICT, 'Cannot append version 1 to store "doc".'), { store: 'doc' }));
        },
      },
    });
    const raw = await subscriber(srv);
    push(raw, 1);
    const reject = await raw.next((m) => m.t === 'reject', 4000);
    assert.equal(reject.code, ErrorCode.UNAVAILABLE);
    assert.equal(reject.retry, true);
    assert.equal(reject.message, 'Other servers keep writing this store first; try again.');
    assert.equal(tries, 21, 'the first try and twenty more');
  });
});

describe('a store pipeline: refusals for now', () => {
  it("take only their own client's later batches: the others', some waiting past the bound, keep the order they arrived in", async (t) => {
    const { srv, disk } = await setup(t);
    const a = await subscriber(srv);
    const others = await Promise.all(range(1, 4).map(() => subscriber(srv)));
    const EACH = 64; // a connection's most batches on their way: a and three others fill the pipeline
    const LAST = 44; // the fourth other's wait past the bound
    disk.failOnce(`${a.clientId}:1`, 'before');
    disk.holding = true;
    for (let seq = 1; seq <= EACH; seq++) push(a, seq);
    await until(() => disk.atTheDoor === EACH, "a's appends at storage");
    const sent: number[] = [];
    for (const [i, raw] of others.entries()) {
      for (let seq = 1; seq <= (i < 3 ? EACH : LAST); seq++) {
        push(raw, seq, 1000 * (i + 1) + seq);
        sent.push(1000 * (i + 1) + seq);
      }
      const expected = Math.min(MAX_IN_FLIGHT, EACH * (i + 2));
      await until(() => disk.atTheDoor === expected, `${expected} appends at storage (${disk.atTheDoor} now)`);
    }
    await delay(QUIET_MS);
    disk.holding = false;
    await until(() => answers(a).size === EACH && others.every((raw, i) => answers(raw).size === (i < 3 ? EACH : LAST)), 'every batch answered', 5000);
    assert.equal(answers(a).get(1)!.code, ErrorCode.UNAVAILABLE);
    assert.ok(range(2, EACH).every((seq) => answers(a).get(seq)!.code === ErrorCode.ORDER), "a's later batches wait behind its first");
    assert.equal(answers(a).get(2)!.message, 'A batch before this one was refused for now; send both again.');
    assert.ok(others.every((raw) => [...answers(raw).values()].every((m) => m.t === 'sync')), "the others' batches are all committed");
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: sent.at(-1), log: sent }, 'in the order they arrived');
  });

  it("leave a write of server code waiting behind the refused batch alone: it is checked again and committed", async (t) => {
    const { srv, disk, doc } = await setup(t);
    const raw = await subscriber(srv);
    disk.failOnce(`${raw.clientId}:1`, 'before');
    disk.holding = true;
    push(raw, 1);
    await until(() => disk.atTheDoor === 1, "the client's append at storage");
    doc.log.push(99);
    await until(() => disk.atTheDoor === 2, "the server's append at storage too");
    disk.holding = false;
    await settled(doc);
    const reject = await raw.next((m) => m.t === 'reject');
    assert.equal(reject.code, ErrorCode.UNAVAILABLE);
    assert.equal(status(doc).error, undefined, 'the server write was not refused');
    assert.deepEqual(snapshot(doc), { n: 0, log: [99] });
    const sync = await raw.next((m) => m.t === 'sync');
    assert.deepEqual(sync, { t: 'sync', store: 'doc', v: 1, ops: [{ op: 'push', path: ['log'], values: [99] }] });
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 0, log: [99] });
  });

  it("of a write by server code take nothing else with it: a client's batch behind it is checked again and committed", async (t) => {
    const { srv, disk, doc } = await setup(t);
    const raw = await subscriber(srv);
    disk.failNth(1, 'before');
    disk.holding = true;
    doc.log.push(99);
    await until(() => disk.atTheDoor === 1, "the server's append at storage");
    push(raw, 1);
    await until(() => disk.atTheDoor === 2, "the client's append at storage too");
    disk.holding = false;
    await assert.rejects(settled(doc), { code: ErrorCode.UNAVAILABLE });
    const sync = await raw.next((m) => m.t === 'sync' && m.id === `${raw.clientId}:1`);
    assert.equal(sync.v, 1);
    assert.deepEqual((await disk.storage.load('doc'))?.value, { n: 1, log: [1] });
  });
});

describe('a store pipeline: a race lost to another node', () => {
  it("checks the batch again on top of the other node's and commits it before the client's later ones", async (t) => {
    const shared = createMemoryStorage();
    await shared.compact('doc', { n: 0, log: [] }, 0, '{"n":0,"log":[]}');
    const nodeA = await setup(t, { inner: shared, seeded: false });
    const nodeB = await setup(t, { inner: shared, seeded: false });
    const a = await subscriber(nodeA.srv);
    const b = await subscriber(nodeB.srv);
    nodeA.disk.holding = true;
    for (let seq = 1; seq <= 3; seq++) push(a, seq);
    await until(() => nodeA.disk.atTheDoor === 3, "node A's appends at storage");
    push(b, 1, 100); // node B takes version 1 meanwhile
    await b.next((m) => m.t === 'sync' && m.id === `${b.clientId}:1`);
    nodeA.disk.holding = false;
    await until(() => answers(a).size === 3, "node A's batches answered");
    assert.deepEqual(versions(a, [1, 2, 3]), [2, 3, 4], 'each confirmed once, in order, after the winner');
    assert.deepEqual((await shared.load('doc'))?.value, { n: 3, log: [100, 1, 2, 3] });
    await until(() => snapshot(nodeB.doc).log.length === 4, 'node B to adopt them');
    assert.deepEqual(snapshot(nodeA.doc), { n: 3, log: [100, 1, 2, 3] });
  });
  it('catches up from storage when it has not heard the winning batch yet', async (t) => {
    const shared = createMemoryStorage();
    await shared.compact('doc', { n: 0, log: [] }, 0, '{"n":0,"log":[]}');
    // Node A hears nothing from other nodes (their news is late): only storage can tell it.
    const nodeA = await setup(t, { inner: shared, seeded: false, outer: { follow: () => () => undefined } });
    const nodeB = await setup(t, { inner: shared, seeded: false });
    const a = await subscriber(nodeA.srv);
    const b = await subscriber(nodeB.srv);
    nodeA.disk.holding = true;
    for (let seq = 1; seq <= 2; seq++) push(a, seq);
    await until(() => nodeA.disk.atTheDoor === 2, "node A's appends at storage");
    push(b, 1, 100);
    await b.next((m) => m.t === 'sync' && m.id === `${b.clientId}:1`);
    nodeA.disk.holding = false;
    await until(() => answers(a).size === 2, "node A's batches answered");
    assert.deepEqual(versions(a, [1, 2]), [2, 3]);
    const caughtUp = a.messages.find((m) => m.t === 'sync' && m.v === 1);
    assert.deepEqual(caughtUp?.ops, [{ op: 'set', path: ['n'], value: 100 }, { op: 'push', path: ['log'], values: [100] }], "node A's client gets the winner's batch");
    assert.deepEqual((await shared.load('doc'))?.value, { n: 2, log: [100, 1, 2] });
  });
});
