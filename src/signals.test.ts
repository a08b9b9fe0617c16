// SPDX-License-Identifier: MIT
/**
 * @module signals.test
 * How finely stores track (ARCHITECTURE.md rules): a consumer re-runs when, and only when, what it read
 * changes; the writes of one turn notify once; a store with no watchers holds no
 * subscriptions; and one copy of the signal polyfill serves the whole page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Signal } from 'signal-polyfill';
import { defineApp, effect, Signal as TwinSignal, signalOf, subscribe, unstable_watchers } from './index.js';
import type { Change } from './index.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const app = defineApp();
let count = 0;
/** A fresh shared store (the page runtime is global: every store gets its own name). */
function storeOf<T extends object>(init: T): T {
  return app.shared(`sig_${++count}`, () => structuredClone(init));
}

/** Runs `read` as an effect and counts its runs; dispose it when done. */
function counted(read: () => unknown): { runs: () => number; dispose: () => void } {
  let runs = 0;
  const dispose = effect(() => {
    read();
    runs++;
  });
  return { runs: () => runs, dispose };
}

const watcherCount = unstable_watchers;

/** Runs `read` as an effect and records what it returned on each re-run (not the first run). */
function recorded<T>(read: () => T): { seen: T[]; dispose: () => void } {
  const seen: T[] = [];
  let first = true;
  const dispose = effect(() => {
    const value = read();
    if (!first) seen.push(value);
    first = false;
  });
  return { seen, dispose };
}

describe('tracking: object keys', () => {
  it('an effect reading s.a re-runs when s.a changes, and sees the new value', async () => {
    const s = storeOf({ a: 1, b: 1 });
    const e = recorded(() => s.a);
    s.a = 2;
    await tick();
    assert.equal(e.seen.at(-1), 2);
    e.dispose();
  });

  it('an effect reading s.a is not re-run by a write to s.b', async () => {
    const s = storeOf({ a: 1, b: 1 });
    const e = counted(() => s.a);
    s.b = 2;
    await tick();
    assert.equal(e.runs(), 1);
    e.dispose();
  });

  it('an effect reading s.x.a is not re-run by s.x.b = ...', async () => {
    const s = storeOf({ x: { a: 1, b: 1 } });
    const e = counted(() => s.x.a);
    s.x.b = 2;
    await tick();
    assert.equal(e.runs(), 1);
    e.dispose();
  });

  it('an effect reading s.x.a re-runs when s.x is replaced', async () => {
    const s = storeOf({ x: { a: 1 } });
    const e = recorded(() => s.x.a);
    s.x = { a: 5 };
    await tick();
    assert.equal(e.seen.at(-1), 5);
    e.dispose();
  });

  it('a Watcher on a computed of s.a is not notified by a write to s.b', () => {
    const s = storeOf({ a: 1, b: 1 });
    let notified = 0;
    const watcher = new Signal.subtle.Watcher(() => notified++);
    const a = new Signal.Computed(() => s.a);
    watcher.watch(a);
    a.get();
    s.b = 2;
    assert.equal(notified, 0);
    watcher.unwatch(a);
  });

  it('a Watcher on a computed of s.a is notified by a write to s.a', () => {
    const s = storeOf({ a: 1, b: 1 });
    let notified = 0;
    const watcher = new Signal.subtle.Watcher(() => notified++);
    const a = new Signal.Computed(() => s.a);
    watcher.watch(a);
    a.get();
    s.a = 2;
    assert.equal(notified, 1);
    assert.equal(a.get(), 2);
    watcher.unwatch(a);
  });

  it('an effect enumerating keys re-runs when a key is added', async () => {
    const s = storeOf({ a: 1 } as Record<string, number>);
    const e = recorded(() => Object.keys(s));
    s.b = 1;
    await tick();
    assert.deepEqual(e.seen.at(-1), ['a', 'b']);
    delete s.a;
    await tick();
    assert.deepEqual(e.seen.at(-1), ['b']);
    e.dispose();
  });

  it('an effect reading only the key list is not re-run when a value changes', async () => {
    // Reflect.ownKeys reads the keys alone (Object.keys also reads each descriptor, value included).
    const s = storeOf({ a: 1 } as Record<string, number>);
    const e = counted(() => Reflect.ownKeys(s));
    s.a = 2;
    await tick();
    assert.equal(e.runs(), 1);
    e.dispose();
  });

  it('an effect reading a missing key re-runs when it appears', async () => {
    const s = storeOf({} as { later?: string });
    const e = recorded(() => s.later);
    s.later = 'here';
    await tick();
    assert.equal(e.seen.at(-1), 'here');
    e.dispose();
  });
});

