// SPDX-License-Identifier: MIT
/**
 * @module proxy.mutants.test
 * What `npm run mutate` found no test checking in src/proxy.ts: the exact words of each refused
 * write (the only thing a developer sees of it), which property reads of a store are store
 * data and which are not (array methods, symbols, `length`), property descriptors that hand
 * out proxies rather than the raw view, the brand other copies of twin-state recognise a store
 * by, and the prototype of a store staying fixed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineApp, ErrorCode, isTwinError, snapshot, subscribe } from './index.js';
import type { Change } from './index.js';
import { NODE, nodeOf } from './proxy.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const app = defineApp();
let count = 0;

/** A fresh shared store holding a copy of `init`, and its name. */
function storeOf<T extends object>(init: T): { store: T; name: string } {
  const name = `proxy_mutants_${++count}`;
  return { store: app.shared(name, () => structuredClone(init)), name };
}

/** Asserts that `write` throws a TwinError with `code` and exactly `message`. */
function refusedWith(write: () => unknown, code: ErrorCode, message: string): void {
  assert.throws(write, (err: unknown) => {
    assert.ok(isTwinError(err), `expected a TwinError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, message);
    return true;
  });
}

/** Collects what `store` announces while `fn` runs (and one turn after). */
async function changesDuring(store: object, fn: () => void): Promise<Change[]> {
  const changes: Change[] = [];
  const stop = subscribe(store, (change) => changes.push(change));
  try {
    fn();
    await tick();
  } finally {
    stop();
  }
  return changes;
}

describe('proxy: the words of each refused write', () => {
  it('a symbol key names the key and the store', () => {
    const { store, name } = storeOf({ a: 1 });
    const key = Symbol('mine');
    refusedWith(() => void ((store as Record<symbol, unknown>)[key] = 1), ErrorCode.PATH, `Cannot write the key Symbol(mine) in store "${name}".`);
    refusedWith(() => void delete (store as Record<symbol, unknown>)[key], ErrorCode.PATH, `Cannot write the key Symbol(mine) in store "${name}".`);
  });

  it('a forbidden key says it is forbidden', () => {
    const { store, name } = storeOf({ a: {} as Record<string, unknown> });
    refusedWith(() => void (store.a['__proto__'] = { polluted: true }), ErrorCode.PATH, `Cannot write the key __proto__ in store "${name}": it is forbidden.`);
    refusedWith(() => void (store.a['constructor'] = 1), ErrorCode.PATH, `Cannot write the key constructor in store "${name}": it is forbidden.`);
    assert.deepEqual(snapshot(store), { a: {} });
  });

  it('an array key that is not an index is refused by the proxy, before any op', () => {
    const { store, name } = storeOf({ list: [1, 2] });
    const list = store.list as unknown as Record<string, unknown>;
    for (const key of ['1.5', '-1', '01', 'x']) {
      refusedWith(() => void (list[key] = 9), ErrorCode.PATH, `Cannot write the key ${key} in store "${name}".`);
    }
    refusedWith(() => void delete list['x'], ErrorCode.PATH, `Cannot write the key x in store "${name}".`);
    refusedWith(() => void delete list['length'], ErrorCode.PATH, `Cannot write the key length in store "${name}".`);
    assert.deepEqual(snapshot(store), { list: [1, 2] });
  });

  it('defining a property says to assign instead', () => {
    const { store, name } = storeOf({ a: 1 });
    refusedWith(() => Object.defineProperty(store, 'b', { value: 2 }), ErrorCode.VALUE, `Cannot define property b on store "${name}": assign a value instead.`);
  });

  it('writing through an object removed from the store says so', async () => {
    const { store, name } = storeOf<{ inner?: { x: number } }>({ inner: { x: 1 } });
    const inner = store.inner!;
    delete store.inner;
    await tick();
    refusedWith(() => void (inner.x = 2), ErrorCode.READONLY, `Cannot write to an object that is no longer part of store "${name}".`);
  });

  it('an invalid array length is a RangeError that names the length', () => {
    const { store } = storeOf({ list: [1] });
    assert.throws(() => void (store.list.length = -1), { name: 'RangeError', message: 'Invalid array length: -1' });
    assert.throws(() => void (store.list.length = 1.5), { name: 'RangeError', message: 'Invalid array length: 1.5' });
    assert.deepEqual(snapshot(store), { list: [1] });
  });
});

describe('proxy: reads that are not store data', () => {
  it('an object store has no array methods', () => {
    const { store } = storeOf({ a: 1 });
    const loose = store as Record<string, unknown>;
    for (const method of ['push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse']) {
      assert.equal(loose[method], undefined, `${method} on an object`);
    }
  });

  it('an array store keeps its length and its non-writing methods', () => {
    const { store } = storeOf({ list: [3, 1, 2] });
    assert.equal(store.list.length, 3);
    assert.deepEqual(store.list.map((n) => n * 2), [6, 2, 4]);
    assert.equal(store.list.includes(2), true);
    assert.equal(store.list.indexOf(1), 1);
  });

  it('a symbol read never reads the key named "undefined"', () => {
    const { store } = storeOf({ undefined: { hidden: true } });
    assert.equal((store as Record<symbol, unknown>)[Symbol.for('anything')], undefined);
    assert.equal((store as Record<symbol, unknown>)[Symbol.toStringTag], undefined);
  });

  it('the brand is the registered symbol other copies of twin-state look for', () => {
    const { store } = storeOf({ a: { b: 1 } });
    assert.equal(NODE, Symbol.for('twin-state.node'));
    const ref = (store.a as Record<symbol, unknown>)[Symbol.for('twin-state.node')] as { node: unknown } | undefined;
    assert.ok(ref, 'the proxy answers the shared brand');
    assert.deepEqual(ref.node, { b: 1 });
  });

  it('nodeOf is undefined for anything that is not a store object', () => {
    for (const value of [undefined, null, 0, '', 'x', true]) assert.equal(nodeOf(value), undefined, String(value));
    assert.equal(nodeOf({}), undefined);
    const { store } = storeOf({ a: 1 });
    assert.ok(nodeOf(store));
  });
});

describe('proxy: property descriptors', () => {
  it('hand out proxies, so a write through them is a store write', async () => {
    const { store } = storeOf({ inner: { x: 1 } });
    const value = Object.getOwnPropertyDescriptor(store, 'inner')!.value as { x: number };
    assert.ok(nodeOf(value), 'the descriptor holds a proxy, not the raw view');
    const changes = await changesDuring(store, () => (value.x = 2));
    assert.deepEqual(changes.map((c) => c.ops), [[{ op: 'set', path: ['inner', 'x'], value: 2 }]]);
    assert.deepEqual(snapshot(store), { inner: { x: 2 } });
  });

  it('are undefined for a missing key and plain for a primitive', () => {
    const { store } = storeOf({ n: 1, list: [1, 2] });
    assert.equal(Object.getOwnPropertyDescriptor(store, 'missing'), undefined);
    assert.equal(Object.getOwnPropertyDescriptor(store, 'n')!.value, 1);
    assert.equal(Object.getOwnPropertyDescriptor(store.list, 'length')!.value, 2);
  });
});

describe('proxy: the prototype stays', () => {
  it('an object inside a store refuses a new prototype and changes nothing', () => {
    const { store } = storeOf({ inner: { a: 1 } });
    const before = Object.getPrototypeOf(store.inner);
    assert.equal(Reflect.setPrototypeOf(store.inner, null), false);
    assert.throws(() => Object.setPrototypeOf(store.inner, Array.prototype), TypeError);
    assert.equal(Object.getPrototypeOf(store.inner), before);
    assert.deepEqual(snapshot(store), { inner: { a: 1 } });
  });
});
