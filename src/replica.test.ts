// SPDX-License-Identifier: MIT
/**
 * The replica on its own, with a host that records what it is told: confirmed ⊕ pending as
 * the view, what the server's versions do to it (in order, a gap, a diverged replica, our own
 * batch confirmed, a snapshot, a refusal), who waits on it (`settled`, listeners, trackers),
 * paths of view objects across splices, and the writes still pending at a path.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TwinError } from './errors.js';
import type { Json } from './json.js';
import type { Op } from './ops.js';
import { proxyOf } from './proxy.js';
import { Replica } from './replica.js';
import type { Batch, Change, ReplicaHost } from './replica.js';
import { computed, effect } from './signals.js';

/** A host that numbers batches and records what is flushed and who watches. */
function host(): ReplicaHost & { flushed: Batch[]; watchedCalls: boolean[] } {
  let seq = 0;
  const flushed: Batch[] = [];
  const watchedCalls: boolean[] = [];
  return {
    flushed,
    watchedCalls,
    nextBatchId: () => `c:${++seq}`,
    flush: (_replica, batch) => void flushed.push(batch),
    watched: (_replica, watched) => void watchedCalls.push(watched),
    status: () => ({ connection: 'online', v: 0, pending: 0, error: undefined }),
  };
}

const turn = () => new Promise<void>((resolve) => queueMicrotask(resolve));
const set = (path: (string | number)[], value: Json): Op => ({ op: 'set', path, value });

/** A replica of `{ a: 1, list: [...] }` at version 1, its host, and the changes it announced. */
function make(value: Json = { a: 1, list: ['x', 'y'] }) {
  const h = host();
  const replica = new Replica('s', value, 1, h);
  const changes: Change[] = [];
  replica.listen((change) => changes.push(change));
  return { replica, h, changes, view: () => JSON.parse(JSON.stringify(replica.root)) as Record<string, Json> };
}

