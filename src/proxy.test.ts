// SPDX-License-Identifier: MIT
/**
 * @module proxy.test
 * The store proxy: every kind of write emits exactly the ops that replay it (`applyOps` on the
 * state before gives the state after), equal writes emit nothing, values are copied in, held
 * references follow their object, detached objects and non-JSON values are refused. A
 * property-based test replays random write sequences on random JSON states.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyOps, defineApp, effect, ErrorCode, increment, isTwinError, snapshot, subscribe } from './index.js';
import type { Change, Json, Op } from './index.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const app = defineApp();
let count = 0;

/** A fresh shared store holding a copy of `init` (store names are global to the page runtime). */
function storeOf<T extends object>(init: T): T {
  return app.shared(`proxy_${++count}`, () => structuredClone(init));
}

function replay(before: unknown, ops: readonly Op[]): unknown {
  return applyOps(before as Json, ops);
}

/**
 * Runs `write` on `store` in one turn; asserts the one change it announces carries exactly
 * `ops` (or that nothing is announced for `[]`) and that those ops replay the write.
 * Returns what `write` returned.
 */
async function emits<T extends object, R>(store: T, write: (s: T) => R, ops: Op[]): Promise<R> {
  const before = snapshot(store);
  const changes: Change[] = [];
  const stop = subscribe(store, (change) => changes.push(change));
  let result: R;
  try {
    result = write(store);
    await tick();
  } finally {
    stop();
  }
  if (ops.length === 0) {
    assert.deepEqual(changes, [], 'no change is announced');
    assert.deepEqual(snapshot(store), before);
  } else {
    assert.equal(changes.length, 1, 'one change per turn');
    assert.equal(changes[0]!.origin, 'local');
    assert.deepEqual(changes[0]!.ops, ops);
    assert.deepEqual(replay(before, changes[0]!.ops), snapshot(store), 'the ops replay the write');
  }
  return result;
}

