// SPDX-License-Identifier: MIT
/**
 * @module ops
 * What a write is, and what it does. The proxy turns writes into these ops, the server
 * commits them, every replica applies them — all through {@link applyOps}'s one walk, so the
 * same ops always give the same state, wherever they run.
 *
 * Conflict rules (ARCHITECTURE.md rules): `set` is last-writer-wins in server order; `push` appends at
 * wherever the end is now; `add` commutes; `splice` applies at its index against the current
 * state, clamped to the array's bounds; `del` of something already gone does nothing.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { cloneJson, DEFAULT_MAX_DEPTH, formatPath, isSafeKey, jsonEqual } from './json.js';
import type { Json, JsonObject, Path } from './json.js';

/** Replace (or create) the value at `path`. */
export interface SetOp { op: 'set'; path: Path; value: Json }
/** Remove the key (object) or the element (array) at `path`. */
export interface DelOp { op: 'del'; path: Path }
/** Append `values` to the array at `path`. */
export interface PushOp { op: 'push'; path: Path; values: Json[] }
/** Remove `remove` elements at `index` of the array at `path` and insert `values` there. */
export interface SpliceOp { op: 'splice'; path: Path; index: number; remove: number; values: Json[] }
/** Add `delta` to the number at `path` (a missing key counts as 0). Concurrent adds all count. */
export interface AddOp { op: 'add'; path: Path; delta: number }
/**
 * Change nothing, but refuse the whole batch (`TWIN_ERR_CHANGED`) unless the value at `path`
 * is deep-equal to `value` — or, with no `value`, unless nothing is there (JSON Patch's `test`,
 * plus that absent form). Undo batches begin with these (src/undo.ts): checked by the server
 * like every op, they make an undo fail rather than overwrite what someone else wrote since.
 */
export interface TestOp { op: 'test'; path: Path; value?: Json }

export type Op = SetOp | DelOp | PushOp | SpliceOp | AddOp | TestOp;

type Container = JsonObject | Json[];

/**
 * How a walk changes containers. {@link applyOps} copies each container it touches (once per
 * call) and leaves its input alone; a replica's live view mutates in place and notifies.
 * @internal
 */
export interface Writer {
  /** A writable version of `child`, the container at `parent[key]` (installing a copy if it makes one). */
  enter(parent: Container, key: string | number, child: Container): Container;
  set(target: Container, key: string | number, value: Json): void;
  del(target: JsonObject, key: string): void;
  splice(target: Json[], index: number, remove: number, values: Json[]): void;
}

/**
 * Applies `ops` to `state` itself, in place, and returns the function that undoes them. If an
 * op fails, what the earlier ones did is undone before the error is thrown: `state` is left
 * as it was. Costs what the ops touch, not the size of the containers on their paths, which
 * is why replicas keep their confirmed state this way (a push to a long list stays cheap).
 * @internal
 */
export function applyOpsInPlace(state: Container, ops: readonly Op[], maxDepth = DEFAULT_MAX_DEPTH): () => void {
  const undo: (() => void)[] = [];
  const revert = () => {
    while (undo.length) undo.pop()!();
  };
  const writer: Writer = {
    enter: (_parent, _key, child) => child,
    set(target, key, value) {
      const t = target as Record<string | number, Json>;
      if (Array.isArray(target) && key === target.length) {
        undo.push(() => void target.pop());
      } else if (Object.hasOwn(target, key)) {
        const before = t[key]!;
        undo.push(() => void (t[key] = before));
      } else {
        undo.push(() => void delete t[key]);
      }
      t[key] = value;
    },
    del(target, key) {
      const before = target[key]!;
      undo.push(() => void (target[key] = before));
      delete target[key];
    },
    splice(target, index, remove, values) {
      const removed = spliceLarge(target, index, remove, values);
      undo.push(() => void spliceLarge(target, index, values.length, removed));
    },
  };
  try {
    for (const op of ops) applyOp(state, op, writer, maxDepth);
  } catch (err) {
    revert();
    throw err;
  }
  return revert;
}

/** `target.splice(index, remove, ...values)` without spreading a huge `values` onto the stack. */
export function spliceLarge(target: Json[], index: number, remove: number, values: Json[]): Json[] {
  if (values.length < SPREAD_LIMIT) return target.splice(index, remove, ...values);
  const removed = target.slice(index, index + remove);
  const tail = target.slice(index + remove);
  target.length = index;
  for (const value of values) target.push(value);
  for (const value of tail) target.push(value);
  return removed;
}

/** Beyond this many arguments a spread call risks the engine's argument limit. */
const SPREAD_LIMIT = 10_000;

/**
 * Applies `ops` to `state` and returns the new state; `state` itself is never changed, and
 * parts the ops do not touch are shared between the two. Throws a {@link TwinError} (code
 * `TWIN_ERR_PATH`, `TWIN_ERR_OP`, `TWIN_ERR_VALUE` or `TWIN_ERR_DEPTH`) naming the op and path
 * that failed; the input is untouched then too, so a refused batch changes nothing.
 *
 * ```ts
 * applyOps({ list: [1] }, [{ op: 'push', path: ['list'], values: [2] }]); // { list: [1, 2] }
 * ```
 */