describe('Replica', () => {
  it('holds an object or an array, nothing else', () => {
    assert.doesNotThrow(() => new Replica('s', [], 0, host()));
    for (const bad of [null, 'text', 3] as Json[]) {
      assert.throws(() => new Replica('s', bad, 0, host()), (err: TwinError) => err.code === ErrorCode.DEFINE && /must hold an object/.test(err.message));
    }
  });

  it('collects one turn’s writes into one batch, the last set of a path winning', async () => {
    const { replica, h, changes } = make();
    replica.write(set(['a'], 2));
    replica.write(set(['a'], 3));
    replica.write({ op: 'push', path: ['list'], values: ['z'] });
    assert.equal(replica.pending.length, 1);
    await turn();
    assert.deepEqual(h.flushed.map((b) => [b.id, b.ops]), [['c:1', [set(['a'], 3), { op: 'push', path: ['list'], values: ['z'] }]]]);
    assert.deepEqual(changes.map((c) => c.origin), ['local']);
  });

  it('refuses writes when read-only, and keeps no pending batch when local', async () => {
    const readonly = new Replica('r', {}, 0, host(), { readonly: 'Local stores are read-only on the server.' });
    assert.throws(() => readonly.write(set(['a'], 1)), (err: TwinError) => err.code === ErrorCode.READONLY && /read-only on the server/.test(err.message));
    const h = host();
    const local = new Replica('l', { a: 1 }, 0, h, { local: true });
    local.write(set(['a'], 2));
    assert.equal(local.pending.length, 0);
    await turn();
    assert.equal(h.flushed.length, 1, 'a local store still persists its turn');
    assert.deepEqual(local.root, { a: 2 });
  });

  describe('hearing the server', () => {
    it('applies the next version, refuses a gap or a repeat with ops, and confirms with an empty repeat', () => {
      const { replica, changes, view } = make();
      assert.equal(replica.receive(3, [set(['a'], 9)]), false, 'a gap');
      assert.equal(replica.receive(1, [set(['a'], 9)]), false, 'the same version again, with ops');
      assert.deepEqual(view().a, 1);
      assert.equal(replica.v, 1);
      assert.equal(replica.receive(1, []), true, 'an empty confirmation at the current version');
      assert.equal(changes.length, 0, 'which changes nothing');
      assert.equal(replica.receive(2, [set(['a'], 2)]), true);
      assert.equal(replica.v, 2);
      assert.deepEqual(view().a, 2);
      assert.deepEqual(changes, [{ ops: [set(['a'], 2)], origin: 'remote' }]);
    });

    it('forgets its version when ops do not apply (it diverged), so a resync brings a snapshot', () => {
      const { replica } = make();
      assert.equal(replica.receive(2, [set(['missing', 'deep'], 1)]), false);
      assert.equal(replica.v, 0);
    });

    it('confirms its oldest batch without touching the view; another batch’s confirmation rebases', async () => {
      const { replica, changes, view } = make();
      replica.write(set(['a'], 5));
      await turn();
      replica.write(set(['b'], 6));
      await turn();
      changes.splice(0);
      // The server confirms our first batch as we applied it: nothing to show.
      assert.equal(replica.receive(2, [set(['a'], 5)], 'c:1'), true);
      assert.deepEqual(replica.pending.map((b) => b.id), ['c:2']);
      assert.equal(changes.length, 0, 'no change: the view showed it already');
      // Someone else's write, with ours still pending on top.
      assert.equal(replica.receive(3, [set(['a'], 7)]), true);
      assert.deepEqual(view(), { a: 7, list: ['x', 'y'], b: 6 });
      assert.deepEqual(changes.map((c) => c.origin), ['remote']);
    });

    it('rebases when the server’s run of an action wrote something else than ours', () => {
      const { replica, view } = make();
      const batch = replica.openBatch('call:1', 'call');
      batch.ops.push(set(['a'], 100));
      replica.write(set(['a'], 100));
      // (write went to the turn batch too; drop it, keep the call's)
      replica.pending.splice(replica.pending.findIndex((b) => b.kind === 'ops'), 1);
      assert.equal(replica.receive(2, [set(['a'], 42)], 'call:1'), true);
      assert.deepEqual(replica.pending, []);
      assert.equal(view().a, 42);
    });

    it('shows a re-sent batch once when the server confirms it empty after a snapshot that holds it', async () => {
      const { replica, view } = make();
      replica.write({ op: 'push', path: ['list'], values: ['mine'] });
      await turn();
      replica.reset({ a: 1, list: ['x', 'y', 'mine'] }, 5);
      assert.deepEqual(view().list, ['x', 'y', 'mine', 'mine'], 'until confirmed, ours lies on top');
      assert.equal(replica.receive(5, [], 'c:1'), true);
      assert.deepEqual(view().list, ['x', 'y', 'mine']);
    });

    it('takes a snapshot whole, and refuses one that is not an object', () => {
      const { replica, changes, view } = make();
      assert.throws(() => replica.reset(null, 4), (err: TwinError) => err.code === ErrorCode.FRAME && /must be an object/.test(err.message));
      replica.reset({ z: 1 }, 4);
      assert.equal(replica.v, 4);
      assert.deepEqual(view(), { z: 1 });
      assert.deepEqual(changes, [{ ops: [], origin: 'remote', reset: true }]);
    });

    it('rolls back a refused batch, keeps its error, and settles who waited', async () => {
      const { replica, changes, view } = make();
      replica.write(set(['a'], 5));
      const waiting = replica.settled();
      await turn();
      changes.splice(0);
      const error = new TwinError(ErrorCode.SCHEMA, 'No.');
      replica.reject('c:1', error);
      assert.equal(view().a, 1);
      assert.equal(replica.lastError, error);
      assert.deepEqual(changes, [{ ops: [], origin: 'remote' }]);
      await assert.rejects(waiting, (err) => err === error);
      // A refusal of nothing pending (a store-level error) is kept too, and announces nothing.
      const other = new TwinError(ErrorCode.FORBIDDEN, 'Not yours.');
      replica.reject('', other);
      assert.equal(replica.lastError, other);
      assert.equal(changes.length, 1);
    });

    it('drops a batch by id: true when there was one', async () => {
      const { replica, view } = make();
      replica.write(set(['a'], 5));
      await turn();
      assert.equal(replica.drop('nope'), false);
      assert.equal(replica.drop('c:1'), true);
      assert.equal(view().a, 1);
      assert.deepEqual(replica.pending, []);
    });
  });

  describe('lastWrite', () => {
    it('follows the last write made here: pending, then confirmed as its version, or rejected with its reason', async () => {
      const { replica } = make();
      assert.equal(replica.lastWrite(), undefined);
      const fate = computed(() => replica.lastWrite());
      replica.write(set(['a'], 2));
      assert.deepEqual(fate.get(), { state: 'pending' });
      await turn();
      replica.write(set(['a'], 3));
      await turn();
      // The first is confirmed: the last write is still the second, still pending.
      replica.receive(2, [set(['a'], 2)], 'c:1');
      assert.deepEqual(fate.get(), { state: 'pending' });
      replica.receive(3, [set(['a'], 3)], 'c:2');
      assert.deepEqual(fate.get(), { state: 'confirmed', v: 3 });
      replica.write(set(['a'], 4));
      await turn();
      replica.reject('c:3', new TwinError(ErrorCode.SCHEMA, 'No fours.'));
      assert.deepEqual(fate.get(), { state: 'rejected', error: { code: ErrorCode.SCHEMA, message: 'No fours.' } });
      const local = new Replica('l', {}, 0, host(), { local: true });
      local.write(set(['a'], 1));
      assert.equal(local.lastWrite(), undefined, 'a local store’s writes are final at once');
    });
  });

  describe('settled', () => {
    it('resolves at once with nothing pending, else once every batch pending now is confirmed', async () => {
      const { replica } = make();
      await replica.settled();
      replica.write(set(['a'], 2));
      await turn();
      replica.write(set(['a'], 3));
      await turn();
      let done = false;
      const settled = replica.settled().then(() => (done = true));
      replica.receive(2, [set(['a'], 2)], 'c:1');
      await turn();
      assert.equal(done, false, 'one of two confirmed');
      replica.receive(3, [set(['a'], 3)], 'c:2');
      await settled;
      assert.equal(done, true);
    });
  });

  describe('batches taken back from an earlier page', () => {
    it('go before this page’s own pending batches (made before them, sent before them)', async () => {
      const { replica, view } = make();
      replica.write(set(['title'], 'mine, newer'));
      await turn();
      replica.restorePending('old:7', [set(['title'], 'theirs, older')], 'c:');
      assert.deepEqual(replica.pending.map((b) => b.id), ['old:7', 'c:1']);
      assert.equal(view().title, 'mine, newer');
    });

    it('are pending again under their own id, shown, and confirmed like any other; a second copy is ignored', () => {
      const { replica, view } = make();
      replica.restorePending('old:7', [{ op: 'push', path: ['list'], values: ['queued'] }], 'c:');
      replica.restorePending('old:7', [{ op: 'push', path: ['list'], values: ['queued'] }], 'c:');
      assert.deepEqual(replica.pending.map((b) => [b.id, b.kind]), [['old:7', 'ops']]);
      assert.deepEqual(view().list, ['x', 'y', 'queued']);
      assert.equal(replica.pendingAt(['list', 2]), true);
      replica.receive(2, [{ op: 'push', path: ['list'], values: ['queued'] }], 'old:7');
      assert.deepEqual(replica.pending, []);
      assert.deepEqual(view().list, ['x', 'y', 'queued']);
    });
  });

  describe('pendingAt', () => {
    it('is true at, inside and above a pending write, of a list only for the items pushed, and tracked', async () => {
      const { replica } = make({ a: { b: 1 }, c: 2, list: ['x', 'y'] });
      const at = (path: (string | number)[]) => computed(() => replica.pendingAt(path));
      const [ab, a, c, x, pushed] = [at(['a', 'b']), at(['a']), at(['c']), at(['list', 0]), at(['list', 2])];
      assert.deepEqual([ab.get(), a.get(), c.get(), x.get(), pushed.get()], [false, false, false, false, false]);
      replica.write(set(['a', 'b'], 5));
      replica.write({ op: 'push', path: ['list'], values: ['z'] });
      assert.deepEqual([ab.get(), a.get(), c.get(), x.get(), pushed.get()], [true, true, false, false, true]);
      assert.equal(replica.pendingAt(['a', 'b', 'deeper']), true);
      assert.equal(replica.pendingAt([]), true, 'the whole store');
      // Two queued pushes (two batches): both items are the pending ones.
      await turn();
      replica.write({ op: 'push', path: ['list'], values: ['w'] });
      assert.deepEqual([1, 2, 3].map((i) => replica.pendingAt(['list', i])), [false, true, true]);
      await turn();
      replica.receive(2, [set(['a', 'b'], 5), { op: 'push', path: ['list'], values: ['z'] }], 'c:1');
      replica.receive(3, [{ op: 'push', path: ['list'], values: ['w'] }], 'c:2');
      assert.deepEqual([ab.get(), pushed.get()], [false, false]);
    });
  });

  describe('paths of view objects', () => {
    it('follow an item across splices, and are undefined once it left the store', () => {
      const { replica } = make({ items: [{ n: 1 }, { n: 2 }] });
      const root = proxyOf(replica, replica.root) as { items: { n: number }[] };
      const second = root.items[1]!;
      root.items.unshift({ n: 0 });
      const items = (replica.root as unknown as { items: object[] }).items;
      assert.deepEqual(replica.pathOf(items[2] as never), ['items', 2]);
      second.n = 20;
      assert.deepEqual((replica.root as { items: { n: number }[] }).items.map((i) => i.n), [0, 1, 20]);
      const gone = root.items[0]!;
      root.items.shift();
      assert.throws(() => (gone.n = 5), (err: TwinError) => err.code === ErrorCode.READONLY);
    });
  });

  describe('watchers', () => {
    it('tell the host when the first consumer comes and the last one goes, and count them', async () => {
      const { replica, h } = make();
      const root = proxyOf(replica, replica.root) as { a: number };
      assert.equal(replica.watcherCount, 0);
      const seen: number[] = [];
      const stop = effect(() => void seen.push(root.a));
      assert.ok(replica.watcherCount > 0);
      assert.deepEqual(h.watchedCalls, [true]);
      replica.receive(2, [set(['a'], 2)]);
      await turn();
      await turn();
      assert.deepEqual(seen, [1, 2]);
      stop();
      assert.equal(replica.watcherCount, 0);
      assert.deepEqual(h.watchedCalls, [true, false]);
    });

    it('re-run a reader of the keys when a key is added, not when one is only changed', () => {
      const { replica } = make({ a: 1 });
      const root = proxyOf(replica, replica.root) as Record<string, number>;
      let runs = 0;
      const keys = computed(() => (runs++, Reflect.ownKeys(root).join()));
      assert.equal(keys.get(), 'a');
      replica.receive(2, [set(['a'], 2)]);
      assert.equal(keys.get(), 'a');
      assert.equal(runs, 1, 'a changed value is not a new key');
      replica.receive(3, [set(['b'], 1)]);
      assert.equal(keys.get(), 'a,b');
      assert.equal(runs, 2);
    });

    it('trackAll re-runs its reader on any change', () => {
      const { replica } = make();
      let runs = 0;
      const all = computed(() => (replica.trackAll(), ++runs));
      all.get();
      replica.receive(2, [set(['a'], 2)]);
      all.get();
      assert.equal(runs, 2);
    });
  });

  describe('listeners', () => {
    it('stop when unsubscribed; one that throws is reported and the others still hear', () => {
      const { replica } = make();
      const heard: string[] = [];
      const errors: unknown[] = [];
      const g = globalThis as { reportError?: (err: unknown) => void };
      const report = g.reportError;
      g.reportError = (err) => void errors.push(err);
      try {
        replica.listen(() => {
          throw new Error('listener bug');
        });
        const stop = replica.listen((change) => void heard.push(change.origin));
        replica.receive(2, [set(['a'], 2)]);
        stop();
        replica.receive(3, [set(['a'], 3)]);
      } finally {
        if (report) g.reportError = report;
        else delete g.reportError;
      }
      assert.deepEqual(heard, ['remote']);
      assert.equal(errors.length, 2);
      assert.match(String(errors[0]), /listener bug/);
    });
  });
});
