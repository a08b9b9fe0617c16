// SPDX-License-Identifier: MIT
/**
 * @module storage.test
 * One contract suite for every storage backend (memory, SQLite, a real redis-server on
 * loopback), plus what only one backend promises: a SQLite file survives a reopen, a Redis
 * follower survives a Redis restart. Expected states are always computed with `applyOps`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { createClient } from 'redis';
import { ErrorCode } from '../src/errors.js';
import type { Json, JsonObject } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { removeTmpDirs, storageBackends, tmpDir } from '../test/helpers/storage-backends.js';
import type { Opened } from '../test/helpers/storage-backends.js';
import { createStorage } from './create-storage.js';
import type { StorageAdapter, StoredBatch } from './storage.js';

/** Upper bound for anything we wait on (deliveries, reconnects). */
const WAIT_MS = 10_000;
const POLL_MS = 20;
/** What "promptly" means: well under the Redis loop's 5 s XREAD block. */
const PROMPT_MS = 1_000;
/** Time for background work (a blocking read) to get going. */
const SETTLE_MS = 100;
const SUITE_TIMEOUT_MS = 120_000;
/** Property runs per backend; each run appends to a fresh store. */
const PROPERTY_RUNS = 40;

after(removeTmpDirs);

for (const backend of storageBackends) {
  describe(backend.name, { timeout: SUITE_TIMEOUT_MS }, () => {
    let opened: Opened;
    let storage: StorageAdapter;
    let n = 0;
    /** A store name no other test uses. */
    const fresh = (label: string): string => `${label}/${++n}`;

    before(async () => {
      opened = await backend.open();
      storage = opened.storage;
    });
    after(() => opened.teardown());

    it('load() and since() of an unknown store give undefined and []', async () => {
      assert.equal(await storage.load(fresh('unknown')), undefined);
      assert.deepEqual(await storage.since(fresh('unknown'), 0), []);
    });

    it('append() of v1..vN then load() reproduces the state', async () => {
      const store = fresh('append');
      const batches = sampleBatches();
      for (const batch of batches) await put(storage, store, batch);
      const loaded = await storage.load(store);
      assert.deepEqual(loaded, { value: replay(batches), v: batches.length });
    });

    it('append() with a wrong version rejects with TWIN_ERR_CONFLICT and changes nothing', async () => {
      const store = fresh('conflict');
      const batches = sampleBatches();
      for (const batch of batches) await put(storage, store, batch);
      const before = await storage.load(store);
      const stale = { v: 2, ops: [set(['x'], 'stale')], id: 'c1:99' };
      const ahead = { v: batches.length + 2, ops: [set(['x'], 'ahead')], id: 'c9:1' };
      await assert.rejects(put(storage, store, stale), { code: ErrorCode.CONFLICT });
      await assert.rejects(put(storage, store, ahead), { code: ErrorCode.CONFLICT });
      await assert.rejects(put(storage, fresh('conflict'), { v: 2, ops: [] }), { code: ErrorCode.CONFLICT });
      assert.deepEqual(await storage.load(store), before);
      assert.deepEqual(await storage.since(store, 0), batches);
    });

    it('append() with `after` commits only on top of the batch of that id, also after a compaction there', async () => {
      const store = fresh('after');
      await put(storage, store, { v: 1, ops: [set(['a'], 1)], id: 'c1:1' });
      // Another writer took version 2: a batch pipelined behind c1:2 must not land on it.
      await put(storage, store, { v: 2, ops: [set(['a'], 2)], id: 'other:1' });
      await assert.rejects(storage.append([{ store, batch: { v: 3, ops: [set(['a'], 3)], id: 'c1:3' }, after: 'c1:2' }]), { code: ErrorCode.CONFLICT });
      await assert.rejects(storage.append([{ store, batch: { v: 3, ops: [set(['a'], 3)], id: 'c1:3' }, after: 'nobody:1' }]), { code: ErrorCode.CONFLICT });
      assert.deepEqual(await storage.load(store), { value: { a: 2 }, v: 2 });
      await storage.append([{ store, batch: { v: 3, ops: [set(['a'], 3)], id: 'c1:3' }, after: 'other:1' }]);
      // A snapshot at version 3 keeps its batch for the next one made after it.
      await storage.compact(store, { a: 3 }, 3);
      await storage.append([{ store, batch: { v: 4, ops: [set(['a'], 4)], id: 'c1:4' }, after: 'c1:3' }]);
      assert.deepEqual(await storage.load(store), { value: { a: 4 }, v: 4 });
      assert.deepEqual(await storage.since(store, 3), [{ v: 4, ops: [set(['a'], 4)], id: 'c1:4' }]);
    });

    it('append()s issued in one turn each keep their own outcome, later ones on top of what earlier ones wrote', async () => {
      const [s, t, u] = [fresh('turn-s'), fresh('turn-t'), fresh('turn-u')];
      // Client ids unique to this run: a second run against the same storage must not see them.
      const c = (name: string): string => `${s}:${name}`;
      await put(storage, s, { v: 1, ops: [set(['a'], 1)], id: `${c('a')}:1` }, { id: c('a'), seq: 1 });
      await put(storage, t, { v: 1, ops: [set(['a'], 1)], id: `${c('b')}:1` }, { id: c('b'), seq: 1 });
      await storage.refuse(c('r'), 1, ErrorCode.SCHEMA, 'Refused for good.');

      const outcomes = await Promise.allSettled([
        put(storage, s, { v: 1, ops: [set(['a'], 'stale')], id: `${c('x')}:1` }, { id: c('x'), seq: 1 }), // conflict: s is at 1
        put(storage, u, { v: 1, ops: [set(['a'], 'again')], id: `${c('a')}:1` }, { id: c('a'), seq: 1 }), // duplicate
        put(storage, u, { v: 1, ops: [set(['a'], 'refused')], id: `${c('r')}:1` }, { id: c('r'), seq: 1 }), // refused before
        put(storage, s, { v: 2, ops: [set(['a'], 2)], id: `${c('y')}:1` }, { id: c('y'), seq: 1 }), // ok
        storage.append([{ store: s, batch: { v: 3, ops: [set(['a'], 3)], id: `${c('y')}:2` }, after: `${c('y')}:1` }], { id: c('y'), seq: 2 }), // ok: after the one before
        put(storage, t, { v: 2, ops: [set(['a'], 'dup')], id: `${c('b')}:1` }, { id: c('b'), seq: 1 }), // duplicate: never written
        put(storage, t, { v: 2, ops: [set(['a'], 2)], id: `${c('z')}:1` }, { id: c('z'), seq: 1 }), // ok: takes version 2
        storage.append([{ store: t, batch: { v: 3, ops: [set(['a'], 'lost')], id: `${c('b')}:2` }, after: `${c('b')}:1` }], { id: c('b'), seq: 2 }), // conflict: its predecessor failed
        // An action over two stores: one of them conflicts, so neither is written and the client's seq stays.
        storage.append([{ store: u, batch: { v: 1, ops: [set(['a'], 'both')] } }, { store: s, batch: { v: 3, ops: [set(['a'], 'both')] } }], { id: c('w'), seq: 1 }),
        put(storage, u, { v: 1, ops: [set(['a'], 'u')], id: `${c('w')}:1` }, { id: c('w'), seq: 1 }), // ok: the seq is still free
      ]);
      const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code));
      assert.deepEqual(codes, [
        ErrorCode.CONFLICT, ErrorCode.DUPLICATE, ErrorCode.SCHEMA, 'ok', 'ok', ErrorCode.DUPLICATE, 'ok', ErrorCode.CONFLICT, ErrorCode.CONFLICT, 'ok',
      ]);
      const stores = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { store?: string }).store : undefined));
      assert.deepEqual([stores[0], stores[7], stores[8]], [s, t, s]);

      assert.deepEqual(await storage.load(s), { value: { a: 3 }, v: 3 });
      assert.deepEqual(await storage.since(t, 1), [{ v: 2, ops: [set(['a'], 2)], id: `${c('z')}:1` }]);
      assert.deepEqual(await storage.since(u, 0), [{ v: 1, ops: [set(['a'], 'u')], id: `${c('w')}:1` }]);
      assert.deepEqual(
        await Promise.all(['a', 'b', 'x', 'y', 'z', 'w'].map(async (name) => (await storage.client(c(name)))?.seq)),
        [1, 1, undefined, 2, 1, 1],
      );
    });

    it('append()s issued in one turn by the hundred, or of large batches, all commit in order', async () => {
      const store = fresh('many');
      const count = 300;
      const batches = Array.from({ length: count }, (_, i): StoredBatch => ({ v: i + 1, ops: [set(['n'], i + 1)], id: `many:${i + 1}` }));
      await Promise.all(batches.map((batch, i) => storage.append([{ store, batch, ...(i > 0 ? { after: `many:${i}` } : {}) }], { id: store, seq: i + 1 })));
      assert.deepEqual(await storage.since(store, 0), batches);
      const large = Array.from({ length: 3 }, (_, i): StoredBatch => ({ v: count + i + 1, ops: [set(['big'], 'x'.repeat(600_000) + i)], id: `many:${count + i + 1}` }));
      await Promise.all(large.map((batch) => storage.append([{ store, batch, after: `many:${batch.v - 1}` }])));
      assert.deepEqual(await storage.load(store), { value: { n: count, big: 'x'.repeat(600_000) + 2 }, v: count + 3 });
      assert.equal((await storage.client(store))?.seq, count);
    });

    it('append() with a malformed version or client rejects with a TypeError before writing', async () => {
      const store = fresh('bad-id');
      await assert.rejects(storage.append([{ store, batch: { v: 1, ops: [set(['a'], 1)] } }], { id: 'c1', seq: 0 }), TypeError);
      await assert.rejects(storage.append([{ store, batch: { v: 1, ops: [set(['a'], 1)] } }], { id: '', seq: 1 }), TypeError);
      await assert.rejects(storage.append([{ store, batch: { v: 1.5, ops: [set(['a'], 1)] } }]), TypeError);
      assert.equal(await storage.load(store), undefined);
      assert.equal(await storage.client('c1'), undefined);
    });

    it('since(v) returns exactly the later batches, and [] at the current version', async () => {
      const store = fresh('since');
      const batches = sampleBatches();
      for (const batch of batches) await put(storage, store, batch);
      for (let v = 0; v <= batches.length; v++) assert.deepEqual(await storage.since(store, v), batches.slice(v));
    });

    it('compact() keeps load() the same, cuts since() before it, and appends go on after it', async () => {
      const store = fresh('compact');
      const batches = sampleBatches();
      for (const batch of batches) await put(storage, store, batch);
      const before = await storage.load(store);
      assert.ok(before);
      const at = 3;
      await storage.compact(store, replay(batches.slice(0, at)), at);
      assert.deepEqual(await storage.load(store), before);
      // The snapshot's own batch stays in the log (for appends made after it).
      assert.deepEqual(await storage.since(store, at - 1), batches.slice(at - 1));
      assert.equal(await storage.since(store, at - 2), undefined);
      assert.equal(await storage.since(store, 0), undefined);
      assert.deepEqual(await storage.since(store, at), batches.slice(at));

      await storage.compact(store, before.value, before.v);
      assert.deepEqual(await storage.load(store), before);
      assert.deepEqual(await storage.since(store, before.v), []);
      // An older snapshot arriving late (another node) must not replace the newer one.
      await storage.compact(store, replay(batches.slice(0, 1)), 1);
      assert.deepEqual(await storage.load(store), before);

      const more: StoredBatch[] = [
        { v: before.v + 1, ops: [{ op: 'push', path: ['list'], values: ['after'] }], id: 'c1:3' },
        { v: before.v + 2, ops: [{ op: 'add', path: ['count'], delta: 10 }] },
      ];
      for (const batch of more) await put(storage, store, batch);
      const expected = { value: replay([...batches, ...more]), v: before.v + 2 };
      assert.deepEqual(await storage.load(store), expected);
      assert.deepEqual(await storage.since(store, before.v), more);
      // A snapshot of a version never appended, or of no version at all, is refused and changes nothing.
      await assert.rejects(storage.compact(store, {}, before.v + 3), RangeError);
      await assert.rejects(storage.compact(store, {}, -1), RangeError);
      assert.deepEqual(await storage.load(store), expected);
    });

    it('compact() at version 0 sets the initial state the log is replayed onto', async () => {
      const store = fresh('initial');
      await storage.compact(store, ['seed'], 0);
      assert.deepEqual(await storage.load(store), { value: ['seed'], v: 0 });
      const batch: StoredBatch = { v: 1, ops: [{ op: 'push', path: [], values: ['grown'] }], id: 'c1:1' };
      await put(storage, store, batch);
      assert.deepEqual(await storage.load(store), { value: ['seed', 'grown'], v: 1 });
    });

    it('follow() delivers batches appended by a second adapter, in order, until unsubscribed', async () => {
      const store = fresh('follow');
      const batches = sampleBatches();
      await put(opened.peer, store, batches[0]!); // before follow: delivered as backlog
      const got: StoredBatch[] = [];
      const stop = storage.follow(store, 0, (batch) => got.push(batch));
      for (const batch of batches.slice(1)) await put(opened.peer, store, batch);
      await waitFor(() => got.length === batches.length);
      assert.deepEqual(got, batches);

      stop();
      await put(opened.peer, store, { v: batches.length + 1, ops: [set(['late'], true)] });
      // Give a stray delivery the time to arrive: a later follower hears it, the stopped one must not.
      const probe: StoredBatch[] = [];
      const stopProbe = storage.follow(store, batches.length, (batch) => probe.push(batch));
      await waitFor(() => probe.length === 1);
      stopProbe();
      assert.equal(got.length, batches.length);
    });

    it('follow() from a version skips earlier batches and serves several followers', async () => {
      const store = fresh('follow-from');
      const batches = sampleBatches();
      for (const batch of batches.slice(0, 3)) await put(storage, store, batch);
      const fromTwo: number[] = [];
      const fromZero: number[] = [];
      const stops = [
        storage.follow(store, 2, (b) => fromTwo.push(b.v)),
        storage.follow(store, 0, (b) => fromZero.push(b.v)),
      ];
      for (const batch of batches.slice(3)) await put(opened.peer, store, batch);
      const all = batches.map((b) => b.v);
      await waitFor(() => fromZero.length === all.length && fromTwo.length === all.length - 2);
      for (const stop of stops) stop();
      assert.deepEqual(fromZero, all);
      assert.deepEqual(fromTwo, all.slice(2));
    });

    it('follow() hears a batch only after its append() has resolved', async () => {
      const store = fresh('order');
      let appended = false;
      const seenAfterAppend: boolean[] = [];
      const stop = storage.follow(store, 0, () => seenAfterAppend.push(appended));
      await put(storage, store, { v: 1, ops: [set(['a'], 1)] });
      appended = true;
      await waitFor(() => seenAfterAppend.length === 1);
      stop();
      assert.deepEqual(seenAfterAppend, [true]);
    });

    it('follow() of one more store, while a read for another is waiting, hears it promptly', async () => {
      const [first, second] = [fresh('idle'), fresh('busy')];
      const stopIdle = storage.follow(first, 0, () => {});
      await sleep(SETTLE_MS); // the Redis loop is now blocked in XREAD on `first` only
      const heard: number[] = [];
      const started = Date.now();
      const stop = storage.follow(second, 0, () => heard.push(Date.now() - started));
      await put(opened.peer, second, { v: 1, ops: [set(['a'], 1)] });
      await waitFor(() => heard.length === 1);
      stop();
      stopIdle();
      assert.ok(heard[0]! < PROMPT_MS, `delivered after ${heard[0]} ms`);
    });

    it('close() releases the adapter; its methods then reject', async () => {
      const extra = await opened.another();
      const store = fresh('close');
      await put(extra, store, { v: 1, ops: [set(['a'], 1)] });
      const stop = extra.follow(store, 0, () => {});
      await sleep(SETTLE_MS); // let a blocking read start
      const started = Date.now();
      await extra.close();
      stop();
      const took = Date.now() - started;
      assert.ok(took < PROMPT_MS, `close() took ${took} ms with a follower open`);
      await assert.rejects(extra.load(store), { code: ErrorCode.INTERNAL });
      await assert.rejects(put(extra, store, { v: 2, ops: [] }), { code: ErrorCode.INTERNAL });
      await extra.close(); // twice is harmless
      // What it wrote is still there for everyone else (except in a private memory adapter).
      if (backend.name !== 'memory') assert.equal((await storage.load(store))?.v, 1);
    });

    it('property: random valid op sequences, appended then loaded, equal applyOps of all', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(opSeed, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }), async (seedBatches) => {
          const store = fresh('prop');
          let state: JsonObject = {};
          const batches: StoredBatch[] = [];
          for (const seeds of seedBatches) {
            const ops: Op[] = [];
            for (const seed of seeds) {
              const op = buildOp(seed, state);
              state = applyOps(state, [op]);
              ops.push(op);
            }
            const batch: StoredBatch = { v: batches.length + 1, ops, id: `prop:${batches.length + 1}` };
            batches.push(batch);
            await put(storage, store, batch, { id: store, seq: batches.length });
          }
          assert.deepEqual(await storage.load(store), { value: state, v: batches.length });
          assert.deepEqual(await storage.since(store, 0), batches);
        }),
        { numRuns: PROPERTY_RUNS },
      );
    });

    if (backend.name === 'sqlite') {
      it('keeps every acknowledged batch, snapshot and seq across closing and reopening the file', async () => {
        const extra = await opened.another();
        const store = fresh('reopen');
        const batches = sampleBatches();
        await extra.claim('c1', 'me');
        for (const batch of batches) await put(extra, store, batch, batch.id?.startsWith('c1:') ? { id: 'c1', seq: Number(batch.id.slice(3)) } : undefined);
        await extra.compact(store, replay(batches.slice(0, 2)), 2);
        const expected = await extra.load(store);
        await extra.close();
        const reopened = await opened.another();
        const inspect = new Database(opened.file!, { readonly: true });
        try {
          assert.equal(inspect.pragma('journal_mode', { simple: true }), 'wal');
          assert.deepEqual(await reopened.load(store), expected);
          assert.deepEqual(await reopened.since(store, 2), batches.slice(2));
          assert.equal((await reopened.client('c1'))?.seq, 2);
          await put(reopened, store, { v: batches.length + 1, ops: [set(['again'], true)], id: 'c1:3' }, { id: 'c1', seq: 3 });
          assert.deepEqual(await reopened.client('c1'), { owner: 'me', seq: 3, refused: [] });
        } finally {
          inspect.close();
          await reopened.close();
        }
      });

      it('opens a file of the per-store seq schema: each client keeps its highest seq, twin_seq is dropped', async () => {
        const file = path.join(tmpDir(), 'old.db');
        const old = new Database(file);
        old.exec(`CREATE TABLE twin_snapshot (store TEXT PRIMARY KEY, value TEXT NOT NULL, v INTEGER NOT NULL);
          CREATE TABLE twin_log (store TEXT NOT NULL, v INTEGER NOT NULL, ops TEXT NOT NULL, id TEXT, PRIMARY KEY (store, v)) WITHOUT ROWID;
          CREATE TABLE twin_seq (store TEXT NOT NULL, client TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (store, client)) WITHOUT ROWID;
          INSERT INTO twin_log VALUES ('s', 1, '[{"op":"set","path":["a"],"value":1}]', 'c1:4');
          INSERT INTO twin_seq VALUES ('s', 'c1', 4), ('t', 'c1', 9), ('s', 'c2', 1);`);
        old.close();
        const upgraded = await createStorage(`sqlite:${file}`);
        try {
          assert.deepEqual(await upgraded.load('s'), { value: { a: 1 }, v: 1 });
          assert.deepEqual(await upgraded.client('c1'), { owner: '', seq: 9, refused: [] });
          assert.deepEqual(await upgraded.client('c2'), { owner: '', seq: 1, refused: [] });
          await assert.rejects(upgraded.append([], { id: 'c1', seq: 9 }), { code: ErrorCode.DUPLICATE });
          const inspect = new Database(file, { readonly: true });
          const tables = inspect.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
          inspect.close();
          assert.ok(!tables.includes('twin_seq') && tables.includes('twin_client'), String(tables));
        } finally {
          await upgraded.close();
        }
      });
    }

    if (backend.name === 'redis') {
      it('restore() puts a store back only when storage lost it, as a new epoch; appends from another epoch are refused; reappend() adds once what the store lacks', async () => {
        assert.ok(storage.restore && storage.reappend && storage.lacks);
        const there = fresh('restore');
        await put(storage, there, { v: 1, ops: [set(['a'], 1)] });
        assert.equal(await storage.restore(there, { value: { a: 'old' }, v: 2 }), undefined, 'not over a store storage holds');
        const lost = fresh('lost');
        // The restoring node's log held versions 3 to 5; their ids go with the restore.
        const epoch = await storage.restore(lost, { value: { a: 'node' }, v: 5 }, { from: 3, ids: ['held:1', 'held:2'] });
        assert.match(epoch ?? '', /^\w+:5$/);
        assert.deepEqual(await storage.load(lost), { value: { a: 'node' }, v: 5, epoch });
        assert.equal(await storage.since(lost, 2), undefined);
        // A node that did not see the restore may not write on top of it.
        await assert.rejects(storage.append([{ store: lost, batch: { v: 6, ops: [set(['b'], 6)], id: 'other:1' } }]),
          (err: { code?: string; epoch?: string }) => err.code === ErrorCode.CONFLICT && err.epoch === epoch);
        await storage.append([{ store: lost, batch: { v: 6, ops: [set(['b'], 6)], id: 'x:1' }, epoch: epoch! }]);
        // A batch the merging node held that the store lacks.
        assert.equal(await storage.reappend(lost, { ops: [set(['c'], 7)], id: 'y:1' }, 5, epoch!), 'appended');
        assert.equal(await storage.reappend(lost, { ops: [set(['c'], 7)], id: 'y:1' }, 5, epoch!), 'present', 'a batch merged twice is there once');
        assert.equal(await storage.reappend(lost, { ops: [set(['b'], 6)], id: 'x:1' }, 5, epoch!), 'present', 'one appended since the restore is there');
        await assert.rejects(storage.reappend(lost, { ops: [], id: 'z:1' }, 5, 'stale:1'), { code: ErrorCode.CONFLICT });
        // What a merging node asks before it checks and re-appends: only what is neither held,
        // nor older than the restorer's log, nor appended since.
        const ours = [{ id: 'old:1', v: 2 }, { id: 'held:1', v: 3 }, { id: 'new:1', v: 4 }, { id: 'y:1', v: 4 }, { id: 'x:1', v: 6 }, { id: 'new:2', v: 7 }];
        assert.deepEqual(await storage.lacks(lost, ours, 5, epoch!), ['new:1', 'new:2']);
        await assert.rejects(storage.lacks(lost, ours, 5, 'stale:1'), { code: ErrorCode.CONFLICT });
        assert.deepEqual(await opened.peer.load(lost), { value: { a: 'node', b: 6, c: 7 }, v: 7, epoch });
      });

      it('append()s sent after Redis forgot the script (SCRIPT FLUSH) go through, each with its own outcome', async () => {
        const { redis } = opened;
        assert.ok(redis);
        const raw = createClient({ url: redis.url });
        await raw.connect();
        try {
          await raw.scriptFlush();
        } finally {
          await raw.close();
        }
        const store = fresh('flushed');
        const outcomes = await Promise.allSettled([put(storage, store, { v: 1, ops: [set(['a'], 1)] }), put(storage, store, { v: 1, ops: [set(['a'], 'late')] })]);
        assert.deepEqual(outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code)), ['ok', ErrorCode.CONFLICT]);
        assert.deepEqual(await storage.load(store), { value: { a: 1 }, v: 1 });
      });

      it('rejects with TWIN_ERR_INTERNAL while Redis is down, then recovers: a follower resumes, appends work', async () => {
        const { redis } = opened;
        assert.ok(redis);
        const store = fresh('restart');
        const got: number[] = [];
        const stop = storage.follow(store, 0, (b) => got.push(b.v));
        await put(opened.peer, store, { v: 1, ops: [set(['a'], 1)] });
        await waitFor(() => got.length === 1);

        await redis.stop();
        const downAt = Date.now();
        await assert.rejects(storage.load(store), { code: ErrorCode.INTERNAL });
        await assert.rejects(put(storage, store, { v: 2, ops: [] }), { code: ErrorCode.INTERNAL });
        // Appends issued together (one script call) each reject alike.
        const together = await Promise.allSettled([put(storage, store, { v: 2, ops: [] }), put(storage, fresh('restart'), { v: 1, ops: [] }, { id: 'down', seq: 1 })]);
        assert.deepEqual(together.map((o) => (o.status === 'rejected' ? [(o.reason as { code?: string }).code, (o.reason as { expose?: boolean }).expose] : 'ok')), [
          [ErrorCode.INTERNAL, false], [ErrorCode.INTERNAL, false],
        ]);
        await assert.rejects(storage.since(store, 0), { code: ErrorCode.INTERNAL });
        assert.ok(Date.now() - downAt < WAIT_MS, 'commands fail fast while Redis is down');

        await redis.restart(); // the same port, but empty: this Redis keeps no data
        // node-redis reconnects by itself; until it has, appends fail with INTERNAL (never hang).
        await retry(() => put(opened.peer, store, { v: 1, ops: [set(['a'], 'again')] }));
        // The follower resumes after the last version it delivered (1), so it hears version 2.
        await put(opened.peer, store, { v: 2, ops: [set(['b'], 2)] });
        await waitFor(() => got.length === 2);
        stop();
        assert.deepEqual(got, [1, 2]);
        await retry(() => storage.load(store).then((s) => assert.deepEqual(s?.value, { a: 'again', b: 2 })));
      });
    }
  });
}

