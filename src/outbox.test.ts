// SPDX-License-Identifier: MIT
/**
 * Which gone pages' slots a page takes over (src/outbox.ts), over an in-memory localStorage
 * and Web Locks whose order is known: real Chromium runs the same in test/e2e/outbox.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOutbox } from './outbox.js';
import { MAX_ADOPT } from './protocol.js';
import { MemoryLocks, MemoryStorage } from '../test/helpers/memory-storage.js';

const KEY = 'a-key-of-sixteen-chars';
const DAY = 24 * 3600_000;

/** A gone page's slot holding one write made at `at`. */
function leaveSlot(storage: Storage, client: string, at: number): void {
  storage.setItem(`twin:outbox:${client}`, JSON.stringify({ key: KEY }));
  const message = { t: 'op', id: `${client}:1`, store: 'notes', ops: [{ op: 'set', path: ['a'], value: client }] };
  storage.setItem(`twin:outbox:${client}:1`, JSON.stringify({ at, message }));
}

describe('taking over gone pages\' outboxes', () => {
  it('takes the slots with the newest writes first: old ones left to the app do not crowd out a young one', async () => {
    const storage = new MemoryStorage();
    const now = Date.now();
    for (let i = 0; i < 3 * MAX_ADOPT; i++) leaveSlot(storage, `old-page-${String(i).padStart(3, '0')}`, now - 2 * DAY - i);
    leaveSlot(storage, 'young-page-1', now - 1000);
    const outbox = createOutbox(storage, new MemoryLocks(), 'this-page-0001', KEY);
    const adopted = await outbox.adopted;
    assert.equal(adopted.length, MAX_ADOPT);
    assert.equal(adopted[0]!.client, 'young-page-1');
    assert.deepEqual(adopted.slice(1).map((slot) => slot.client), Array.from({ length: MAX_ADOPT - 1 }, (_, i) => `old-page-${String(i).padStart(3, '0')}`));
    assert.deepEqual(outbox.claims().map((claim) => claim.client), adopted.map((slot) => slot.client));
  });

  it('leaves a slot alone while its page holds its lock', async () => {
    const storage = new MemoryStorage();
    const locks = new MemoryLocks();
    leaveSlot(storage, 'live-page-01', Date.now());
    let release!: () => void;
    void locks.request('twin:outbox:live-page-01', {}, () => new Promise<void>((resolve) => (release = resolve)));
    const adopted = await createOutbox(storage, locks, 'this-page-0002', KEY).adopted;
    assert.deepEqual(adopted, []);
    release();
  });
});
