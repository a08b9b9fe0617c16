// SPDX-License-Identifier: MIT
/**
 * @module storage-clients.test
 * The client-record half of the storage contract, run against every backend (memory, SQLite,
 * a real redis-server): claims and owners, the answers to re-sent batches (duplicate, refused),
 * appends over several stores that are all or nothing, expiry by age and by count, 20,000
 * short-lived clients that leave nothing behind, and the merge of `restoreClients`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import type { Op } from '../src/ops.js';
import { removeTmpDirs, storageBackends } from '../test/helpers/storage-backends.js';
import type { Opened } from '../test/helpers/storage-backends.js';
import type { AppendPart, ClientRecord, StoredBatch } from './storage.js';
import { MAX_REFUSALS } from './storage.js';
import { PRUNE_BATCH } from './storage-clients.js';

const SUITE_TIMEOUT_MS = 180_000;
/** A TTL short enough to wait out in a test, long enough for a few calls to happen inside it on a busy machine. */
const SHORT_TTL_MS = 1_000;
/** Upper bound for anything we wait on (an expiry, a sweep). */
const WAIT_MS = 30_000;
const POLL_MS = 50;
/** More than the clock resolution of the SQLite and Redis records (1 ms). */
const TICK_MS = 3;
/** The many-clients test: how many, their TTL, and how many records may remain once they expired. */
const MANY_CLIENTS = 20_000;
const MANY_TTL_MS = 4_000;
/** Redis runs in real time, so its TTL must cover the writing (about 0.1 to 0.5 ms per append on 2 busy cores). */
const REDIS_MANY_TTL_MS = 15_000;
const LEFT_OVER_BOUND = PRUNE_BATCH;
/** Appends in flight at once in the many-clients test (Redis pipelines them). */
const MANY_CONCURRENCY = 200;

after(removeTmpDirs);