describe('tracking: arrays', () => {
  it('an effect reading an array re-runs on push', async () => {
    const s = storeOf({ list: [1] });
    const e = recorded(() => s.list.length);
    s.list.push(2);
    await tick();
    assert.equal(e.seen.at(-1), 2);
    e.dispose();
  });

  it('an effect reading an element re-runs on sort, reverse, index set, splice and length set', async () => {
    const s = storeOf({ list: [3, 1, 2] });
    const e = recorded(() => s.list[0]);
    const after: (number | undefined)[] = [];
    for (const write of [
      () => s.list.sort(),
      () => s.list.reverse(),
      () => { s.list[0] = 9; },
      () => s.list.splice(0, 1),
      () => { s.list.length = 0; },
    ]) {
      write();
      await tick();
      after.push(e.seen.at(-1));
    }
    assert.deepEqual(after, [1, 3, 9, 2, undefined]);
    e.dispose();
  });

  it('an effect reading an array is not re-run by a write inside one of its objects', async () => {
    const s = storeOf({ list: [{ text: 'a' }] });
    const e = counted(() => s.list.length);
    s.list[0]!.text = 'b';
    await tick();
    assert.equal(e.runs(), 1);
    e.dispose();
  });
});

describe('tracking: once per turn', () => {
  it('an effect reading s.a re-runs exactly once when s.a changes', async () => {
    const s = storeOf({ a: 1 });
    const e = recorded(() => s.a);
    s.a = 2;
    await tick();
    assert.deepEqual(e.seen, [2]);
    e.dispose();
  });

  it('an effect reading an array re-runs exactly once on push', async () => {
    const s = storeOf({ list: [1] });
    const e = recorded(() => s.list.length);
    s.list.push(2);
    await tick();
    assert.deepEqual(e.seen, [2]);
    e.dispose();
  });
});

describe('batching: one turn', () => {
  it('100 writes in one turn make one batch: subscribe called once with every op', async () => {
    const s = storeOf({ items: [] as number[], n: 0 });
    const changes: Change[] = [];
    subscribe(s, (c) => changes.push(c));
    for (let i = 0; i < 100; i++) s.items.push(i);
    assert.equal(changes.length, 0, 'nothing is announced before the turn ends');
    await tick();
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.origin, 'local');
    assert.equal(changes[0]!.ops.length, 100);
    assert.deepEqual(changes[0]!.ops[99], { op: 'push', path: ['items'], values: [99] });
  });

  it('100 writes in one turn re-run an effect once', async () => {
    const s = storeOf({ items: [] as number[], n: 0 });
    const e = recorded(() => [s.items.length, s.n]);
    for (let i = 0; i < 50; i++) {
      s.items.push(i);
      s.n = i;
    }
    await tick();
    assert.deepEqual(e.seen, [[50, 49]]);
    e.dispose();
  });

  it('writes in two turns make two batches', async () => {
    const s = storeOf({ n: 0 });
    const changes: Change[] = [];
    subscribe(s, (c) => changes.push(c));
    s.n = 1;
    await tick();
    s.n = 2;
    await tick();
    assert.deepEqual(changes.map((c) => c.ops), [[{ op: 'set', path: ['n'], value: 1 }], [{ op: 'set', path: ['n'], value: 2 }]]);
  });

  it('a write of an equal value re-runs nothing', async () => {
    const s = storeOf({ a: 1, o: { x: [1] } });
    const e = counted(() => [s.a, s.o.x[0]]);
    s.a = 1;
    s.o = { x: [1] };
    await tick();
    assert.equal(e.runs(), 1);
    e.dispose();
  });
});

