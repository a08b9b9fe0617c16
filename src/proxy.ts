// SPDX-License-Identifier: MIT
/**
 * @module proxy
 * The objects users hold: proxies over a replica's live view. Reading a key tracks it (an
 * array tracks as a whole); writing — assignment, `delete`, the mutating array methods — becomes
 * ops that the replica applies at once and sends as one batch per turn. A write of an equal
 * value emits nothing, and any value written is copied in, so nothing outside (nor another part
 * of the store) is ever aliased.
 */
import { ErrorCode, TwinError } from './errors.js';
import { cloneJson, isSafeKey, jsonEqual } from './json.js';
import type { Json, JsonObject, Path } from './json.js';
import type { Replica } from './replica.js';
import { untracked } from './signals.js';

type Container = JsonObject | Json[];

/** Brand of proxies (and store handles): `proxy[NODE]` gives the replica and view object behind it. */
export const NODE = Symbol.for('twin-state.node');

export interface NodeRef {
  readonly replica: Replica;
  readonly node: Container;
}

const proxies = new WeakMap<object, object>();

/** The proxy for the view object `node` of `replica` (one per object, created on first use). */
export function proxyOf(replica: Replica, node: Container): object {
  let proxy = proxies.get(node);
  if (!proxy) {
    proxy = new Proxy(node, Array.isArray(node) ? arrayHandler(replica) : objectHandler(replica));
    proxies.set(node, proxy);
  }
  return proxy;
}

/** The replica and view object behind a proxy, or undefined for anything else. */
export function nodeOf(value: unknown): NodeRef | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as { [NODE]?: NodeRef })[NODE];
}

/** Reading `value` out of `parent[key]`: containers come out as proxies. */
function wrap(replica: Replica, parent: Container, key: string | number, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  replica.link(value as Container, parent, key);
  return proxyOf(replica, value as Container);
}

function objectHandler(replica: Replica): ProxyHandler<JsonObject> {
  return {
    get(target, key, receiver) {
      if (key === NODE) return { replica, node: target };
      if (typeof key === 'symbol' || !Object.hasOwn(target, key)) {
        if (typeof key === 'string') replica.trackKey(target, key);
        return Reflect.get(target, key, receiver);
      }
      replica.trackKey(target, key);
      return wrap(replica, target, key, target[key]);
    },
    has(target, key) {
      if (typeof key === 'string') replica.trackKey(target, key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      replica.trackKeys(target);
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === 'string') replica.trackKey(target, key);
      const desc = Reflect.getOwnPropertyDescriptor(target, key);
      if (desc && typeof key === 'string') desc.value = wrap(replica, target, key, desc.value);
      return desc;
    },
    set(target, key, value) {
      if (typeof key === 'symbol') throw badKey(replica, key);
      writeKey(replica, target, key, value);
      return true;
    },
    deleteProperty(target, key) {
      if (typeof key === 'symbol') throw badKey(replica, key);
      if (Object.hasOwn(target, key)) replica.write({ op: 'del', path: [...pathOf(replica, target), key] });
      return true;
    },
    defineProperty(_target, key) {
      throw new TwinError(ErrorCode.VALUE, `Cannot define property ${String(key)} on store ${JSON.stringify(replica.name)}: assign a value instead.`);
    },
    setPrototypeOf() {
      return false;
    },
  };
}

function arrayHandler(replica: Replica): ProxyHandler<Json[]> {
  return {
    get(target, key, receiver) {
      if (key === NODE) return { replica, node: target };
      replica.trackArray(target);
      if (typeof key === 'string') {
        const index = toIndex(key);
        if (index !== undefined) return wrap(replica, target, index, target[index]);
        const method = ARRAY_WRITES[key as keyof typeof ARRAY_WRITES];
        if (method) return (...args: unknown[]) => method(replica, target, receiver as Json[], args);
      }
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      replica.trackArray(target);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      replica.trackArray(target);
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, key) {
      replica.trackArray(target);
      const desc = Reflect.getOwnPropertyDescriptor(target, key);
      const index = typeof key === 'string' ? toIndex(key) : undefined;
      if (desc && index !== undefined) desc.value = wrap(replica, target, index, desc.value);
      return desc;
    },
    set(target, key, value) {
      if (typeof key === 'symbol') throw badKey(replica, key);
      if (key === 'length') {
        setLength(replica, target, value);
        return true;
      }
      const index = toIndex(key);
      if (index === undefined) throw badKey(replica, key);
      writeKey(replica, target, index, value);
      return true;
    },
    deleteProperty(target, key) {
      const index = typeof key === 'string' ? toIndex(key) : undefined;
      if (index === undefined) throw badKey(replica, key);
      // JSON has no holes: deleting an element removes it, as `del` does on an array.
      if (index < target.length) replica.write({ op: 'del', path: [...pathOf(replica, target), index] });
      return true;
    },
    defineProperty(_target, key) {
      throw new TwinError(ErrorCode.VALUE, `Cannot define property ${String(key)} on store ${JSON.stringify(replica.name)}: assign a value instead.`);
    },
    setPrototypeOf() {
      return false;
    },
  };
}

