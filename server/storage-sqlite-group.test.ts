// SPDX-License-Identifier: MIT
/**
 * @module storage-sqlite-group.test
 * SQLite's group commit: the appends asked for in one turn share one transaction (one fsync),
 * and each keeps its own outcome — a conflict or a duplicate rolls back alone, the others are
 * stored, every one is answered, and nothing is answered before the group committed.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode } from '../src/errors.js';
import type { TwinError } from '../src/errors.js';
import { createSqliteStorage } from './storage-sqlite.js';

function open(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'twin-group-'));
  const file = join(dir, 'twin.db');
  const storage = createSqliteStorage(file);
  t.after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { storage, file };
}

const push = (store: string, v: number, text: string) => ({ store, batch: { v, ops: [{ op: 'set' as const, path: ['last'], value: text }], id: `${store}:${v}` } });

describe('SQLite group commit', () => {
  it('stores the appends of one turn together, each with its own outcome', async (t) => {
    const { storage, file } = open(t);
    await storage.append([push('a', 1, 'a1')], { id: 'clientA1', seq: 1 });
    // One turn: 20 stores' first batches, a conflict (a's v1 again), a client's repeat.
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => storage.append([push(`s${i}`, 1, `s${i}`)], { id: `client${i}x`, seq: 1 })),
      storage.append([push('a', 1, 'again')]),
      storage.append([push('b', 1, 'b1')], { id: 'clientA1', seq: 1 }),
    ]);
    assert.deepEqual(results.slice(0, 20).map((r) => r.status), Array(20).fill('fulfilled'));
    const [conflict, duplicate] = results.slice(20) as PromiseRejectedResult[];
    assert.equal((conflict!.reason as TwinError).code, ErrorCode.CONFLICT);
    assert.equal((duplicate!.reason as TwinError).code, ErrorCode.DUPLICATE);
    // On disk, read by another connection: the 20 and the first a, not the refused two.
    const db = new Database(file, { readonly: true });
    try {
      const stores = (db.prepare('SELECT store FROM twin_log ORDER BY store').all() as { store: string }[]).map((row) => row.store);
      assert.deepEqual(stores, ['a', ...Array.from({ length: 20 }, (_, i) => `s${i}`).sort()]);
    } finally {
      db.close();
    }
    assert.deepEqual((await storage.load('b')), undefined, 'the duplicate wrote nothing');
  });

  it('refuses the whole group when SQLite rolled back the transaction: none is stored, none is confirmed', async (t) => {
    const { storage, file } = open(t);
    await storage.append([push('warm', 1, 'w')]);
    // An error that ends the transaction (as a full disk can): here a trigger's RAISE(ROLLBACK).
    const db = new Database(file);
    db.exec(`CREATE TRIGGER refuse_bad BEFORE INSERT ON twin_log WHEN NEW.store = 'bad' BEGIN SELECT RAISE(ROLLBACK, 'rolled back'); END`);
    db.close();
    const results = await Promise.allSettled([storage.append([push('bad', 1, 'x')]), storage.append([push('good', 1, 'y')])]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(await storage.load('good'), undefined, 'the append after the rollback was not committed on its own');
  });

  it('commits the appends still waiting when the storage closes', async (t) => {
    const { storage, file } = open(t);
    const waiting = storage.append([push('c', 1, 'c1')]);
    await storage.close();
    await waiting;
    const reopened = createSqliteStorage(file);
    try {
      assert.deepEqual((await reopened.load('c'))?.value, { last: 'c1' });
    } finally {
      await reopened.close();
    }
  });
});
