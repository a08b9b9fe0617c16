// SPDX-License-Identifier: MIT
/** A store's snapshot as messages (server/snapshot-parts.ts): one when small, a skeleton and parts when large. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Json } from '../src/json.js';
import { assemble, PART_BYTES, PART_MIN_ENTRIES, snapshotMessages } from './snapshot-parts.js';

const SLICE_MS = 4;
const parse = (messages: Buffer[]) => messages.map((m) => JSON.parse(m.toString()) as Record<string, Json>);
const item = (i: number) => ({ id: i, text: `message ${i} `.padEnd(100, '.') });

describe('snapshotMessages', () => {
  it('sends a small store as one snapshot, as JSON.stringify would', async () => {
    const value = { n: 1, items: Array.from({ length: PART_MIN_ENTRIES - 1 }, (_, i) => item(i)) };
    const messages = await snapshotMessages('s', 7, value, SLICE_MS);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.toString(), JSON.stringify({ t: 'snapshot', store: 's', v: 7, value }));
  });

  it('splits the biggest list: a skeleton saying how many parts follow, pushes of about PART_BYTES each', async () => {
    const value = { meta: { title: 't', tags: ['a', 'b'] }, items: Array.from({ length: 20_000 }, (_, i) => item(i)) };
    const before = JSON.stringify(value);
    const messages = await snapshotMessages('s', 3, value, SLICE_MS);
    const [head, ...parts] = parse(messages);
    assert.deepEqual(head, { t: 'snapshot', store: 's', v: 3, value: { meta: value.meta, items: [] }, parts: parts.length });
    assert.ok(parts.length >= Math.floor(before.length / PART_BYTES), `${parts.length} parts for ${before.length} bytes`);
    for (const [i, part] of parts.entries()) {
      assert.equal(part.t, 'part');
      assert.equal(part.v, 3);
      assert.deepEqual((part.ops as { op: string; path: Json[] }[]).map((op) => [op.op, op.path]), [['push', ['items']]]);
      if (i > 0) assert.ok(messages[i + 1]!.length < 1.5 * PART_BYTES, `part ${i} is ${messages[i + 1]!.length} bytes`);
    }
    assert.deepEqual(assemble(messages), { value, v: 3 });
    assert.equal(JSON.stringify(value), before, 'the store itself is not changed');
  });

  it('splits a big map by keys, and a list at the root', async () => {
    const users = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`u${i}`, item(i)]));
    const value = { n: 0, rooms: { lobby: { users } } };
    const messages = await snapshotMessages('m', 1, value, SLICE_MS);
    const [head, ...parts] = parse(messages);
    assert.deepEqual(head!.value, { n: 0, rooms: { lobby: { users: {} } } });
    assert.ok(parts.every((part) => (part.ops as { op: string; path: Json[] }[]).every((op) => op.op === 'set' && op.path.length === 4)));
    assert.deepEqual(assemble(messages), { value, v: 1 });

    const list = Array.from({ length: 3_000 }, (_, i) => item(i));
    const rooted = await snapshotMessages('r', 2, list, SLICE_MS);
    assert.deepEqual(parse(rooted)[0]!.value, []);
    assert.deepEqual(assemble(rooted), { value: list, v: 2 });
  });

  it('sends a large store with no big container (a few long strings) whole', async () => {
    const value = { a: 'x'.repeat(PART_BYTES), b: 'y'.repeat(PART_BYTES) };
    const messages = await snapshotMessages('w', 1, value, SLICE_MS);
    assert.equal(messages.length, 1);
    assert.deepEqual(assemble(messages), { value, v: 1 });
  });
});
