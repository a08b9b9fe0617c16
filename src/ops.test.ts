// SPDX-License-Identifier: MIT
/**
 * @module ops.test
 * `applyOps`: what each op kind does, that it never touches its input, how splices clamp, and
 * that every refused op (or batch) throws its code, names its path and changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyOps, ErrorCode, isTwinError } from './index.js';
import { applyOpsInPlace } from './ops.js';
import type { Json, Op } from './index.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** A frozen state and an unfrozen copy of it to compare with afterwards. */
function frozen<T extends Json>(value: T): { state: T; copy: T } {
  return { copy: structuredClone(value), state: deepFreeze(structuredClone(value)) };
}

/** Asserts that `fn` throws a TwinError with `code` whose message names `path` (if given). */
function throwsCode(fn: () => unknown, code: string, path?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTwinError(err), `expected a TwinError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (path !== undefined) assert.ok(err.message.includes(path), `message ${JSON.stringify(err.message)} should name ${path}`);
    return true;
  });
}

/** Asserts that applying `ops` to `value` is refused with `code`, returns nothing and leaves the input as it was. */
function refused(value: Json, ops: unknown[], code: string, path?: string, maxDepth?: number): void {
  const { state, copy } = frozen(value);
  let result: Json | undefined;
  throwsCode(() => {
    result = applyOps(state, ops as Op[], maxDepth);
  }, code, path);
  assert.equal(result, undefined);
  assert.deepEqual(state, copy);
}

describe('applyOps: set', () => {
  it('replaces a top-level key', () => {
    assert.deepEqual(applyOps({ a: 1, b: 2 }, [{ op: 'set', path: ['a'], value: 5 }]), { a: 5, b: 2 });
  });

  it('creates a missing key', () => {
    assert.deepEqual(applyOps({ a: 1 }, [{ op: 'set', path: ['b'], value: 'x' }]), { a: 1, b: 'x' });
  });

  it('sets a deep key', () => {
    const out = applyOps({ x: { y: { z: 1 } } }, [{ op: 'set', path: ['x', 'y', 'z'], value: [1, { w: null }] }]);
    assert.deepEqual(out, { x: { y: { z: [1, { w: null }] } } });
  });

  it('replaces an array element', () => {
    assert.deepEqual(applyOps({ list: [1, 2, 3] }, [{ op: 'set', path: ['list', 1], value: 9 }]), { list: [1, 9, 3] });
  });

  it('appends when the index equals the length', () => {
    assert.deepEqual(applyOps({ list: [1, 2] }, [{ op: 'set', path: ['list', 2], value: 3 }]), { list: [1, 2, 3] });
  });

  it('refuses an index beyond the length (JSON has no holes)', () => {
    refused({ list: [1, 2] }, [{ op: 'set', path: ['list', 3], value: 3 }], ErrorCode.PATH, 'list[3]');
  });

  it('treats a number as a string key on an object', () => {
    assert.deepEqual(applyOps({ a: 1 }, [{ op: 'set', path: [0], value: 'zero' }]), { a: 1, '0': 'zero' });
  });

  it('may use a key that only exists on Object.prototype, as an own key', () => {
    const out = applyOps({} as Json, [{ op: 'set', path: ['toString'], value: 1 }]) as Record<string, Json>;
    assert.ok(Object.hasOwn(out, 'toString'));
    assert.equal(out.toString, 1);
  });

  it('copies the value in: changing the op afterwards does not change the result', () => {
    const value = { deep: [1, 2] };
    const out = applyOps({}, [{ op: 'set', path: ['v'], value }]) as { v: { deep: number[] } };
    value.deep.push(3);
    assert.deepEqual(out.v, { deep: [1, 2] });
  });

  it('refuses an empty path with TWIN_ERR_OP', () => {
    refused({ a: 1 }, [{ op: 'set', path: [], value: {} }], ErrorCode.OP, '(root)');
  });
});

describe('applyOps: del', () => {
  it('removes an object key', () => {
    assert.deepEqual(applyOps({ a: 1, b: { c: 2 } }, [{ op: 'del', path: ['b', 'c'] }]), { a: 1, b: {} });
  });

  it('does nothing for a missing key', () => {
    assert.deepEqual(applyOps({ a: 1 }, [{ op: 'del', path: ['nope'] }]), { a: 1 });
  });

  it('removes an array element, shifting the rest', () => {
    assert.deepEqual(applyOps({ list: ['a', 'b', 'c'] }, [{ op: 'del', path: ['list', 0] }]), { list: ['b', 'c'] });
  });

  it('does nothing for an index beyond the end', () => {
    assert.deepEqual(applyOps({ list: ['a'] }, [{ op: 'del', path: ['list', 5] }]), { list: ['a'] });
  });

  it('refuses a missing parent', () => {
    refused({ a: 1 }, [{ op: 'del', path: ['nope', 'x'] }], ErrorCode.PATH, 'nope');
  });
});

describe('applyOps: push', () => {
  it('appends values in order', () => {
    assert.deepEqual(applyOps({ list: [1] }, [{ op: 'push', path: ['list'], values: [2, { x: 3 }] }]), { list: [1, 2, { x: 3 }] });
  });

  it('with no values changes nothing', () => {
    assert.deepEqual(applyOps({ list: [1] }, [{ op: 'push', path: ['list'], values: [] }]), { list: [1] });
  });

  it('pushes onto a root array', () => {
    assert.deepEqual(applyOps([1], [{ op: 'push', path: [], values: [2] }]), [1, 2]);
  });

  it('refuses a target that is not an array', () => {
    refused({ obj: { a: 1 } }, [{ op: 'push', path: ['obj'], values: [1] }], ErrorCode.PATH, 'obj');
  });

  it('refuses a missing target', () => {
    refused({}, [{ op: 'push', path: ['list'], values: [1] }], ErrorCode.PATH, 'list');
  });
});

describe('applyOps: splice', () => {
  it('removes and inserts at an index', () => {
    const out = applyOps({ list: [1, 2, 3, 4] }, [{ op: 'splice', path: ['list'], index: 1, remove: 2, values: ['a'] }]);
    assert.deepEqual(out, { list: [1, 'a', 4] });
  });

  it('inserts without removing', () => {
    const out = applyOps({ list: [1, 2] }, [{ op: 'splice', path: ['list'], index: 0, remove: 0, values: [0] }]);
    assert.deepEqual(out, { list: [0, 1, 2] });
  });

  it('clamps an index beyond the length to the end', () => {
    const out = applyOps({ list: [1, 2] }, [{ op: 'splice', path: ['list'], index: 10, remove: 1, values: [3] }]);
    assert.deepEqual(out, { list: [1, 2, 3] });
  });

  it('clamps a removal beyond the end', () => {
    const out = applyOps({ list: [1, 2, 3] }, [{ op: 'splice', path: ['list'], index: 1, remove: 99, values: [] }]);
    assert.deepEqual(out, { list: [1] });
  });

  it('refuses a target that is not an array', () => {
    refused({ s: 'text' }, [{ op: 'splice', path: ['s'], index: 0, remove: 1, values: [] }], ErrorCode.PATH, 's');
  });
});

describe('applyOps: add', () => {
  it('adds to a number', () => {
    assert.deepEqual(applyOps({ n: 1.5 }, [{ op: 'add', path: ['n'], delta: 2 }]), { n: 3.5 });
  });

  it('subtracts with a negative delta', () => {
    assert.deepEqual(applyOps({ n: 1 }, [{ op: 'add', path: ['n'], delta: -3 }]), { n: -2 });
  });

  it('counts a missing key as 0', () => {
    assert.deepEqual(applyOps({ a: {} }, [{ op: 'add', path: ['a', 'n'], delta: 7 }]), { a: { n: 7 } });
  });

  it('adds to an array element', () => {
    assert.deepEqual(applyOps({ list: [1, 2] }, [{ op: 'add', path: ['list', 1], delta: 1 }]), { list: [1, 3] });
  });

  it('refuses an array index beyond the end', () => {
    refused({ list: [1] }, [{ op: 'add', path: ['list', 1], delta: 1 }], ErrorCode.PATH, 'list[1]');
  });

  it('refuses adding to a string', () => {
    refused({ s: 'x' }, [{ op: 'add', path: ['s'], delta: 1 }], ErrorCode.PATH, 's');
  });

  it('refuses adding to an object, null or boolean', () => {
    refused({ o: {} }, [{ op: 'add', path: ['o'], delta: 1 }], ErrorCode.PATH, 'o');
    refused({ z: null }, [{ op: 'add', path: ['z'], delta: 1 }], ErrorCode.PATH, 'z');
    refused({ b: true }, [{ op: 'add', path: ['b'], delta: 1 }], ErrorCode.PATH, 'b');
  });

  it('refuses a sum that is not finite with TWIN_ERR_OP', () => {
    refused({ big: 1.7e308 }, [{ op: 'add', path: ['big'], delta: 1.7e308 }], ErrorCode.OP, 'big');
  });
});

describe('applyOps: order within a batch', () => {
  it('applies ops in order, each seeing the one before', () => {
    const out = applyOps({}, [
      { op: 'set', path: ['list'], value: [] },
      { op: 'push', path: ['list'], values: [{ n: 1 }] },
      { op: 'add', path: ['list', 0, 'n'], delta: 1 },
      { op: 'set', path: ['list', 0, 'tag'], value: 'x' },
      { op: 'del', path: ['list', 0, 'n'] },
    ]);
    assert.deepEqual(out, { list: [{ tag: 'x' }] });
  });

  it('with no ops returns an equal state', () => {
    assert.deepEqual(applyOps({ a: [1] }, []), { a: [1] });
  });
});

describe('applyOps: purity', () => {
  const input = (): Json => ({ a: { b: [1, 2, { c: 3 }] }, other: { deep: { x: [1] } }, list: [{ id: 1 }, { id: 2 }] });
  const ops: Op[] = [
    { op: 'set', path: ['a', 'b', 2, 'c'], value: 4 },
    { op: 'push', path: ['a', 'b'], values: [5] },
    { op: 'add', path: ['list', 1, 'id'], delta: 10 },
    { op: 'del', path: ['a', 'gone'] },
    { op: 'splice', path: ['list'], index: 0, remove: 0, values: [{ id: 0 }] },
  ];

  it('leaves a (frozen) input deep-equal to what it was', () => {
    const { state, copy } = frozen(input());
    const out = applyOps(state, ops);
    assert.deepEqual(state, copy);
    assert.deepEqual(out, { a: { b: [1, 2, { c: 4 }, 5] }, other: { deep: { x: [1] } }, list: [{ id: 0 }, { id: 1 }, { id: 12 }] });
  });

  it('shares untouched subtrees by identity and copies touched ones', () => {
    const state = input() as { a: { b: Json[] }; other: Json; list: { id: number }[] };
    const out = applyOps(state as unknown as Json, ops) as unknown as typeof state;
    assert.notEqual(out, state);
    assert.equal(out.other, state.other);
    assert.notEqual(out.a, state.a);
    assert.notEqual(out.a.b, state.a.b);
    assert.equal(out.a.b[0], state.a.b[0]);
    assert.notEqual(out.list, state.list);
    assert.equal(out.list[1], state.list[0], 'the untouched first item moved one place and kept its identity');
    assert.notEqual(out.list[2], state.list[1]);
  });

  it('applied twice to one input gives two equal, independent results', () => {
    const state = deepFreeze(input());
    const one = applyOps(state, ops);
    const two = applyOps(state, ops);
    assert.deepEqual(one, two);
    (two as { a: { b: Json[] } }).a.b.push('only in two');
    assert.notDeepEqual(one, two);
  });
});

describe('applyOps: refused paths', () => {
  const state: Json = { list: [1, { x: 1 }], obj: { a: 1 }, n: 1, s: 'text' };
  const kinds = (path: (string | number)[]): unknown[] => [
    { op: 'set', path, value: 1 },
    { op: 'del', path },
    { op: 'add', path, delta: 1 },
    { op: 'push', path, values: [1] },
    { op: 'splice', path, index: 0, remove: 0, values: [1] },
  ];

  for (const key of ['__proto__', 'prototype', 'constructor']) {
    it(`refuses ${key} anywhere in the path, for every op kind`, () => {
      for (const op of [...kinds([key]), ...kinds(['obj', key]), ...kinds([key, 'polluted'])]) {
        refused(state, [op], ErrorCode.PATH, key);
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    });
  }

  it('refuses a string key on an array', () => {
    refused(state, [{ op: 'set', path: ['list', 'x'], value: 1 }], ErrorCode.PATH, 'list');
    refused(state, [{ op: 'set', path: ['list', 'length'], value: 0 }], ErrorCode.PATH, 'length');
  });

  it('refuses a negative or fractional index', () => {
    refused(state, [{ op: 'set', path: ['list', -1], value: 1 }], ErrorCode.PATH, 'list');
    refused(state, [{ op: 'set', path: ['list', 0.5], value: 1 }], ErrorCode.PATH, 'list');
  });

  it('refuses a missing intermediate', () => {
    refused(state, [{ op: 'set', path: ['nope', 'x'], value: 1 }], ErrorCode.PATH, 'nope');
    refused(state, [{ op: 'set', path: ['list', 5, 'x'], value: 1 }], ErrorCode.PATH, 'list[5]');
  });

  it('refuses a primitive on the way', () => {
    refused(state, [{ op: 'set', path: ['n', 'x'], value: 1 }], ErrorCode.PATH, 'n');
    refused(state, [{ op: 'set', path: ['s', 0], value: 'T' }], ErrorCode.PATH, 's');
  });

  it('refuses an inherited property on the way', () => {
    refused(state, [{ op: 'set', path: ['toString', 'x'], value: 1 }], ErrorCode.PATH, 'toString');
    refused(state, [{ op: 'push', path: ['hasOwnProperty'], values: [1] }], ErrorCode.PATH, 'hasOwnProperty');
  });

  it('names the full path in the message', () => {
    refused({ rooms: [{ members: {} }] }, [{ op: 'push', path: ['rooms', 0, 'members'], values: [1] }], ErrorCode.PATH, 'rooms[0].members');
  });

  it('refuses a state that is not an object or array', () => {
    throwsCode(() => applyOps(5 as Json, []), ErrorCode.PATH);
    throwsCode(() => applyOps(null, []), ErrorCode.PATH);
  });
});

describe('applyOps: refused values', () => {
  const cases: [string, unknown][] = [
    ['a function', () => 1],
    ['NaN', NaN],
    ['Infinity', -Infinity],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a class instance', new (class Point { x = 1; })()],
    ['a bigint', 1n],
    ['a symbol', Symbol('s')],
    ['undefined in an array', [1, undefined]],
    ['an own __proto__ key', JSON.parse('{"__proto__": {"polluted": 1}}')],
    ['a constructor key', { constructor: 1 }],
  ];
  for (const [what, value] of cases) {
    it(`refuses ${what} with TWIN_ERR_VALUE, in set and in push`, () => {
      refused({ a: {}, list: [] }, [{ op: 'set', path: ['a', 'v'], value }], ErrorCode.VALUE, 'a.v');
      refused({ a: {}, list: [] }, [{ op: 'push', path: ['list'], values: [value] }], ErrorCode.VALUE, 'list');
    });
  }

  it('refuses a value nested deeper than the limit with TWIN_ERR_DEPTH', () => {
    let deep: Json = 0;
    for (let i = 0; i < 100; i++) deep = [deep];
    refused({}, [{ op: 'set', path: ['deep'], value: deep }], ErrorCode.DEPTH, 'deep');
  });

  it('counts the path towards the depth, against the given maxDepth', () => {
    const value = { b: { c: 1 } };
    assert.deepEqual(applyOps({ a: {} }, [{ op: 'set', path: ['a', 'v'], value }], 4), { a: { v: value } });
    refused({ a: {} }, [{ op: 'set', path: ['a', 'v'], value }], ErrorCode.DEPTH, 'a.v', 3);
  });

  it('refuses a cyclic value with TWIN_ERR_DEPTH', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    refused({}, [{ op: 'set', path: ['c'], value: cyclic }], ErrorCode.DEPTH, 'c');
  });
});

describe('applyOps: refused batches', () => {
  it('leaves the input untouched and returns nothing when a later op fails', () => {
    const state: Json = { list: [1], n: 0, obj: { a: 1 } };
    refused(state, [
      { op: 'push', path: ['list'], values: [2] },
      { op: 'add', path: ['n'], delta: 1 },
      { op: 'set', path: ['obj', 'a'], value: 2 },
      { op: 'set', path: ['missing', 'x'], value: 1 },
    ], ErrorCode.PATH, 'missing');
  });

  it('refuses a batch whose last op has a bad value', () => {
    refused({ n: 1 }, [{ op: 'set', path: ['n'], value: 2 }, { op: 'set', path: ['d'], value: NaN }], ErrorCode.VALUE, 'd');
  });

  it('refuses a batch whose last op overflows', () => {
    refused({ n: 1e308 }, [{ op: 'set', path: ['m'], value: 1 }, { op: 'add', path: ['n'], delta: 1e308 }], ErrorCode.OP, 'n');
  });
});

// applyOpsInPlace is internal, but replicas and the hub's batch check stand on it: a refused
// batch must leave the committed tree exactly as it was, whatever its earlier ops did.
describe('applyOpsInPlace (internal)', () => {
  const keyArb = fc.constantFrom('a', 'b', 'list', 'x', '0');
  const valueArb = fc.letrec<{ json: Json }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant(null)),
      fc.array(tie('json'), { maxLength: 3 }),
      fc.dictionary(keyArb, tie('json'), { maxKeys: 3 }),
    ),
  })).json;
  // Mostly paths that exist in the states below (so many batches apply), some that do not.
  const pathArb = fc.oneof(
    fc.tuple(fc.constantFrom('a', 'list', 'x')),
    fc.tuple(fc.constant('list'), fc.nat(4)),
    fc.tuple(fc.constant('x'), keyArb),
    fc.array(fc.oneof(keyArb, fc.nat(4)), { maxLength: 3 }),
  ).map((path) => [...path] as (string | number)[]);
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('set' as const), path: pathArb, value: valueArb }),
    fc.record({ op: fc.constant('del' as const), path: pathArb }),
    fc.record({ op: fc.constant('push' as const), path: pathArb, values: fc.array(valueArb, { maxLength: 2 }) }),
    fc.record({ op: fc.constant('splice' as const), path: pathArb, index: fc.nat(5), remove: fc.nat(3), values: fc.array(valueArb, { maxLength: 2 }) }),
    fc.record({ op: fc.constant('add' as const), path: pathArb, delta: fc.integer({ min: -5, max: 5 }) }),
  );
  const stateArb = fc.record({
    a: fc.integer(),
    list: fc.array(valueArb, { maxLength: 4 }),
    x: fc.dictionary(keyArb, valueArb, { maxKeys: 3 }),
  }) as fc.Arbitrary<{ [key: string]: Json }>;

  it('gives what applyOps gives, or refuses leaving the state as it was; its undo restores it', () => {
    let refused = 0;
    let applied = 0;
    fc.assert(fc.property(stateArb, fc.array(opArb, { minLength: 1, maxLength: 4 }), (state, ops) => {
      const before = structuredClone(state);
      let expected: Json | Error;
      try {
        expected = applyOps(before, ops);
      } catch (err) {
        expected = err as Error;
      }
      const live = structuredClone(state);
      try {
        const undo = applyOpsInPlace(live, ops);
        assert.ok(!(expected instanceof Error), 'applyOps refused what applyOpsInPlace took');
        assert.deepEqual(live, expected);
        undo();
        assert.deepEqual(live, before);
        applied++;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(expected instanceof Error, 'applyOpsInPlace refused what applyOps took');
        assert.equal((err as { code?: string }).code, (expected as { code?: string }).code);
        assert.deepEqual(live, before, 'a refused batch leaves the state as it was');
        refused++;
      }
    }), { numRuns: 500 });
    // Both branches must really have been exercised.
    assert.ok(refused > 50 && applied > 50, `refused ${refused}, applied ${applied}`);
  });
});