/** Asserts that `write` throws a TwinError with `code` and changes and announces nothing. */
async function refuses<T extends object>(store: T, write: (s: T) => unknown, code: string): Promise<void> {
  const before = snapshot(store);
  const changes: Change[] = [];
  const stop = subscribe(store, (change) => changes.push(change));
  try {
    assert.throws(() => write(store), (err: unknown) => {
      assert.ok(isTwinError(err), `expected a TwinError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      return true;
    });
    await tick();
  } finally {
    stop();
  }
  assert.deepEqual(snapshot(store), before, 'the store is unchanged');
  assert.deepEqual(changes, [], 'nothing is announced');
}

describe('property set', () => {
  it('at the top level', async () => {
    const s = storeOf({ score: 0, name: 'a' });
    await emits(s, (s) => { s.score = 5; }, [{ op: 'set', path: ['score'], value: 5 }]);
    assert.equal(s.score, 5);
  });

  it('of a new key', async () => {
    const s = storeOf({} as Record<string, unknown>);
    await emits(s, (s) => { s.fresh = [1, { a: null }]; }, [{ op: 'set', path: ['fresh'], value: [1, { a: null }] }]);
  });

  it('deep', async () => {
    const s = storeOf({ a: { b: { c: 'x' } } });
    await emits(s, (s) => { s.a.b.c = 'y'; }, [{ op: 'set', path: ['a', 'b', 'c'], value: 'y' }]);
  });

  it('of an object value, replacing a primitive', async () => {
    const s = storeOf({ v: 1 as unknown });
    await emits(s, (s) => { s.v = { x: [1, 2], y: { z: true } }; }, [{ op: 'set', path: ['v'], value: { x: [1, 2], y: { z: true } } }]);
  });

  it('with a numeric key on an object', async () => {
    const s = storeOf({} as Record<string, number>);
    await emits(s, (s) => { s[0] = 1; }, [{ op: 'set', path: ['0'], value: 1 }]);
  });

  it('several writes in one turn: one change, ops in order', async () => {
    const s = storeOf({ a: 0, b: { c: 0 } });
    await emits(s, (s) => {
      s.a = 1;
      s.b.c = 2;
      s.a = 3;
    }, [
      { op: 'set', path: ['a'], value: 1 },
      { op: 'set', path: ['b', 'c'], value: 2 },
      { op: 'set', path: ['a'], value: 3 },
    ]);
  });

  it('to one path twice in a row keeps only the last', async () => {
    const s = storeOf({ a: 0 });
    await emits(s, (s) => {
      s.a = 1;
      s.a = 2;
    }, [{ op: 'set', path: ['a'], value: 2 }]);
  });

  it('through Reflect.set and Object.assign', async () => {
    const s = storeOf({ a: 0, b: 0 });
    await emits(s, (s) => {
      Reflect.set(s, 'a', 1);
      Object.assign(s, { b: 2 });
    }, [{ op: 'set', path: ['a'], value: 1 }, { op: 'set', path: ['b'], value: 2 }]);
  });
});

describe('delete', () => {
  it('of a top-level key', async () => {
    const s = storeOf({ a: 1, b: 2 } as { a?: number; b: number });
    await emits(s, (s) => { delete s.a; }, [{ op: 'del', path: ['a'] }]);
    assert.equal('a' in s, false);
  });

  it('of a deep key', async () => {
    const s = storeOf({ x: { y: { z: 1, w: 2 } } } as { x: { y: { z?: number; w: number } } });
    await emits(s, (s) => { delete s.x.y.z; }, [{ op: 'del', path: ['x', 'y', 'z'] }]);
  });

  it('of a missing key emits nothing', async () => {
    const s = storeOf({ a: 1 } as Record<string, number>);
    await emits(s, (s) => { delete s.nope; }, []);
  });

  it('of an array element removes it', async () => {
    const s = storeOf({ list: ['a', 'b', 'c'] });
    await emits(s, (s) => { delete s.list[1]; }, [{ op: 'del', path: ['list', 1] }]);
    assert.deepEqual(snapshot(s).list, ['a', 'c']);
  });
});

describe('set to undefined', () => {
  it('deletes the key', async () => {
    const s = storeOf({ a: 1, b: 2 } as { a?: number | undefined; b: number });
    await emits(s, (s) => { s.a = undefined; }, [{ op: 'del', path: ['a'] }]);
    assert.equal(Object.hasOwn(snapshot(s), 'a'), false);
  });

  it('of a missing key emits nothing', async () => {
    const s = storeOf({} as { a?: number | undefined });
    await emits(s, (s) => { s.a = undefined; }, []);
  });

  it('leaves out undefined keys of an object value', async () => {
    const s = storeOf({} as Record<string, unknown>);
    await emits(s, (s) => { s.v = { keep: 1, drop: undefined }; }, [{ op: 'set', path: ['v'], value: { keep: 1 } }]);
  });

  it('in an array is refused (JSON arrays hold no undefined)', async () => {
    const s = storeOf({ list: [1, 2] as (number | undefined)[] });
    await refuses(s, (s) => { s.list[0] = undefined; }, ErrorCode.VALUE);
    await refuses(s, (s) => s.list.push(undefined), ErrorCode.VALUE);
  });
});

describe('array push', () => {
  it('of one value', async () => {
    const s = storeOf({ list: [1] });
    const length = await emits(s, (s) => s.list.push(2), [{ op: 'push', path: ['list'], values: [2] }]);
    assert.equal(length, 2);
  });

  it('of several values: one op', async () => {
    const s = storeOf({ list: [] as unknown[] });
    const length = await emits(s, (s) => s.list.push(1, 'two', { three: [3] }), [{ op: 'push', path: ['list'], values: [1, 'two', { three: [3] }] }]);
    assert.equal(length, 3);
  });

  it('of nothing emits nothing', async () => {
    const s = storeOf({ list: [1] });
    assert.equal(await emits(s, (s) => s.list.push(), []), 1);
  });

  it('onto a nested array', async () => {
    const s = storeOf({ rooms: [{ members: ['a'] }] });
    await emits(s, (s) => s.rooms[0]!.members.push('b'), [{ op: 'push', path: ['rooms', 0, 'members'], values: ['b'] }]);
  });
});

describe('array pop', () => {
  it('removes and returns the last element', async () => {
    const s = storeOf({ list: [1, { x: 2 }] });
    const last = await emits(s, (s) => s.list.pop(), [{ op: 'splice', path: ['list'], index: 1, remove: 1, values: [] }]);
    assert.deepEqual(last, { x: 2 });
  });

  it('of an empty array returns undefined and emits nothing', async () => {
    const s = storeOf({ list: [] as number[] });
    assert.equal(await emits(s, (s) => s.list.pop(), []), undefined);
  });
});

describe('array shift', () => {
  it('removes and returns the first element', async () => {
    const s = storeOf({ list: ['a', 'b'] });
    const first = await emits(s, (s) => s.list.shift(), [{ op: 'splice', path: ['list'], index: 0, remove: 1, values: [] }]);
    assert.equal(first, 'a');
  });

  it('of an empty array emits nothing', async () => {
    const s = storeOf({ list: [] as number[] });
    assert.equal(await emits(s, (s) => s.list.shift(), []), undefined);
  });
});

describe('array unshift', () => {
  it('inserts at the start and returns the new length', async () => {
    const s = storeOf({ list: [3] });
    const length = await emits(s, (s) => s.list.unshift(1, 2), [{ op: 'splice', path: ['list'], index: 0, remove: 0, values: [1, 2] }]);
    assert.equal(length, 3);
    assert.deepEqual(snapshot(s).list, [1, 2, 3]);
  });

  it('of nothing emits nothing', async () => {
    const s = storeOf({ list: [3] });
    assert.equal(await emits(s, (s) => s.list.unshift(), []), 1);
  });
});

describe('array splice', () => {
  const list = () => storeOf({ list: ['a', 'b', 'c', 'd', 'e'] });

  it('removes and inserts', async () => {
    const removed = await emits(list(), (s) => s.list.splice(1, 2, 'X'), [{ op: 'splice', path: ['list'], index: 1, remove: 2, values: ['X'] }]);
    assert.deepEqual(removed, ['b', 'c']);
  });

  it('with a negative start', async () => {
    const removed = await emits(list(), (s) => s.list.splice(-2, 1), [{ op: 'splice', path: ['list'], index: 3, remove: 1, values: [] }]);
    assert.deepEqual(removed, ['d']);
  });

  it('with a negative start beyond the length (from 0)', async () => {
    const removed = await emits(list(), (s) => s.list.splice(-100, 1), [{ op: 'splice', path: ['list'], index: 0, remove: 1, values: [] }]);
    assert.deepEqual(removed, ['a']);
  });

  it('with no deleteCount removes everything from start', async () => {
    const removed = await emits(list(), (s) => s.list.splice(2), [{ op: 'splice', path: ['list'], index: 2, remove: 3, values: [] }]);
    assert.deepEqual(removed, ['c', 'd', 'e']);
  });

  it('with a negative start and no deleteCount', async () => {
    const removed = await emits(list(), (s) => s.list.splice(-1), [{ op: 'splice', path: ['list'], index: 4, remove: 1, values: [] }]);
    assert.deepEqual(removed, ['e']);
  });

  it('with a deleteCount beyond the end clamps it', async () => {
    const removed = await emits(list(), (s) => s.list.splice(3, 99), [{ op: 'splice', path: ['list'], index: 3, remove: 2, values: [] }]);
    assert.deepEqual(removed, ['d', 'e']);
  });

  it('with a start beyond the length appends', async () => {
    await emits(list(), (s) => s.list.splice(99, 1, 'z'), [{ op: 'splice', path: ['list'], index: 5, remove: 0, values: ['z'] }]);
  });

  it('with a negative or undefined deleteCount removes nothing', async () => {
    await emits(list(), (s) => s.list.splice(1, -3, 'y'), [{ op: 'splice', path: ['list'], index: 1, remove: 0, values: ['y'] }]);
    await emits(list(), (s) => s.list.splice(1, undefined as unknown as number, 'y'), [{ op: 'splice', path: ['list'], index: 1, remove: 0, values: ['y'] }]);
  });

  it('with no arguments, or removing and inserting nothing, emits nothing', async () => {
    assert.deepEqual(await emits(list(), (s) => (s.list.splice as () => string[])(), []), []);
    assert.deepEqual(await emits(list(), (s) => s.list.splice(1, 0), []), []);
  });

  it('returns plain copies of removed objects', async () => {
    const s = storeOf({ list: [{ a: 1 }] });
    const [removed] = await emits(s, (s) => s.list.splice(0, 1), [{ op: 'splice', path: ['list'], index: 0, remove: 1, values: [] }]);
    removed!.a = 2;
    assert.deepEqual(snapshot(s), { list: [] });
  });
});

describe('array sort', () => {
  it('with the default order: one splice of the whole array', async () => {
    const s = storeOf({ list: [3, 1, 10, 2] });
    const result = await emits(s, (s) => s.list.sort(), [{ op: 'splice', path: ['list'], index: 0, remove: 4, values: [1, 10, 2, 3] }]);
    assert.equal(result, s.list, 'returns the array itself');
  });

  it('with a compare function, receiving plain values', async () => {
    const s = storeOf({ list: [{ n: 2 }, { n: 1 }, { n: 3 }] });
    await emits(s, (s) => s.list.sort((a, b) => b.n - a.n), [{ op: 'splice', path: ['list'], index: 0, remove: 3, values: [{ n: 3 }, { n: 2 }, { n: 1 }] }]);
  });

  it('of a sorted array emits nothing', async () => {
    const s = storeOf({ list: [1, 2, 3] });
    await emits(s, (s) => s.list.sort((a, b) => a - b), []);
  });
});

describe('array reverse', () => {
  it('emits one splice of the whole array', async () => {
    const s = storeOf({ list: [1, 2, 3] });
    await emits(s, (s) => s.list.reverse(), [{ op: 'splice', path: ['list'], index: 0, remove: 3, values: [3, 2, 1] }]);
  });

  it('of a palindrome emits nothing', async () => {
    const s = storeOf({ list: [1, 2, 1] });
    await emits(s, (s) => s.list.reverse(), []);
  });
});

describe('array index set', () => {
  it('replaces an element', async () => {
    const s = storeOf({ list: [1, 2, 3] });
    await emits(s, (s) => { s.list[1] = 9; }, [{ op: 'set', path: ['list', 1], value: 9 }]);
  });

  it('at the length appends', async () => {
    const s = storeOf({ list: [1, 2] });
    await emits(s, (s) => { s.list[2] = 3; }, [{ op: 'set', path: ['list', 2], value: 3 }]);
    assert.deepEqual(snapshot(s).list, [1, 2, 3]);
  });

  it('beyond the length is refused (JSON has no holes)', async () => {
    const s = storeOf({ list: [1, 2] });
    await refuses(s, (s) => { s.list[3] = 4; }, ErrorCode.PATH);
  });

  it('with a key that is not an index is refused', async () => {
    const s = storeOf({ list: [1, 2] });
    await refuses(s, (s) => { (s.list as unknown as Record<string, number>).extra = 1; }, ErrorCode.PATH);
    await refuses(s, (s) => { (s.list as unknown as Record<string, number>)['01'] = 1; }, ErrorCode.PATH);
  });
});

describe('array length set', () => {
  it('shrinking: one splice from the new length', async () => {
    const s = storeOf({ list: [1, 2, 3, 4] });
    await emits(s, (s) => { s.list.length = 1; }, [{ op: 'splice', path: ['list'], index: 1, remove: 3, values: [] }]);
    assert.deepEqual(snapshot(s).list, [1]);
  });

  it('to 0 empties the array', async () => {
    const s = storeOf({ list: [1, 2] });
    await emits(s, (s) => { s.list.length = 0; }, [{ op: 'splice', path: ['list'], index: 0, remove: 2, values: [] }]);
  });

  it('growing fills with null (JSON has no holes)', async () => {
    const s = storeOf({ list: [1] });
    await emits(s, (s) => { s.list.length = 3; }, [{ op: 'push', path: ['list'], values: [null, null] }]);
    assert.deepEqual(snapshot(s).list, [1, null, null]);
  });

  it('to the same length emits nothing', async () => {
    const s = storeOf({ list: [1] });
    await emits(s, (s) => { s.list.length = 1; }, []);
  });

  it('to an invalid length throws a RangeError and changes nothing', () => {
    const s = storeOf({ list: [1] });
    assert.throws(() => { s.list.length = -1; }, RangeError);
    assert.throws(() => { s.list.length = 1.5; }, RangeError);
    assert.deepEqual(snapshot(s).list, [1]);
  });
});

describe('nested object in array', () => {
  it('set of a key of an item', async () => {
    const s = storeOf({ list: [{ text: 'a' }, { text: 'b' }] });
    await emits(s, (s) => { s.list[1]!.text = 'B'; }, [{ op: 'set', path: ['list', 1, 'text'], value: 'B' }]);
  });

  it('delete of a key of an item', async () => {
    const s = storeOf({ list: [{ text: 'a', done: true } as { text: string; done?: boolean }] });
    await emits(s, (s) => { delete s.list[0]!.done; }, [{ op: 'del', path: ['list', 0, 'done'] }]);
  });

  it('push into an array inside an item', async () => {
    const s = storeOf({ list: [{ tags: [] as string[] }] });
    await emits(s, (s) => s.list[0]!.tags.push('t'), [{ op: 'push', path: ['list', 0, 'tags'], values: ['t'] }]);
  });

  it('arrays of arrays', async () => {
    const s = storeOf({ grid: [[0, 0], [0, 0]] });
    await emits(s, (s) => { s.grid[1]![0] = 1; }, [{ op: 'set', path: ['grid', 1, 0], value: 1 }]);
  });
});

describe('increment', () => {
  it('emits an add op', async () => {
    const s = storeOf({ score: 1 });
    await emits(s, (s) => increment(s, 'score', 2), [{ op: 'add', path: ['score'], delta: 2 }]);
    assert.equal(s.score, 3);
  });

  it('defaults to +1 and counts a missing key as 0', async () => {
    const s = storeOf({ stats: {} as Record<string, number> });
    await emits(s, (s) => increment(s.stats, 'hits'), [{ op: 'add', path: ['stats', 'hits'], delta: 1 }]);
    assert.equal(s.stats.hits, 1);
  });

  it('takes a path, and an array index', async () => {
    const s = storeOf({ a: { b: [5] } });
    await emits(s, (s) => {
      increment(s, ['a', 'b', 0], 5);
      increment(s.a.b, 0, -1);
    }, [{ op: 'add', path: ['a', 'b', 0], delta: 5 }, { op: 'add', path: ['a', 'b', 0], delta: -1 }]);
  });

  it('refuses a non-finite delta and a non-number target', async () => {
    const s = storeOf({ n: 1, s: 'x' });
    await refuses(s, (s) => increment(s, 'n', NaN), ErrorCode.VALUE);
    await refuses(s, (s) => increment(s, 'n', Infinity), ErrorCode.VALUE);
    await refuses(s, (s) => increment(s, 's'), ErrorCode.PATH);
  });
});

describe('writes of an equal value', () => {
  it('emit nothing and re-run no effect: primitive and deep-equal object', async () => {
    const s = storeOf({ n: 1, s: 'x', obj: { deep: { list: [1, { a: 2 }] } }, list: [{ k: 1 }] });
    let runs = 0;
    const dispose = effect(() => {
      void [s.n, s.s, s.obj.deep.list[1], s.list[0]!.k];
      runs++;
    });
    await emits(s, (s) => {
      s.n = 1;
      s.s = 'x';
      s.obj = { deep: { list: [1, { a: 2 }] } };
      s.obj.deep = { list: [1, { a: 2 }] };
      s.list[0] = { k: 1 };
      s.list.length = 1;
    }, []);
    assert.equal(runs, 1);
    dispose();
  });

  it('keep the identity of the object in the store', () => {
    const s = storeOf({ obj: { a: 1 } });
    const held = s.obj;
    s.obj = { a: 1 };
    assert.equal(s.obj, held);
  });
});

describe('values are copied in', () => {
  it('assigning an object already in the store copies it', async () => {
    const s = storeOf({ a: { x: 1, list: [1] }, b: null as unknown as { x: number; list: number[] } });
    await emits(s, (s) => { s.b = s.a; }, [{ op: 'set', path: ['b'], value: { x: 1, list: [1] } }]);
    assert.notEqual(s.b, s.a);
    s.b.x = 2;
    s.b.list.push(2);
    assert.deepEqual(snapshot(s), { a: { x: 1, list: [1] }, b: { x: 2, list: [1, 2] } });
  });

  it('pushing an item already in the store copies it', async () => {
    const s = storeOf({ list: [{ n: 1 }] });
    s.list.push(s.list[0]!);
    await tick();
    s.list[1]!.n = 2;
    assert.deepEqual(snapshot(s).list, [{ n: 1 }, { n: 2 }]);
  });

  it('a value from outside is not aliased', () => {
    const s = storeOf({} as Record<string, { list: number[] }>);
    const outside = { list: [1] };
    s.v = outside;
    outside.list.push(2);
    assert.deepEqual(snapshot(s), { v: { list: [1] } });
    s.v!.list.push(3);
    assert.deepEqual(outside, { list: [1, 2] });
  });

  it('assigning a frozen snapshot works and copies it', () => {
    const s = storeOf({ a: { x: 1 }, b: {} as { x?: number } });
    s.b = snapshot(s).a;
    s.b.x = 5;
    assert.deepEqual(snapshot(s), { a: { x: 1 }, b: { x: 5 } });
  });

  it('a snapshot is a frozen copy that later writes do not change', () => {
    const s = storeOf({ list: [1], o: { a: 1 } });
    const before = snapshot(s);
    s.list.push(2);
    s.o.a = 2;
    assert.deepEqual(before, { list: [1], o: { a: 1 } });
    assert.ok(Object.isFrozen(before) && Object.isFrozen(before.list) && Object.isFrozen(before.o));
  });
});

describe('held references', () => {
  it('to an array item keep pointing to the same item after an unshift', async () => {
    const s = storeOf({ list: [{ id: 'a', text: '' }, { id: 'b', text: '' }] });
    const b = s.list[1]!;
    s.list.unshift({ id: 'z', text: '' });
    await tick();
    await emits(s, () => { b.text = 'changed'; }, [{ op: 'set', path: ['list', 2, 'text'], value: 'changed' }]);
    assert.deepEqual(snapshot(s).list, [{ id: 'z', text: '' }, { id: 'a', text: '' }, { id: 'b', text: 'changed' }]);
  });

  it('to an array item follow it through shift and splice', async () => {
    const s = storeOf({ list: [{ id: 'a', n: 0 }, { id: 'b', n: 0 }, { id: 'c', n: 0 }, { id: 'd', n: 0 }] });
    const d = s.list[3]!;
    s.list.shift();
    s.list.splice(0, 1, { id: 'x', n: 0 }, { id: 'y', n: 0 });
    await tick();
    await emits(s, () => increment(d, 'n'), [{ op: 'add', path: ['list', 3, 'n'], delta: 1 }]);
    assert.deepEqual(snapshot(s).list.map((i) => `${i.id}${i.n}`), ['x0', 'y0', 'c0', 'd1']);
  });

  it('to a nested array follow its parent item', async () => {
    const s = storeOf({ rooms: [{ members: ['a'] }, { members: ['b'] }] });
    const members = s.rooms[1]!.members;
    s.rooms.unshift({ members: [] });
    await tick();
    await emits(s, () => members.push('c'), [{ op: 'push', path: ['rooms', 2, 'members'], values: ['c'] }]);
  });
});

describe('held references after a reorder', () => {
  // The replica keeps "an object's identity while it stays in the store" (replica.ts): sorting
  // or reversing keeps every item in the store, so a held item must stay writable.
  it('to an array item stay attached after sort', async () => {
    const s = storeOf({ list: [{ n: 3 }, { n: 1 }, { n: 2 }] });
    const one = s.list[1]!;
    s.list.sort((a, b) => a.n - b.n);
    await tick();
    await emits(s, () => { one.n = 10; }, [{ op: 'set', path: ['list', 0, 'n'], value: 10 }]);
    assert.equal(s.list[0], one);
  });

  it('to an array item stay attached after reverse', async () => {
    const s = storeOf({ list: [{ id: 'a' }, { id: 'b' }] as { id: string; seen?: boolean }[] });
    const a = s.list[0]!;
    s.list.reverse();
    await tick();
    await emits(s, () => { a.seen = true; }, [{ op: 'set', path: ['list', 1, 'seen'], value: true }]);
  });
});

describe('other array writes', () => {
  it('fill and copyWithin emit index sets that replay them', async () => {
    const s = storeOf({ nums: [1, 2, 3, 4] });
    await emits(s, (s) => {
      s.nums.fill(0, 1, 3);
      s.nums.copyWithin(0, 2);
    }, [
      { op: 'set', path: ['nums', 1], value: 0 },
      { op: 'set', path: ['nums', 2], value: 0 },
      { op: 'set', path: ['nums', 0], value: 0 },
      { op: 'set', path: ['nums', 1], value: 4 },
    ]);
    assert.deepEqual(snapshot(s).nums, [0, 4, 0, 4]);
  });

  it('reads as plain JSON through JSON.stringify, spread and iteration', () => {
    const s = storeOf({ list: [{ a: 1 }, 2], o: { k: 'v' } });
    assert.equal(JSON.stringify(s), JSON.stringify(snapshot(s)));
    assert.deepEqual([...s.list].map((x) => JSON.stringify(x)), ['{"a":1}', '2']);
    assert.deepEqual({ ...s.o }, { k: 'v' });
    assert.equal(s.list[0], s.list[0], 'one proxy per object');
  });
});

describe('objects removed from the store', () => {
  it('refuse writes through them with TWIN_ERR_READONLY: deleted key', async () => {
    const s = storeOf({ obj: { a: 1 } } as { obj?: { a: number } });
    const held = s.obj!;
    delete s.obj;
    await tick();
    await refuses(s, () => { held.a = 2; }, ErrorCode.READONLY);
  });

  it('refuse writes: replaced object', async () => {
    const s = storeOf({ obj: { a: 1, inner: { b: 1 } } });
    const held = s.obj;
    const inner = s.obj.inner;
    s.obj = { a: 5, inner: { b: 5 } };
    await tick();
    await refuses(s, () => { held.a = 2; }, ErrorCode.READONLY);
    await refuses(s, () => { inner.b = 2; }, ErrorCode.READONLY);
    await refuses(s, () => { delete (held as Partial<typeof held>).a; }, ErrorCode.READONLY);
  });

  it('refuse writes: array item shifted out, array replaced', async () => {
    const s = storeOf({ list: [{ text: 'a' }, { text: 'b' }], tags: ['x'] });
    const first = s.list[0]!;
    const tags = s.tags;
    s.list.shift();
    s.tags = ['y'];
    await tick();
    await refuses(s, () => { first.text = 'z'; }, ErrorCode.READONLY);
    await refuses(s, () => tags.push('z'), ErrorCode.READONLY);
    await refuses(s, () => { tags.length = 0; }, ErrorCode.READONLY);
    await refuses(s, () => increment(first, 'n'), ErrorCode.READONLY);
  });

  it('can still be read', () => {
    const s = storeOf({ obj: { a: 1 } } as { obj?: { a: number } });
    const held = s.obj!;
    delete s.obj;
    assert.equal(held.a, 1);
  });
});

describe('values that are not JSON', () => {
  const cases: [string, () => unknown, string][] = [
    ['a Date', () => new Date(0), ErrorCode.VALUE],
    ['a function', () => () => 1, ErrorCode.VALUE],
    ['NaN', () => NaN, ErrorCode.VALUE],
    ['Infinity', () => Infinity, ErrorCode.VALUE],
    ['a Map', () => new Map(), ErrorCode.VALUE],
    ['a bigint', () => 10n, ErrorCode.VALUE],
    ['a symbol', () => Symbol('s'), ErrorCode.VALUE],
    ['a class instance', () => new (class Point { x = 1; })(), ErrorCode.VALUE],
    ['a nested Date', () => ({ ok: 1, when: { at: new Date(0) } }), ErrorCode.VALUE],
    ['a cyclic object', () => { const o: Record<string, unknown> = {}; o.self = o; return o; }, ErrorCode.DEPTH],
    ['a cyclic array', () => { const a: unknown[] = []; a.push(a); return a; }, ErrorCode.DEPTH],
    ['a value nested too deeply', () => { let v: unknown = 0; for (let i = 0; i < 100; i++) v = { v }; return v; }, ErrorCode.DEPTH],
  ];
  for (const [what, make, code] of cases) {
    it(`refuses ${what} (${code}) in a set, a push, a splice and an index set, changing nothing`, async () => {
      const s = storeOf({ a: 1, list: [1] } as Record<string, unknown> & { list: unknown[] });
      await refuses(s, (s) => { s.a = make(); }, code);
      await refuses(s, (s) => { s.b = make(); }, code);
      await refuses(s, (s) => s.list.push(2, make()), code);
      await refuses(s, (s) => s.list.splice(0, 1, make()), code);
      await refuses(s, (s) => s.list.unshift(make()), code);
      await refuses(s, (s) => { s.list[0] = make(); }, code);
    });
  }

  it('a refused write in a turn leaves the earlier writes of that turn', async () => {
    const s = storeOf({ a: 1, b: 1 });
    await emits(s, (s) => {
      s.a = 2;
      assert.throws(() => { s.b = NaN; });
    }, [{ op: 'set', path: ['a'], value: 2 }]);
  });
});

describe('forbidden keys', () => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses writing the key ${key} with TWIN_ERR_PATH`, async () => {
      const s = storeOf({ inner: {} } as Record<string, unknown> & { inner: Record<string, unknown> });
      await refuses(s, (s) => { s[key] = { polluted: true }; }, ErrorCode.PATH);
      await refuses(s, (s) => { s.inner[key] = 1; }, ErrorCode.PATH);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it(`refuses a value holding the key ${key} with TWIN_ERR_VALUE`, async () => {
      const s = storeOf({ list: [] as unknown[] } as Record<string, unknown> & { list: unknown[] });
      const value = () => JSON.parse(`{"ok": 1, "nested": {"${key}": {"polluted": true}}}`) as unknown;
      await refuses(s, (s) => { s.v = value(); }, ErrorCode.VALUE);
      await refuses(s, (s) => s.list.push(value()), ErrorCode.VALUE);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  it('refuses symbol keys and defineProperty', async () => {
    const s = storeOf({ a: 1 } as Record<string | symbol, unknown>);
    await refuses(s, (s) => { s[Symbol('x')] = 1; }, ErrorCode.PATH);
    await refuses(s, (s) => Object.defineProperty(s, 'b', { value: 1 }), ErrorCode.VALUE);
  });
});

//#region property-based

type Path = (string | number)[];
type Container = Record<string, Json> | Json[];

const KEYS = ['a', 'b', 'c', 'list', 'x', '0', 'toString', 'with space'];
const keyArb = fc.constantFrom(...KEYS);
const primitiveArb: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
);
const { json: jsonArb } = fc.letrec<{ json: Json }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    primitiveArb,
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(keyArb, tie('json'), { maxKeys: 4 }),
  ),
}));
const rootArb = fc.tuple(fc.dictionary(keyArb, jsonArb, { maxKeys: 5 }), fc.array(jsonArb, { maxLength: 5 }))
  .map(([rest, list]) => ({ ...rest, list }) as Record<string, Json>);

/** A value to write: fresh JSON, or (by index into the store's containers) a copy of something in the store. */
type ValueSpec = { json: Json } | { ref: number };
const valueArb: fc.Arbitrary<ValueSpec> = fc.oneof(
  { weight: 4, arbitrary: jsonArb.map((json) => ({ json })) },
  { weight: 1, arbitrary: fc.nat().map((ref) => ({ ref })) },
);
const valuesArb = fc.array(valueArb, { maxLength: 3 });

type Command =
  | { k: 'set'; pick: number; key: string; value: ValueSpec }
  | { k: 'setUndefined' | 'delete'; pick: number; key: string }
  | { k: 'increment'; pick: number; key: string; index: number; delta: number }
  | { k: 'push' | 'unshift'; pick: number; values: ValueSpec[] }
  | { k: 'pop' | 'shift' | 'reverse'; pick: number }
  | { k: 'splice'; pick: number; start: number; deleteCount: number | undefined; argc: number; values: ValueSpec[] }
  | { k: 'sort'; pick: number; compare: boolean }
  | { k: 'index'; pick: number; index: number; value: ValueSpec }
  | { k: 'length'; pick: number; delta: number }
  | { k: 'deleteIndex'; pick: number; index: number }
  | { k: 'tick' };

const pick = fc.nat();
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), pick, key: keyArb, value: valueArb }),
  fc.record({ k: fc.constantFrom('setUndefined' as const, 'delete' as const), pick, key: keyArb }),
  fc.record({ k: fc.constant('increment' as const), pick, key: keyArb, index: fc.nat(), delta: fc.integer({ min: -50, max: 50 }) }),
  fc.record({ k: fc.constantFrom('push' as const, 'unshift' as const), pick, values: valuesArb }),
  fc.record({ k: fc.constantFrom('pop' as const, 'shift' as const, 'reverse' as const), pick }),
  fc.record({
    k: fc.constant('splice' as const), pick, start: fc.integer({ min: -8, max: 8 }),
    deleteCount: fc.option(fc.integer({ min: -2, max: 8 }), { nil: undefined }), argc: fc.integer({ min: 0, max: 3 }), values: valuesArb,
  }),
  fc.record({ k: fc.constant('sort' as const), pick, compare: fc.boolean() }),
  fc.record({ k: fc.constant('index' as const), pick, index: fc.nat(), value: valueArb }),
  fc.record({ k: fc.constant('length' as const), pick, delta: fc.integer({ min: -4, max: 3 }) }),
  fc.record({ k: fc.constant('deleteIndex' as const), pick, index: fc.nat() }),
  fc.constant({ k: 'tick' as const }),
);

