// SPDX-License-Identifier: MIT
/**
 * @module json
 * Store contents are JSON data and nothing else, so every replica — server, browser, storage —
 * holds exactly what the wire carries. This module checks, copies, compares and freezes such
 * values. A value that JSON would silently change (NaN, a Date, `undefined` in an array) is
 * refused instead, so what a client sees locally is what every other client sees.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export type Path = (string | number)[];

/** How deeply values may nest by default (path length plus the value's own depth). */
export const DEFAULT_MAX_DEPTH = 64;

/** Keys that would reach an object's prototype; never allowed in a path or a value. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** Whether `key` may name a property in a store. */
export function isSafeKey(key: string): boolean {
  return !FORBIDDEN_KEYS.has(key);
}

/** Whether `value` is a plain object (not an array, not a class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A deep copy of `value` as plain JSON data, checked on the way: only null, booleans, finite
 * numbers, strings, arrays and plain objects, no forbidden keys, at most `maxDepth` levels.
 * Throws a coded {@link TwinError} naming the offending path otherwise. Object keys whose value
 * is `undefined` are left out, as `JSON.stringify` does.
 */
export function cloneJson(value: unknown, maxDepth = DEFAULT_MAX_DEPTH, at: Path = []): Json {
  return copy(value, maxDepth - at.length, at);
}

function copy(value: unknown, depthLeft: number, at: Path): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      throw valueError(at, DEV_MODE && `${value} is not a finite number`);
    case 'object': {
      if (value === null) return null;
      if (depthLeft <= 0) {
        throw twinError(ErrorCode.DEPTH, DEV_MODE && `The value at ${formatPath(at)} is nested too deeply (or contains a cycle).`, at.join('.'));
      }
      if (Array.isArray(value)) {
        const out: Json[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined) throw valueError([...at, i], DEV_MODE && 'undefined is not allowed in an array');
          out[i] = copy(value[i], depthLeft - 1, [...at, i]);
        }
        return out;
      }
      if (!isPlainObject(value)) {
        throw valueError(at, DEV_MODE && `a ${(value as object).constructor?.name ?? 'object'} is not plain JSON data (convert it first, e.g. a Date with toISOString())`);
      }
      const out: JsonObject = {};
      for (const key of Object.keys(value)) {
        if (!isSafeKey(key)) throw valueError([...at, key], DEV_MODE && `the key ${JSON.stringify(key)} is forbidden`);
        const child = value[key];
        if (child === undefined) continue;
        out[key] = copy(child, depthLeft - 1, [...at, key]);
      }
      return out;
    }
    default:
      throw valueError(at, DEV_MODE && `a ${typeof value} is not JSON data`);
  }
}

/** `why` is false in prod builds: the message is then the code and the path. */
function valueError(at: Path, why: string | false): TwinError {
  return twinError(ErrorCode.VALUE, DEV_MODE && `Cannot store the value at ${formatPath(at)}: ${why}.`, at.join('.'));
}

/** Structural equality of two JSON values. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !jsonEqual(a[key], b[key])) return false;
  }
  return true;
}

/** Freezes `value` and everything inside it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** A path as people read it: `messages[3].text`, or `(root)`. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** Splits a dotted key (`'a.b.0'`) into a path; numeric segments become indices. */
export function parsePath(key: string | readonly (string | number)[]): Path {
  if (typeof key !== 'string') return [...key];
  if (key === '' || key === '.') return [];
  return key.split('.').map((part) => (/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part));
}

/**
 * A value as the elements show it, and as the server renders them: null and missing as empty,
 * strings as they are, numbers and booleans by `String`, objects and arrays as JSON.
 */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
