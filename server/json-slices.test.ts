// SPDX-License-Identifier: MIT
/**
 * @module json-slices.test
 * JSON written in slices is JSON.stringify's output exactly (a seeded property test), and a
 * large value lets other work in while it is written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Json } from '../src/json.js';
import { stringifyInSlices } from './json-slices.js';

const SEED = Number(process.env.TWIN_SEED ?? 20261202);

describe('stringifyInSlices', () => {
  it('writes what JSON.stringify writes, for any JSON value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
        // (fast-check's JSON values may hold -0, which JSON turns into 0: both sides alike.)
        const sliced = (await stringifyInSlices(value as Json, 0)).toString();
        assert.equal(sliced, JSON.stringify(value));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('lets other work in while it writes a large value, and keeps the text whole', async () => {
    const value = { items: Array.from({ length: 20_000 }, (_, i) => ({ id: i, text: `message ${i} `.repeat(10), tags: ['a', 'b'] })) };
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    let text: string;
    try {
      text = (await stringifyInSlices(value, 1)).toString();
    } finally {
      clearInterval(ticker);
    }
    assert.ok(turns > 3, `other work ran ${turns} times while it wrote ${text.length} characters`);
    assert.equal(text, JSON.stringify(value));
  });
});