/** `target[key] = value`: a `set` op (or `del` for undefined on an object), unless it changes nothing. */
function writeKey(replica: Replica, target: Container, key: string | number, value: unknown): void {
  const path = [...pathOf(replica, target), key];
  if (typeof key === 'string' && !isSafeKey(key)) throw badKey(replica, key);
  if (value === undefined && !Array.isArray(target)) {
    if (Object.hasOwn(target, key)) replica.write({ op: 'del', path });
    return;
  }
  const json = untracked(() => cloneJson(value, replica.maxDepth, path));
  const current = Object.hasOwn(target, key) ? (target as Record<string | number, Json>)[key] : undefined;
  if (current !== undefined && jsonEqual(current, json)) return;
  replica.write({ op: 'set', path, value: json });
}

function setLength(replica: Replica, target: Json[], value: unknown): void {
  const length = Number(value);
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`Invalid array length: ${String(value)}`);
  const path = pathOf(replica, target);
  if (length < target.length) {
    replica.write({ op: 'splice', path, index: length, remove: target.length - length, values: [] });
  } else if (length > target.length) {
    // JSON has no holes: growing an array fills it with null.
    replica.write({ op: 'push', path, values: new Array<Json>(length - target.length).fill(null) });
  }
}

/** The mutating array methods, each turned into one op. */
const ARRAY_WRITES = {
  push(replica: Replica, target: Json[], _proxy: Json[], items: unknown[]) {
    if (items.length) replica.write({ op: 'push', path: pathOf(replica, target), values: copyItems(replica, target, items) });
    return target.length;
  },
  pop(replica: Replica, target: Json[], proxy: Json[]) {
    return ARRAY_WRITES.splice(replica, target, proxy, [-1, 1])[0];
  },
  shift(replica: Replica, target: Json[], proxy: Json[]) {
    return ARRAY_WRITES.splice(replica, target, proxy, [0, 1])[0];
  },
  unshift(replica: Replica, target: Json[], proxy: Json[], items: unknown[]) {
    ARRAY_WRITES.splice(replica, target, proxy, [0, 0, ...items]);
    return target.length;
  },
  splice(replica: Replica, target: Json[], _proxy: Json[], args: unknown[]): Json[] {
    const length = target.length;
    const start = args.length === 0 ? length : relativeIndex(Number(args[0]), length);
    const remove = args.length === 0 ? 0 : args.length === 1 ? length - start
      : Math.min(Math.max(Math.trunc(Number(args[1])) || 0, 0), length - start);
    const values = copyItems(replica, target, args.slice(2));
    const removed = target.slice(start, start + remove).map(plainCopy);
    if (remove || values.length) {
      replica.write({ op: 'splice', path: pathOf(replica, target), index: start, remove, values });
    }
    return removed;
  },
  sort(replica: Replica, target: Json[], proxy: Json[], args: unknown[]) {
    const compare = args[0] as ((a: Json, b: Json) => number) | undefined;
    return reorder(replica, target, proxy, target.map(plainCopy).sort(compare));
  },
  reverse(replica: Replica, target: Json[], proxy: Json[]) {
    return reorder(replica, target, proxy, target.map(plainCopy).reverse());
  },
};

/** Replaces the array's contents with `next` (a reordering) as one splice, if the order changed. */
function reorder(replica: Replica, target: Json[], proxy: Json[], next: Json[]): Json[] {
  if (!jsonEqual(target, next)) {
    replica.write({ op: 'splice', path: pathOf(replica, target), index: 0, remove: target.length, values: next });
  }
  return proxy;
}

function copyItems(replica: Replica, target: Json[], items: unknown[]): Json[] {
  return untracked(() => cloneJson(items, replica.maxDepth, pathOf(replica, target)) as Json[]);
}

function plainCopy(value: Json): Json {
  return typeof value === 'object' && value !== null ? (JSON.parse(JSON.stringify(value)) as Json) : value;
}

function relativeIndex(index: number, length: number): number {
  const i = Math.trunc(index) || 0;
  return i < 0 ? Math.max(length + i, 0) : Math.min(i, length);
}

/** The path of `target`, or a coded error if the object was removed from the store. */
function pathOf(replica: Replica, target: Container): Path {
  const path = replica.pathOf(target);
  if (!path) {
    throw new TwinError(ErrorCode.READONLY, `Cannot write to an object that is no longer part of store ${JSON.stringify(replica.name)}.`);
  }
  return path;
}

function toIndex(key: string): number | undefined {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && String(n) === key ? n : undefined;
}

function badKey(replica: Replica, key: string | symbol): TwinError {
  return new TwinError(ErrorCode.PATH, `Cannot write the key ${String(key)} in store ${JSON.stringify(replica.name)}${typeof key === 'string' && !isSafeKey(key) ? ': it is forbidden' : ''}.`);
}