/** Every container in `value`, with its path, in a fixed order. */
function containers(value: Json, path: Path = [], out: { path: Path; node: Container }[] = []) {
  if (typeof value !== 'object' || value === null) return out;
  out.push({ path, node: value });
  if (Array.isArray(value)) value.forEach((child, i) => containers(child, [...path, i], out));
  else for (const key of Object.keys(value)) containers(value[key]!, [...path, key], out);
  return out;
}

function at(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) node = (node as Record<string | number, unknown>)[key];
  return node;
}

function depthOf(value: Json): number {
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

const compareJson = (a: unknown, b: unknown) => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Applies `command` to the store and, with plain-JS semantics (plus the documented JSON ones:
 * undefined deletes, a grown array is filled with null), to `model`. Targets are picked among
 * the containers that exist now; a command with no fitting target does nothing.
 */
function run(store: Record<string, Json>, model: Record<string, Json>, command: Exclude<Command, { k: 'tick' }>): void {
  const now = snapshot(store) as Json;
  const all = containers(now);
  const arrays = all.filter((c) => Array.isArray(c.node));
  const objects = all.filter((c) => !Array.isArray(c.node));
  const value = (spec: ValueSpec, targetDepth: number): [unknown, Json] => {
    if ('json' in spec) return [structuredClone(spec.json), structuredClone(spec.json)];
    const source = all[spec.ref % all.length]!;
    // Copying a container into the store may at most double its depth: keep well inside the limit.
    if (targetDepth + depthOf(source.node) > 40 || JSON.stringify(source.node).length > 4000) return [1, 1];
    return [at(store, source.path), structuredClone(at(model, source.path)) as Json];
  };
  const values = (specs: ValueSpec[], depth: number) => {
    const pairs = specs.map((spec) => value(spec, depth));
    return [pairs.map((p) => p[0]), pairs.map((p) => p[1])] as const;
  };

  if (command.k === 'set' || command.k === 'setUndefined' || command.k === 'delete' || (command.k === 'increment' && command.pick % 2 === 0)) {
    const target = objects[command.pick % objects.length]!;
    const s = at(store, target.path) as Record<string, unknown>;
    const m = at(model, target.path) as Record<string, Json>;
    if (command.k === 'set') {
      const [sv, mv] = value(command.value, target.path.length + 1);
      s[command.key] = sv;
      m[command.key] = mv;
    } else if (command.k === 'setUndefined') {
      s[command.key] = undefined;
      delete m[command.key];
    } else if (command.k === 'delete') {
      delete s[command.key];
      delete m[command.key];
    } else if (command.k === 'increment') {
      const current = Object.hasOwn(m, command.key) ? m[command.key] : 0;
      if (typeof current !== 'number' || !Number.isFinite(current + command.delta)) return;
      increment(s, command.key, command.delta);
      m[command.key] = current + command.delta;
    }
    return;
  }
  if (arrays.length === 0) return;
  const target = arrays[command.pick % arrays.length]!;
  const s = at(store, target.path) as unknown[];
  const m = at(model, target.path) as Json[];
  const depth = target.path.length + 1;
  switch (command.k) {
    case 'increment': {
      const index = m.findIndex((v, i) => i >= command.index % (m.length || 1) && typeof v === 'number');
      if (index === -1 || !Number.isFinite((m[index] as number) + command.delta)) return;
      increment(s, index, command.delta);
      m[index] = (m[index] as number) + command.delta;
      return;
    }
    case 'push': {
      const [sv, mv] = values(command.values, depth);
      assert.equal(s.push(...sv), m.push(...mv));
      return;
    }
    case 'unshift': {
      const [sv, mv] = values(command.values, depth);
      assert.equal(s.unshift(...sv), m.unshift(...mv));
      return;
    }
    case 'pop':
      assert.deepEqual(s.pop(), m.pop());
      return;
    case 'shift':
      assert.deepEqual(s.shift(), m.shift());
      return;
    case 'reverse':
      s.reverse();
      m.reverse();
      return;
    case 'sort':
      if (command.compare) {
        s.sort(compareJson);
        m.sort(compareJson);
      } else {
        // The default order converts items to strings, which throws for an object whose own
        // toString key is not a function: plain JS throws there too, and the store must not change.
        try {
          [...m].sort();
        } catch {
          assert.throws(() => s.sort(), TypeError);
          return;
        }
        s.sort();
        m.sort();
      }
      return;
    case 'splice': {
      const [sv, mv] = values(command.values, depth);
      const args = (items: unknown[]): [number, number, ...unknown[]] => [command.start, command.deleteCount as number, ...items];
      const sArgs = args(sv).slice(0, command.argc === 3 ? 2 + sv.length : command.argc) as [number, number];
      const mArgs = args(mv).slice(0, command.argc === 3 ? 2 + mv.length : command.argc) as [number, number];
      assert.deepEqual(s.splice(...sArgs), m.splice(...mArgs));
      return;
    }
    case 'index': {
      const index = command.index % (m.length + 1);
      const [sv, mv] = value(command.value, depth);
      s[index] = sv;
      m[index] = mv;
      return;
    }
    case 'length': {
      const length = Math.max(0, m.length + command.delta);
      s.length = length;
      if (length < m.length) m.length = length;
      else while (m.length < length) m.push(null);
      return;
    }
    case 'deleteIndex': {
      if (m.length === 0) return;
      const index = command.index % m.length;
      delete s[index];
      m.splice(index, 1);
      return;
    }
  }
}

describe('property: emitted ops replay every write', () => {
  it('applyOps(initial, all ops) equals snapshot(store), and the store equals a plain-JS model', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(rootArb, fc.array(commandArb, { maxLength: 30 }), async (initial, commands) => {
        runs++;
        const store = storeOf(initial);
        const model = structuredClone(initial);
        const ops: Op[] = [];
        const stop = subscribe(store, (change) => {
          assert.equal(change.origin, 'local');
          ops.push(...change.ops);
        });
        try {
          for (const command of commands) {
            if (command.k === 'tick') await tick();
            else run(store, model, command);
          }
          await tick();
        } finally {
          stop();
        }
        const now = snapshot(store);
        assert.deepEqual(applyOps(structuredClone(initial), ops), now, 'replaying the ops gives the store');
        assert.deepEqual(now, model, 'the store behaves as plain JS');
      }),
      { numRuns: 300 },
    );
    assert.ok(runs >= 300);
  });
});

//#endregion property-based
