// SPDX-License-Identifier: MIT
/**
 * @module snapshot-parts
 * A store's `snapshot` as the messages that carry it. A small store is one message. A large one
 * — its biggest list or map holds {@link PART_MIN_ENTRIES} entries or more — is a `snapshot` of
 * its skeleton (the value with that container emptied) saying how many `part`s follow, then
 * parts of about {@link PART_BYTES} each that put the entries back: a `push` of the next items
 * of a list, or a `set` of the next keys of a map. Each part is a WebSocket message of its own
 * (the connection keeps frames under a bound), so a browser joining a 10 MB store parses and
 * applies it in steps of a few milliseconds, not in one long task; the store shows the new
 * state only once every part is in, so nobody sees a value that never was.
 */
import type { Json, Path } from '../src/json.js';
import { applyOpsInPlace, valueAt } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import type { Part, Snapshot } from '../src/protocol.js';
import type { Container } from '../src/reconcile.js';
import { Slices, stringifyInSlices } from './json-slices.js';

/** A part holds about this many bytes. */
export const PART_BYTES = 256 * 1024;
/** A container with fewer entries than this is never split. */
export const PART_MIN_ENTRIES = 1024;
/** How deep the search for a container to split goes. */
const SEARCH_DEPTH = 8;
/** Entries in the first part; later parts adapt to {@link PART_BYTES}. */
const FIRST_PART_ENTRIES = 64;

/** The messages that carry `value` at version `v` of `store`, each written in slices of about `sliceMs`. */
export async function snapshotMessages(store: string, v: number, value: Json, sliceMs: number): Promise<Buffer[]> {
  const slices = new Slices(sliceMs);
  const path = splitPoint(value);
  if (!path) return [await stringifyInSlices({ t: 'snapshot', store, v, value } satisfies Snapshot, slices)];
  const container = valueAt(value, path) as Container;
  const keys = Array.isArray(container) ? undefined : Object.keys(container);
  const total = keys ? keys.length : (container as Json[]).length;
  const parts: Buffer[] = [];
  for (let start = 0, count = FIRST_PART_ENTRIES; start < total; ) {
    const end = Math.min(total, start + count);
    const ops: Op[] = keys
      ? keys.slice(start, end).map((key) => ({ op: 'set', path: [...path, key], value: (container as Record<string, Json>)[key]! }))
      : [{ op: 'push', path, values: (container as Json[]).slice(start, end) }];
    const part = await stringifyInSlices({ t: 'part', store, v, ops } satisfies Part as unknown as Json, slices);
    parts.push(part);
    count = Math.max(1, Math.round(((end - start) * PART_BYTES) / part.length));
    start = end;
    if (slices.spent()) await slices.yield();
  }
  const skeleton = emptied(value, path, Array.isArray(container) ? [] : {});
  const head = await stringifyInSlices({ t: 'snapshot', store, v, value: skeleton, parts: parts.length } satisfies Snapshot, slices);
  return [head, ...parts];
}

/** The value and version `messages` carry (server rendering reads a snapshot this way). */
export function assemble(messages: readonly Buffer[]): { value: Json; v: number } {
  const [head, ...parts] = messages.map((m) => JSON.parse(m.toString()) as unknown);
  const { value, v } = head as Snapshot;
  for (const part of parts as Part[]) applyOpsInPlace(value as Container, part.ops);
  return { value, v };
}

/** The path of the container to split: the first with enough entries, going down the biggest. */
function splitPoint(value: Json): Path | undefined {
  const path: Path = [];
  let node = value;
  for (let depth = 0; depth < SEARCH_DEPTH && node !== null && typeof node === 'object'; depth++) {
    if (sizeOf(node) >= PART_MIN_ENTRIES) return path;
    const entries = Array.isArray(node) ? node.map((child, i) => [i, child] as const) : Object.entries(node);
    let biggest: readonly [string | number, Json] | undefined;
    for (const entry of entries) if (sizeOf(entry[1]) > sizeOf(biggest?.[1] ?? null)) biggest = entry;
    if (!biggest) return undefined;
    path.push(biggest[0]);
    node = biggest[1];
  }
  return undefined;
}

/** Entries of a container (0 for a leaf): a shallow measure, enough to find the big one. */
function sizeOf(value: Json): number {
  if (value === null || typeof value !== 'object') return 0;
  return Array.isArray(value) ? value.length : Object.keys(value).length;
}

/** `value` with the container at `path` replaced by `empty`; what it shares is not changed. */
function emptied(value: Json, path: Path, empty: Container): Json {
  if (path.length === 0) return empty;
  const [key, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as Record<string, Json>) }) as Record<string | number, Json>;
  copy[key!] = emptied(copy[key!]!, rest, empty);
  return copy as Json;
}
