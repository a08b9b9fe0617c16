// SPDX-License-Identifier: MIT
/**
 * @module proxy
 * The objects users hold: proxies over a replica's live view. Reading a key tracks it (an
 * array tracks as a whole); writing — assignment, `delete`, the mutating array methods — becomes
 * ops that the replica applies at once and sends as one batch per turn. A write of an equal
 * value emits nothing, and any value written is copied in, so nothing outside (nor another part
 * of the store) is ever aliased.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { cloneJson, isSafeKey, jsonEqual } from './json.js';
import type { Json, JsonObject, Path } from './json.js';
import { deepCopy } from './reconcile.js';
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
    proxy = new Proxy(node, handlerOf(replica));
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

/**
 * The store key a property key names in `target`: an index in an array, a string key in an
 * object; `undefined` for anything else (a symbol, `length`, a method name).
 */
function keyOf(target: Container, key: string | symbol): string | number | undefined {
  if (typeof key === 'symbol') return undefined;
  if (!Array.isArray(target)) return key;
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && String(n) === key ? n : undefined;
}

/** One handler serves objects and arrays alike; an array is tracked as a whole, an object per key. */
function handlerOf(replica: Replica): ProxyHandler<Container> {
  const track = (target: Container, key?: string | symbol) => {
    if (typeof key !== 'symbol' || Array.isArray(target)) replica.track(target, key as string | undefined);
  };
  return {
    get(target, key, receiver) {
      if (key === NODE) return { replica, node: target } satisfies NodeRef;
      track(target, key);
      const k = keyOf(target, key);
      if (k !== undefined && Object.hasOwn(target, k)) return wrap(replica, target, k, (target as Record<string | number, Json>)[k]);
      const method = Array.isArray(target) && Object.hasOwn(ARRAY_WRITES, key) && ARRAY_WRITES[key as keyof typeof ARRAY_WRITES];
      if (method) return (...args: unknown[]) => method(replica, target as Json[], receiver as Json[], args);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      track(target, key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      track(target);
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, key) {
      track(target, key);
      const desc = Reflect.getOwnPropertyDescriptor(target, key);
      const k = keyOf(target, key);
      if (desc && k !== undefined) desc.value = wrap(replica, target, k, desc.value);
      return desc;
    },
    set(target, key, value) {
      if (key === 'length' && Array.isArray(target)) {
        setLength(replica, target, value);
        return true;
      }
      const k = keyOf(target, key);
      if (k === undefined) throw badKey(replica, key);
      writeKey(replica, target, k, value);
      return true;
    },
    deleteProperty(target, key) {
      const k = keyOf(target, key);
      if (k === undefined) throw badKey(replica, key);
      // JSON has no holes: deleting an element removes it, as `del` does on an array.
      if (Object.hasOwn(target, k)) replica.write({ op: 'del', path: [...pathOf(replica, target), k] });
      return true;
    },
    defineProperty(_target, key) {
      throw twinError(ErrorCode.VALUE, DEV_MODE && `Cannot define property ${String(key)} on store ${JSON.stringify(replica.name)}: assign a value instead.`, String(key));
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
  const current = Object.hasOwn(target, key) ? (target as Record<string | number, Json>)[key] : undefined;
  if (value === undefined && !Array.isArray(target)) {
    if (current !== undefined) replica.write({ op: 'del', path });
    return;
  }
  const json = untracked(() => cloneJson(value, replica.maxDepth, path));
  if (current === undefined || !jsonEqual(current, json)) replica.write({ op: 'set', path, value: json });
}

function setLength(replica: Replica, target: Json[], value: unknown): void {
  const length = Number(value);
  if (!Number.isInteger(length) || length < 0) throw new RangeError(DEV_MODE ? `Invalid array length: ${String(value)}` : String(value));
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
    const start = args.length ? relativeIndex(args[0], length) : length;
    const remove = args.length > 1 ? Math.min(Math.max(Math.trunc(Number(args[1])) || 0, 0), length - start) : length - start;
    const values = copyItems(replica, target, args.slice(2));
    const removed = target.slice(start, start + remove).map(deepCopy);
    if (remove || values.length) {
      replica.write({ op: 'splice', path: pathOf(replica, target), index: start, remove, values });
    }
    return removed;
  },
  sort(replica: Replica, target: Json[], proxy: Json[], args: unknown[]) {
    return reorder(replica, target, proxy, target.map(deepCopy).sort(args[0] as ((a: Json, b: Json) => number) | undefined));
  },
  reverse(replica: Replica, target: Json[], proxy: Json[]) {
    return reorder(replica, target, proxy, target.map(deepCopy).reverse());
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

function relativeIndex(index: unknown, length: number): number {
  const i = Math.trunc(Number(index)) || 0;
  return i < 0 ? Math.max(length + i, 0) : Math.min(i, length);
}

/** The path of `target`, or a coded error if the object was removed from the store. */
function pathOf(replica: Replica, target: Container): Path {
  const path = replica.pathOf(target);
  if (!path) {
    throw twinError(ErrorCode.READONLY, DEV_MODE && `Cannot write to an object that is no longer part of store ${JSON.stringify(replica.name)}.`, replica.name);
  }
  return path;
}

function badKey(replica: Replica, key: string | symbol): TwinError {
  return twinError(ErrorCode.PATH, DEV_MODE && `Cannot write the key ${String(key)} in store ${JSON.stringify(replica.name)}${typeof key === 'string' && !isSafeKey(key) ? ': it is forbidden' : ''}.`, String(key));
}
