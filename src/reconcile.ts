// SPDX-License-Identifier: MIT
/**
 * @module reconcile
 * How a replica's live view follows a new state without being rebuilt: objects are patched in
 * place, so each keeps its identity while it stays in the store (references held to it, and
 * DOM rendered for it, stay valid), and only the trackers of what changed are bumped.
 */
import type { Json, JsonObject } from './json.js';

/** An object or an array of a store's tree. */
export type Container = JsonObject | Json[];

/** Tells the consumers of `key` of `node` (without `key`, of `node` as a whole) that it changed. */
export type Bump = (node: Container, key?: string) => void;

/** Patches `live` in place to equal `next`, calling `bump` for what changed (see the module doc). */
export function reconcile(live: Container, next: Container, bump: Bump): void {
  const have = live as Record<string | number, Json>;
  const want = next as Record<string | number, Json>;
  // An array changes as a whole; an object, per key and, when keys come or go, as a whole.
  let whole = false;
  if (Array.isArray(live)) {
    for (let i = 0; i < (next as Json[]).length; i++) {
      if (i >= live.length || !patch(live[i]!, want[i]!, bump)) {
        live[i] = deepCopy(want[i]!);
        whole = true;
      }
    }
    if (live.length > (next as Json[]).length) {
      live.length = (next as Json[]).length;
      whole = true;
    }
  } else {
    for (const key of Object.keys(live)) {
      if (!Object.hasOwn(next, key)) {
        delete live[key];
        bump(live, key);
        whole = true;
      }
    }
    for (const key of Object.keys(next)) {
      const added = !Object.hasOwn(live, key);
      if (added || !patch(have[key]!, want[key]!, bump)) {
        have[key] = deepCopy(want[key]!);
        bump(live, key);
        whole ||= added;
      }
    }
  }
  if (whole) bump(live);
}

/** Reconciles `have` into `want` in place if both are containers of one kind; false if `have` must be replaced. */
function patch(have: Json, want: Json, bump: Bump): boolean {
  if (have === want) return true;
  if (typeof have !== 'object' || typeof want !== 'object' || !have || !want || Array.isArray(have) !== Array.isArray(want)) return false;
  reconcile(have, want, bump);
  return true;
}

/**
 * The values a splice inserts, with each object equal to one it removes replaced by that one:
 * a reordering (`sort`, `reverse`, a move) keeps the objects' identity, so references held to
 * them, and DOM rendered for them, stay valid.
 */
export function reuse(target: Json[], index: number, remove: number, values: Json[]): Json[] {
  if (remove === 0 || values.length === 0) return values;
  const pool = new Map<string, Json[]>();
  for (let i = index; i < index + remove && i < target.length; i++) {
    const old = target[i]!;
    if (typeof old !== 'object' || old === null) continue;
    const key = JSON.stringify(old);
    const same = pool.get(key);
    if (same) same.push(old);
    else pool.set(key, [old]);
  }
  if (pool.size === 0) return values;
  return values.map((value) => (typeof value === 'object' && value !== null ? pool.get(JSON.stringify(value))?.shift() ?? value : value));
}

/** A deep copy of trusted JSON (already checked), faster than {@link cloneJson}. */
export function deepCopy(value: Json): Json {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(deepCopy);
  const out: JsonObject = {};
  for (const key of Object.keys(value)) out[key] = deepCopy(value[key]!);
  return out;
}