export function applyOps<T extends Json>(state: T, ops: readonly Op[], maxDepth = DEFAULT_MAX_DEPTH): T {
  const owned = new WeakSet<object>();
  const own = <C extends Container>(c: C): C => {
    if (owned.has(c)) return c;
    const copy = (Array.isArray(c) ? c.slice() : { ...c }) as C;
    owned.add(copy);
    return copy;
  };
  const writer: Writer = {
    enter(parent, key, child) {
      const mine = own(child);
      if (mine !== child) (parent as Record<string | number, Json>)[key] = mine;
      return mine;
    },
    set(target, key, value) { (target as Record<string | number, Json>)[key] = value; },
    del(target, key) { delete target[key]; },
    splice(target, index, remove, values) { spliceLarge(target, index, remove, values); },
  };
  if (!isContainer(state)) throw twinError(ErrorCode.PATH, DEV_MODE && 'A store state must be an object or an array.');
  const root = own(state as Container);
  for (const op of ops) applyOp(root, op, writer, maxDepth);
  return root as T;
}

/**
 * Applies one op to `root` through `writer`. Exposed for replicas, which mutate their live
 * view in place with a notifying writer; everyone else calls {@link applyOps}.
 * @internal
 */
export function applyOp(root: Container, op: Op, writer: Writer, maxDepth = DEFAULT_MAX_DEPTH): void {
  const path = op.path;
  if (op.op === 'test') {
    if (!jsonEqual(valueAt(root, path), op.value)) {
      throw twinError(ErrorCode.CHANGED, DEV_MODE && `The value at ${formatPath(path)} is not the one this write expects: it was changed since (by another client, or another write of this one).`, `test ${path.join('.')}`);
    }
    return;
  }
  if (op.op === 'set' || op.op === 'del' || op.op === 'add') {
    if (path.length === 0) throw opError(op, DEV_MODE && `a ${op.op} needs a non-empty path`);
    const parent = walk(root, path, path.length - 1, writer, op);
    const key = keyFor(parent, path[path.length - 1]!, op);
    if (op.op === 'set') {
      if (Array.isArray(parent) && (key as number) > parent.length) {
        throw pathError(op, DEV_MODE && `index ${key} is out of range for an array of length ${parent.length}`);
      }
      writer.set(parent, key, cloneJson(op.value, maxDepth, path));
    } else if (op.op === 'del') {
      if (Array.isArray(parent)) {
        if ((key as number) < parent.length) writer.splice(parent, key as number, 1, []);
      } else if (Object.hasOwn(parent, key)) {
        writer.del(parent, key as string);
      }
    } else {
      const current = Object.hasOwn(parent, key) ? (parent as Record<string | number, Json>)[key] : 0;
      if (typeof current !== 'number') throw pathError(op, DEV_MODE && `cannot add to a ${kindOf(current)}`);
      const next = current + op.delta;
      if (!Number.isFinite(next)) throw opError(op, DEV_MODE && 'the sum is not a finite number');
      if (Array.isArray(parent) && (key as number) >= parent.length) {
        throw pathError(op, DEV_MODE && `index ${key} is out of range for an array of length ${parent.length}`);
      }
      writer.set(parent, key, next);
    }
    return;
  }
  const target = walk(root, path, path.length, writer, op);
  if (!Array.isArray(target)) throw pathError(op, DEV_MODE && `a ${op.op} needs an array, found a ${kindOf(target)}`);
  const values = cloneJson(op.values, maxDepth, path) as Json[];
  if (op.op === 'push') {
    writer.splice(target, target.length, 0, values);
  } else {
    // The index and count were computed against the sender's view; clamp them to what is there now.
    const index = Math.min(op.index, target.length);
    const remove = Math.min(op.remove, target.length - index);
    writer.splice(target, index, remove, values);
  }
}

/** The value at `path` of `root`, or `undefined` when nothing is there (reads only). @internal */
export function valueAt(root: Json, path: Path): Json | undefined {
  let at: Json | undefined = root;
  for (const key of path) at = isContainer(at) && Object.hasOwn(at, key) ? (at as Record<string | number, Json>)[key] : undefined;
  return at;
}

/** Follows `path[0..depth)` from `root`, making each container writable; returns the last one. */
function walk(root: Container, path: Path, depth: number, writer: Writer, op: Op): Container {
  let node = root;
  for (let i = 0; i < depth; i++) {
    const key = keyFor(node, path[i]!, op);
    const child = (node as Record<string | number, Json>)[key];
    if (!isContainer(child) || !Object.hasOwn(node, key)) {
      throw pathError(op, DEV_MODE && `there is no object or array at ${formatPath(path.slice(0, i + 1))}`);
    }
    node = writer.enter(node, key, child);
  }
  return node;
}

/** Checks `key` against `container`: safe string keys for objects, integer indices for arrays. */
function keyFor(container: Container, key: string | number, op: Op): string | number {
  if (Array.isArray(container)) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0) {
      throw pathError(op, DEV_MODE && `${JSON.stringify(key)} is not an array index`);
    }
    return key;
  }
  const name = String(key);
  if (!isSafeKey(name)) throw pathError(op, DEV_MODE && `the key ${JSON.stringify(name)} is forbidden`);
  return name;
}

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function kindOf(value: Json | undefined): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** `why` is false in prod builds: the message is then the code, the op and its path. */
function pathError(op: Op, why: string | false): TwinError {
  return opError(op, why, ErrorCode.PATH);
}

function opError(op: Op, why: string | false, code: ErrorCode = ErrorCode.OP): TwinError {
  return twinError(code, DEV_MODE && `Cannot apply ${op.op} at ${formatPath(op.path)}: ${why}.`, `${op.op} ${op.path.join('.')}`);
}