describe('createStorage', () => {
  it('builds each backend from its spec and refuses anything else', async () => {
    const memory = await createStorage('memory');
    await put(memory, 's', { v: 1, ops: [set(['a'], 1)] });
    assert.equal((await memory.load('s'))?.v, 1);
    await memory.close();

    const sqlite = await createStorage(`sqlite:${path.join(tmpDir(), 'spec.db')}`);
    await put(sqlite, 's', { v: 1, ops: [set(['a'], 1)] });
    assert.equal((await sqlite.load('s'))?.v, 1);
    await sqlite.close();

    for (const spec of ['', 'sqlite:', 'file:x.db', 'redis:/nope', 'mem']) {
      await assert.rejects(createStorage(spec), (err: Error) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, new RegExp(`${JSON.stringify(spec)}.*"memory".*"sqlite:PATH".*redis://`));
        return true;
      });
    }
  });

  it('connects a redis:// spec, with the Redis options and the client-record bounds', async () => {
    const server = await startRedis();
    try {
      const storage = await createStorage(`${server.url}/1`, { prefix: 'app:', hashTag: 'tenant-7', clientTtlMs: 60_000 });
      await put(storage, 's', { v: 1, ops: [set(['a'], 1)] }, { id: 'c1', seq: 1 });
      assert.deepEqual(await storage.since('s', 0), [{ v: 1, ops: [set(['a'], 1)] }]);
      await storage.close();
      const raw = createClient({ url: `${server.url}/1` });
      await raw.connect();
      try {
        assert.deepEqual((await raw.keys('*')).map(String).sort(), ['app:{tenant-7}:client:c1', 'app:{tenant-7}:clients', 'app:{tenant-7}:log:s', 'app:{tenant-7}:v:s']);
        const ttl = await raw.pTTL('app:{tenant-7}:client:c1');
        assert.ok(ttl > 50_000 && ttl <= 60_000, `the record expires in ${ttl} ms`);
      } finally {
        await raw.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('refuses bounds that are not positive integers, naming the option', async () => {
    await assert.rejects(createStorage('memory', { maxClients: 0 }), { name: 'RangeError', message: /maxClients/ });
    await assert.rejects(createStorage(`sqlite:${path.join(tmpDir(), 'x.db')}`, { clientTtlMs: 1.5 }), { name: 'RangeError', message: /clientTtlMs/ });
    await assert.rejects(createStorage('redis://127.0.0.1:1', { prefix: 'a{b}:' }), { name: 'RangeError', message: /brace/ });
  });
});

//#region helpers

/** Appends one batch to one store, with its client if given. */
function put(storage: StorageAdapter, store: string, batch: StoredBatch, client?: { id: string; seq: number }): Promise<void> {
  return storage.append([{ store, batch }], client);
}

function set(p: (string | number)[], value: Json): Op {
  return { op: 'set', path: p, value };
}

/** Six batches touching every op kind, with ids from two clients (one id containing a colon). */
function sampleBatches(): StoredBatch[] {
  return [
    { v: 1, ops: [set(['list'], []), set(['count'], 0)], id: 'c1:1' },
    { v: 2, ops: [{ op: 'push', path: ['list'], values: ['a', { b: [1, 2] }] }], id: 'user:42:5' },
    { v: 3, ops: [{ op: 'add', path: ['count'], delta: 2.5 }] },
    { v: 4, ops: [{ op: 'splice', path: ['list'], index: 0, remove: 1, values: ['é', 'z\u{1F600}'] }], id: 'c1:2' },
    { v: 5, ops: [set(['nested'], { deep: { x: null } }), { op: 'del', path: ['count'] }], id: 'user:42:7' },
    { v: 6, ops: [set(['nested', 'deep', 'y'], [true, false])] },
  ];
}

function replay(batches: readonly StoredBatch[]): Json {
  return applyOps({}, batches.flatMap((b) => b.ops));
}

const KEYS = ['a', 'b', 'list', 'n', 'obj'] as const;
const leaf = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<Json> = fc.oneof(
  leaf,
  fc.array(leaf, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('x', 'y', 'z'), leaf, { maxKeys: 3, noNullPrototype: true }),
);
const opSeed = fc.record({
  kind: fc.constantFrom('set', 'del', 'push', 'splice', 'add', 'setNested'),
  key: fc.constantFrom(...KEYS),
  value,
  index: fc.nat(6),
  remove: fc.nat(3),
  delta: fc.integer({ min: -1000, max: 1000 }),
});
type OpSeed = typeof opSeed extends fc.Arbitrary<infer T> ? T : never;

/** Turns a seed into an op that is valid against `state`, falling back to a `set` when it would not be. */
function buildOp(seed: OpSeed, state: JsonObject): Op {
  const current = state[seed.key];
  const path = [seed.key];
  switch (seed.kind) {
    case 'del':
      return { op: 'del', path };
    case 'push':
      return Array.isArray(current) ? { op: 'push', path, values: [seed.value] } : set(path, [seed.value]);
    case 'splice':
      return Array.isArray(current)
        ? { op: 'splice', path, index: seed.index, remove: seed.remove, values: [seed.value] }
        : set(path, []);
    case 'add':
      return current === undefined || typeof current === 'number' ? { op: 'add', path, delta: seed.delta } : set(path, seed.delta);
    case 'setNested':
      return current !== null && typeof current === 'object' && !Array.isArray(current)
        ? set([seed.key, 'x'], seed.value)
        : set(path, { x: seed.value });
    default:
      return set(path, seed.value);
  }
}

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`The condition was not met within ${WAIT_MS} ms.`);
    await sleep(POLL_MS);
  }
}

/** Retries `fn` until it succeeds; every failure meanwhile must be a coded INTERNAL error or an assertion. */
async function retry(fn: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (!(err instanceof assert.AssertionError)) assert.equal((err as { code?: unknown }).code, ErrorCode.INTERNAL);
      if (Date.now() > deadline) throw err;
      await sleep(POLL_MS * 5);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

//#endregion helpers
