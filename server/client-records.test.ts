// SPDX-License-Identifier: MIT
/**
 * The hub's cache of client records is bounded in bytes as well as in count: refusal messages
 * (a schema's may quote the value refused) are kept short, and the least recently used records
 * go once their refusals add up past the budget — and are read back from storage when needed,
 * so a re-sent batch still gets its refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, TwinError } from '../src/errors.js';
import { ClientRecords } from './client-records.js';
import { createMemoryStorage } from './storage-memory.js';
import { MAX_REFUSAL_CHARS } from './storage.js';

describe('client records', () => {
  it('keep a refusal message to MAX_REFUSAL_CHARS, in storage and in the cache', async () => {
    const storage = createMemoryStorage();
    const records = new ClientRecords(storage);
    const long = `Expected a number, got "${'x'.repeat(100_000)}"`;
    await records.refuse('client-1', 1, new TwinError(ErrorCode.SCHEMA, long));
    const [[seq, code, message]] = (await storage.client('client-1'))!.refused as [[number, string, string]];
    assert.deepEqual([seq, code], [1, ErrorCode.SCHEMA]);
    assert.equal(message.length, MAX_REFUSAL_CHARS);
    assert.ok(message.startsWith('Expected a number, got "xxx') && message.endsWith('…'));
    const fate = await records.fate('client-1', 1);
    assert.ok(fate instanceof TwinError && fate.message === message);
  });

  it('hold at most their budget of refusal text, and answer for the records they let go from storage', async () => {
    const storage = createMemoryStorage();
    const budget = 20_000;
    const records = new ClientRecords(storage, 10_000, budget);
    const message = 'm'.repeat(MAX_REFUSAL_CHARS);
    for (let c = 0; c < 100; c++) {
      await records.claim(`client-${c}`, undefined);
      for (let seq = 1; seq <= 10; seq++) await records.refuse(`client-${c}`, seq, new TwinError(ErrorCode.SCHEMA, message));
    }
    assert.ok(records.cachedRefusalChars <= budget, `${records.cachedRefusalChars} characters cached, budget ${budget}`);
    assert.ok(records.cachedRefusalChars > budget / 2, 'the budget is used, not emptied');
    // The first client's record left the cache long ago: its refusals come back from storage.
    const fate = await records.fate('client-0', 7);
    assert.ok(fate instanceof TwinError && fate.code === ErrorCode.SCHEMA);
    assert.equal(await records.fate('client-0', 11), 'new');
    assert.ok(records.cachedRefusalChars <= budget);
  });
});