for (const backend of storageBackends) {
  describe(`${backend.name} client records`, { timeout: SUITE_TIMEOUT_MS }, () => {
    const opened: Opened[] = [];
    const open = async (...args: Parameters<typeof backend.open>): Promise<Opened> => {
      const o = await backend.open(...args);
      opened.push(o);
      return o;
    };
    after(async () => {
      for (const o of opened.splice(0)) await o.teardown();
    });
    let n = 0;
    const fresh = (label: string): string => `${label}/${++n}`;

    it('claim() creates the record for its first owner; client() reads it; another owner gets the record as it is', async () => {
      const { storage } = await open();
      const id = fresh('c');
      assert.equal(await storage.client(id), undefined);
      assert.deepEqual(await storage.claim(id, 'owner-a'), { owner: 'owner-a', seq: 0, refused: [] });
      assert.deepEqual(await storage.claim(id, 'owner-b'), { owner: 'owner-a', seq: 0, refused: [] });
      assert.deepEqual(await storage.client(id), { owner: 'owner-a', seq: 0, refused: [] });

      // A record an append created has no owner yet: the first claim fills it in.
      const other = fresh('c');
      await storage.append([part(fresh('s'), 1)], { id: other, seq: 3 });
      assert.deepEqual(await storage.client(other), { owner: '', seq: 3, refused: [] });
      assert.deepEqual(await storage.claim(other, 'owner-c'), { owner: 'owner-c', seq: 3, refused: [] });
    });

    it('append() with a client answers a seq at or below its record with TWIN_ERR_DUPLICATE and writes nothing', async () => {
      const { storage } = await open();
      const [id, store] = [fresh('c'), fresh('s')];
      await storage.claim(id, 'me');
      await storage.append([part(store, 1)], { id, seq: 5 });
      for (const seq of [5, 4, 1]) {
        await assert.rejects(storage.append([part(store, 2)], { id, seq }), { code: ErrorCode.DUPLICATE });
      }
      assert.equal((await storage.load(store))?.v, 1);
      assert.equal((await storage.since(store, 0))?.length, 1);
      await storage.append([part(store, 2)], { id, seq: 6 });
      assert.deepEqual(await storage.client(id), { owner: 'me', seq: 6, refused: [] });
      // A call that changed no store still records its seq.
      await storage.append([], { id, seq: 7 });
      assert.equal((await storage.client(id))?.seq, 7);
      await assert.rejects(storage.append([], { id, seq: 7 }), { code: ErrorCode.DUPLICATE });
    });

    it('refuse() records a final refusal that a re-sent batch gets again, even below the committed seq', async () => {
      const { storage } = await open();
      const [id, store] = [fresh('c'), fresh('s')];
      await storage.refuse(id, 2, ErrorCode.SCHEMA, 'The new state breaks the schema.');
      assert.deepEqual(await storage.client(id), { owner: '', seq: 0, refused: [[2, ErrorCode.SCHEMA, 'The new state breaks the schema.']] });
      await storage.append([part(store, 1)], { id, seq: 3 });
      await assert.rejects(storage.append([part(store, 2)], { id, seq: 2 }), { code: ErrorCode.SCHEMA, message: 'The new state breaks the schema.' });
      // The first answer stands.
      await storage.refuse(id, 2, ErrorCode.FORBIDDEN, 'Another answer.');
      assert.deepEqual((await storage.client(id))?.refused, [[2, ErrorCode.SCHEMA, 'The new state breaks the schema.']]);
      assert.equal((await storage.load(store))?.v, 1);

      const many = fresh('c');
      for (let seq = 1; seq <= MAX_REFUSALS + 3; seq++) await storage.refuse(many, seq, ErrorCode.PATH, `bad ${seq}`);
      const refused = (await storage.client(many))?.refused ?? [];
      assert.equal(refused.length, MAX_REFUSALS);
      assert.deepEqual(refused[0], [4, ErrorCode.PATH, 'bad 4']);
      assert.deepEqual(refused.at(-1), [MAX_REFUSALS + 3, ErrorCode.PATH, `bad ${MAX_REFUSALS + 3}`]);
    });

    it('append() over several stores is all or nothing: a conflict on the second leaves the first and the record unchanged', async () => {
      const { storage, peer } = await open();
      const [a, b, id] = [fresh('a'), fresh('b'), fresh('c')];
      const heard: string[] = [];
      const stops = [a, b].map((store) => peer.follow(store, 0, (batch) => heard.push(`${store}@${batch.v}`)));
      await storage.append([part(a, 1), part(b, 1)], { id, seq: 1 });
      const before = [await storage.load(a), await storage.load(b)];

      await assert.rejects(storage.append([part(a, 2), part(b, 5)], { id, seq: 2 }), (err: { code?: string; store?: string }) => {
        assert.equal(err.code, ErrorCode.CONFLICT);
        assert.equal(err.store, b);
        return true;
      });
      assert.deepEqual([await storage.load(a), await storage.load(b)], before);
      assert.deepEqual((await storage.since(a, 0))?.map((x) => x.v), [1]);
      assert.equal((await storage.client(id))?.seq, 1);
      await assert.rejects(storage.append([part(a, 2), part(a, 3)]), TypeError); // one batch per store

      await storage.append([part(a, 2), part(b, 2)], { id, seq: 2 });
      await waitFor(() => heard.length === 4);
      for (const stop of stops) stop();
      assert.deepEqual(heard.sort(), [`${a}@1`, `${a}@2`, `${b}@1`, `${b}@2`].sort());
      assert.deepEqual([(await storage.load(a))?.v, (await storage.load(b))?.v], [2, 2]);
    });

    it('a record expires clientTtlMs after its last change; each change renews it', async () => {
      const { storage } = await open({ clientTtlMs: SHORT_TTL_MS });
      const [kept, dropped, store] = [fresh('kept'), fresh('dropped'), fresh('s')];
      const started = Date.now();
      await storage.claim(kept, 'k');
      await storage.append([part(store, 1)], { id: dropped, seq: 1 });
      await sleep(SHORT_TTL_MS / 2);
      await storage.refuse(kept, 9, ErrorCode.PATH, 'renews'); // renews `kept`, not `dropped`
      await waitFor(async () => (await storage.client(dropped)) === undefined);
      const tookMs = Date.now() - started;
      assert.ok(tookMs >= SHORT_TTL_MS - POLL_MS, `expired after ${tookMs} ms`);
      assert.equal((await storage.client(kept))?.owner, 'k');
      await waitFor(async () => (await storage.client(kept)) === undefined);
      // Once forgotten, the same seq is new again: why a client's outbox must not outlive the TTL.
      await storage.append([part(store, 2)], { id: dropped, seq: 1 });
    });

    it('beyond maxClients the least recently changed records go first', async () => {
      const max = 10;
      const o = await open({ maxClients: max });
      const ids = Array.from({ length: max + 5 }, () => fresh('c'));
      // SQLite and Redis order records by the millisecond of their last change: a pause
      // between claims makes "least recently changed" unambiguous.
      const claim = async (id: string): Promise<void> => {
        await o.storage.claim(id, 'o');
        await sleep(TICK_MS);
      };
      for (const id of ids.slice(0, max)) await claim(id);
      await claim(ids[0]!); // now the newest
      for (const id of ids.slice(max)) await claim(id);
      const present = await Promise.all(ids.map(async (id) => (await o.storage.client(id)) !== undefined));
      assert.deepEqual(present, ids.map((_, i) => i === 0 || i >= 6));
      assert.ok((await o.clientCount()) <= max);
    });

    it(`${MANY_CLIENTS} clients that write once leave at most ${LEFT_OVER_BOUND} records once expired`, async (t) => {
      // Redis expires keys by itself, in real time; the others are told the time, so the
      // (slow, fsynced) SQLite writes need not fit in the TTL.
      if (backend.name !== 'redis') mockDate(t);
      const ttl = backend.name === 'redis' ? REDIS_MANY_TTL_MS : MANY_TTL_MS;
      const o = await open({ clientTtlMs: ttl }, { ramDisk: true });
      const store = fresh('busy');
      const started = performance.now();
      let v = 0;
      for (let i = 0; i < MANY_CLIENTS; i += MANY_CONCURRENCY) {
        const ids = Array.from({ length: Math.min(MANY_CONCURRENCY, MANY_CLIENTS - i) }, (_, k) => `many-${i + k}`);
        // Stores are appended in version order, so concurrency here is across clients of a call with no store.
        await Promise.all(ids.map((id, k) => o.storage.append(k === 0 ? [part(store, ++v)] : [], { id, seq: 1 })));
      }
      const wroteMs = Math.round(performance.now() - started);
      const peak = await o.clientCount();
      const peakIndex = await o.indexSize?.();
      const countedMs = performance.now() - started;
      const sizeAtPeak = await o.fileSizes?.();
      if (backend.name !== 'redis') t.mock.timers.tick(ttl);
      const expiredAt = performance.now();
      await waitFor(async () => (await o.clientCount()) <= LEFT_OVER_BOUND);
      if (o.indexSize) {
        const indexAtPeak = peakIndex ?? 0;
        await waitFor(async () => (await o.indexSize!()) <= LEFT_OVER_BOUND);
        t.diagnostic(`${backend.name}: index of records by age: ${indexAtPeak} entries at the peak, ${await o.indexSize()} after the sweep`);
      }
      const left = await o.clientCount();
      const sizeAfter = await o.fileSizes?.();
      t.diagnostic(`${backend.name}: ${MANY_CLIENTS} clients written in ${wroteMs} ms; records held: ${peak} at the end of writing, ${left} ${Math.round(performance.now() - expiredAt)} ms after expiry`);
      if (sizeAtPeak && sizeAfter) t.diagnostic(`${backend.name}: file bytes (db + wal) ${sizeAtPeak.join(' + ')} at the peak, ${sizeAfter.join(' + ')} after`);
      // Every record lives until the count is read, unless (Redis, real time) writing took longer than the TTL.
      if (backend.name !== 'redis' || countedMs < ttl) assert.equal(peak, MANY_CLIENTS);
      else assert.ok(peak > 0);
      assert.ok(left <= LEFT_OVER_BOUND);
      // The database file gives back what the expired rows took (the WAL keeps its checkpoint size).
      if (sizeAtPeak && sizeAfter) assert.ok(sizeAfter[0] <= sizeAtPeak[0] / 2, 'the database file shrank to half its peak or less');
      assert.equal(await o.storage.client('many-0'), undefined);
    });

    it('restoreClients() merges: the higher seq wins, an empty owner is filled in, refusals are joined', async (t) => {
      const { storage } = await open();
      assert.ok(storage.restoreClients, `${backend.name} has restoreClients`);
      const [a, b, c] = [fresh('c'), fresh('c'), fresh('c')];
      await storage.claim(a, 'owner-a');
      await storage.append([], { id: a, seq: 4 });
      await storage.refuse(a, 2, ErrorCode.PATH, 'two');
      await storage.append([], { id: b, seq: 9 });
      const theirs = new Map<string, ClientRecord>([
        [a, { owner: 'someone-else', seq: 3, refused: [[1, ErrorCode.SCHEMA, 'one'], [2, ErrorCode.VALUE, 'other two']] }],
        [b, { owner: 'owner-b', seq: 12, refused: [] }],
        [c, { owner: 'owner-c', seq: 1, refused: [[1, ErrorCode.OP, 'op']] }],
      ]);
      await storage.restoreClients(theirs);
      assert.deepEqual(await storage.client(a), { owner: 'owner-a', seq: 4, refused: [[1, ErrorCode.SCHEMA, 'one'], [2, ErrorCode.PATH, 'two']] });
      assert.deepEqual(await storage.client(b), { owner: 'owner-b', seq: 12, refused: [] });
      assert.deepEqual(await storage.client(c), { owner: 'owner-c', seq: 1, refused: [[1, ErrorCode.OP, 'op']] });
      await assert.rejects(storage.append([], { id: b, seq: 12 }), { code: ErrorCode.DUPLICATE });
      t.diagnostic('merged three records');
    });
  });
}

//#region helpers

function part(store: string, v: number): AppendPart {
  const ops: Op[] = [{ op: 'set', path: ['v'], value: v }];
  const batch: StoredBatch = { v, ops };
  return { store, batch };
}

/**
 * Freezes `Date` (timers stay real) so a test moves the clock itself with `t.mock.timers.tick`.
 * Node 20 announces the mock timers as experimental once per process: that expected warning
 * is held back so the test output stays readable; any other warning goes through.
 */
function mockDate(t: TestContext): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!String(warning instanceof Error ? warning.message : warning).includes('MockTimers')) {
      (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
    }
  }) as typeof process.emitWarning;
  try {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  } finally {
    process.emitWarning = emitWarning;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`The condition was not met within ${WAIT_MS} ms.`);
    await sleep(POLL_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

//#endregion helpers
