// SPDX-License-Identifier: MIT
/**
 * @module ops.mutants.test
 * What `npm run mutate` found no test checking in src/ops.ts: the exact words of every refusal
 * (a message is the only thing a developer sees of a refused op, so it must name the op, the
 * path and the reason), the very long splices that cannot be spread onto the call stack, and
 * the short messages of production builds (src/ops.prod.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, isTwinError } from './errors.js';
import { applyOps, applyOpsInPlace, spliceLarge } from './ops.js';
import type { Json } from './json.js';
import type { Op } from './ops.js';

/** More values than a spread call can take: a splice this long must not use `...values`. */
const TOO_MANY_TO_SPREAD = 300_000;

/** Runs `fn`, which must throw a TwinError; returns it. */
function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isTwinError(err), `expected a TwinError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('ops: the words of each refusal', () => {
  const cases: { name: string; state: Json; op: Op; code: ErrorCode; message: string }[] = [
    { name: 'set with an empty path', state: {}, op: { op: 'set', path: [], value: 1 }, code: ErrorCode.OP, message: 'Cannot apply set at (root): a set needs a non-empty path.' },
    { name: 'del with an empty path', state: {}, op: { op: 'del', path: [] }, code: ErrorCode.OP, message: 'Cannot apply del at (root): a del needs a non-empty path.' },
    { name: 'set past the end of an array', state: { a: [1] }, op: { op: 'set', path: ['a', 5], value: 1 }, code: ErrorCode.PATH, message: 'Cannot apply set at a[5]: index 5 is out of range for an array of length 1.' },
    { name: 'add to a string', state: { a: 'x' }, op: { op: 'add', path: ['a'], delta: 1 }, code: ErrorCode.PATH, message: 'Cannot apply add at a: cannot add to a string.' },
    { name: 'add to null', state: { a: null }, op: { op: 'add', path: ['a'], delta: 1 }, code: ErrorCode.PATH, message: 'Cannot apply add at a: cannot add to a null.' },
    { name: 'add to an array', state: { a: [] }, op: { op: 'add', path: ['a'], delta: 1 }, code: ErrorCode.PATH, message: 'Cannot apply add at a: cannot add to a array.' },
    { name: 'add that overflows', state: { a: Number.MAX_VALUE }, op: { op: 'add', path: ['a'], delta: Number.MAX_VALUE }, code: ErrorCode.OP, message: 'Cannot apply add at a: the sum is not a finite number.' },
    { name: 'add past the end of an array', state: { a: [1] }, op: { op: 'add', path: ['a', 1], delta: 1 }, code: ErrorCode.PATH, message: 'Cannot apply add at a[1]: index 1 is out of range for an array of length 1.' },
    { name: 'push onto an object', state: { a: {} }, op: { op: 'push', path: ['a'], values: [1] }, code: ErrorCode.PATH, message: 'Cannot apply push at a: a push needs an array, found a object.' },
    { name: 'splice of an object', state: { a: { b: 1 } }, op: { op: 'splice', path: ['a'], index: 0, remove: 0, values: [] }, code: ErrorCode.PATH, message: 'Cannot apply splice at a: a splice needs an array, found a object.' },
    { name: 'splice inside a number', state: { a: 1 }, op: { op: 'splice', path: ['a', 'b'], index: 0, remove: 0, values: [] }, code: ErrorCode.PATH, message: 'Cannot apply splice at a.b: there is no object or array at a.' },
    { name: 'push through a missing container', state: { a: { b: 1 } }, op: { op: 'push', path: ['a', 'b', 'c'], values: [1] }, code: ErrorCode.PATH, message: 'Cannot apply push at a.b.c: there is no object or array at a.b.' },
    { name: 'a word as an array index', state: { a: [1] }, op: { op: 'set', path: ['a', 'x'], value: 1 }, code: ErrorCode.PATH, message: 'Cannot apply set at a.x: "x" is not an array index.' },
    { name: 'a forbidden key', state: {}, op: { op: 'set', path: ['__proto__'], value: 1 }, code: ErrorCode.PATH, message: 'Cannot apply set at __proto__: the key "__proto__" is forbidden.' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} and says why`, () => {
      const err = refusal(() => applyOps(c.state, [c.op]));
      assert.equal(err.code, c.code);
      assert.equal(err.message, c.message);
    });
  }

  it('refuses a state that is not a container and says so', () => {
    const err = refusal(() => applyOps(1 as Json, [{ op: 'set', path: ['a'], value: 1 }]));
    assert.equal(err.code, ErrorCode.PATH);
    assert.equal(err.message, 'A store state must be an object or an array.');
  });
});

describe('ops: splices too long to spread', () => {
  const many = (): Json[] => Array.from({ length: TOO_MANY_TO_SPREAD }, (_, i) => i);

  it('spliceLarge inserts in the middle, keeps the tail and returns what it removed', () => {
    const target: Json[] = ['a', 'b', 'c', 'd'];
    const removed = spliceLarge(target, 1, 2, many());
    assert.deepEqual(removed, ['b', 'c']);
    assert.equal(target.length, TOO_MANY_TO_SPREAD + 2);
    assert.equal(target[0], 'a');
    assert.equal(target[1], 0);
    assert.equal(target[TOO_MANY_TO_SPREAD], TOO_MANY_TO_SPREAD - 1);
    assert.equal(target.at(-1), 'd');
  });

  it('spliceLarge still splices short lists in place', () => {
    const target: Json[] = ['a', 'b', 'c'];
    assert.deepEqual(spliceLarge(target, 1, 1, ['x', 'y']), ['b']);
    assert.deepEqual(target, ['a', 'x', 'y', 'c']);
  });

  it('a long splice applied in place is undone exactly', () => {
    const state = { list: ['a', 'b', 'c'] as Json[] };
    const undo = applyOpsInPlace(state, [{ op: 'splice', path: ['list'], index: 1, remove: 1, values: many() }]);
    assert.equal(state.list.length, TOO_MANY_TO_SPREAD + 2);
    assert.equal(state.list.at(-1), 'c');
    undo();
    assert.deepEqual(state.list, ['a', 'b', 'c']);
  });

  it('a long push through applyOps leaves the input alone', () => {
    const before = { list: ['a'] as Json[] };
    const after = applyOps(before, [{ op: 'push', path: ['list'], values: many() }]);
    assert.deepEqual(before, { list: ['a'] });
    assert.equal((after.list as Json[]).length, TOO_MANY_TO_SPREAD + 1);
  });
});