describe('watchers', () => {
  it('after the effect is disposed, writes do not re-run it and the store has no watchers', async () => {
    const s = storeOf({ a: 1, list: [1] });
    assert.equal(watcherCount(s), 0);
    const e = counted(() => [s.a, s.list.length]);
    assert.ok(watcherCount(s) > 0);
    e.dispose();
    assert.equal(watcherCount(s), 0);
    s.a = 2;
    s.list.push(2);
    await tick();
    assert.equal(e.runs(), 1);
  });

  it('reading outside any consumer holds no subscription', () => {
    const s = storeOf({ a: 1, x: { y: [1] } });
    void s.a;
    void s.x.y.length;
    void Object.keys(s);
    assert.equal(watcherCount(s), 0);
  });

  it('an unsubscribed listener is not called', async () => {
    const s = storeOf({ a: 1 });
    let calls = 0;
    const stop = subscribe(s, () => calls++);
    stop();
    s.a = 2;
    await tick();
    assert.equal(calls, 0);
    const stop2 = subscribe(s, () => calls++);
    stop2[Symbol.dispose]();
    s.a = 3;
    await tick();
    assert.equal(calls, 0);
  });
});

describe('signalOf', () => {
  it('returns the value at a dotted path, and follows writes', () => {
    const s = storeOf({ a: { b: 1 }, list: ['x', 'y'] });
    const ab = signalOf<number>(s, 'a.b');
    assert.equal(ab.get(), 1);
    s.a.b = 2;
    assert.equal(ab.get(), 2);
    assert.equal(signalOf(s, 'list.1').get(), 'y');
    assert.equal(signalOf(s, ['a', 'b']).get(), 2);
    assert.equal(signalOf(s, 'a.nope.deeper').get(), undefined);
  });

  it('is tracked: an effect reading it re-runs when the value changes, not for a sibling', async () => {
    const s = storeOf({ a: { b: 1, c: 1 } });
    const ab = signalOf<number>(s, 'a.b');
    const e = recorded(() => ab.get());
    s.a.c = 2;
    await tick();
    assert.deepEqual(e.seen, [], 'a sibling write does not re-run it');
    s.a.b = 5;
    await tick();
    assert.deepEqual(e.seen, [5]);
    e.dispose();
  });

  it('notifies a Watcher when the value changes', () => {
    const s = storeOf({ a: { b: 1 } });
    const ab = signalOf<number>(s, 'a.b');
    let notified = 0;
    const watcher = new Signal.subtle.Watcher(() => notified++);
    watcher.watch(ab);
    ab.get();
    s.a.b = 2;
    assert.equal(notified, 1);
    assert.equal(ab.get(), 2);
    watcher.unwatch(ab);
  });
});

describe('one copy of the signals', () => {
  const SHARED = Symbol.for('twin-state.signal');
  const globals = globalThis as { [SHARED]?: typeof Signal };

  it('shares the Signal namespace it uses on globalThis', () => {
    assert.equal(globals[SHARED], Signal);
    assert.equal(TwinSignal, Signal, 'the Signal it exports is that one');
  });

  it('a Watcher from the shared namespace observes store signals', () => {
    const s = storeOf({ a: 1 });
    const shared = globals[SHARED]!;
    let notified = 0;
    const watcher = new shared.subtle.Watcher(() => notified++);
    const a = new shared.Computed(() => s.a);
    watcher.watch(a);
    a.get();
    s.a = 2;
    assert.equal(notified, 1);
    watcher.unwatch(a);
  });

  it('a second copy of the signals module uses the first copy and warns once', async () => {
    // A second polyfill instance stands for the copy another bundle loaded first.
    const polyfill = import.meta.resolve('signal-polyfill');
    const other = ((await import(`${polyfill}?second-copy`)) as { Signal: typeof Signal }).Signal;
    assert.notEqual(other, Signal);
    const saved = globals[SHARED];
    const warn = console.warn;
    const warnings: unknown[][] = [];
    globals[SHARED] = other;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      // This module's own copy (a module URL is one instance; a query makes another).
      const copy = (await import(`${new URL('./signals.ts', import.meta.url).href}?second-copy`)) as { Signal: typeof Signal };
      assert.equal(copy.Signal, other);
      assert.equal(warnings.length, 1);
      assert.match(String(warnings[0]![0]), /second copy/);
    } finally {
      globals[SHARED] = saved!;
      console.warn = warn;
    }
  });
});
