// SPDX-License-Identifier: MIT
/**
 * @module storage-sqlite
 * The embedded durable backend (better-sqlite3): one database file holding, per store, a
 * snapshot, the op log after it and each client's highest batch seq. WAL with
 * `synchronous = FULL` means a committed transaction is on disk, so an append that resolved
 * survives a crash or a power cut. One process owns the file; `follow` hears only batches
 * appended through this adapter instance.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Json } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import type { StorageAdapter, StoredBatch, StoredState } from './storage.js';
import {
  checkCompactVersion, closedError, conflictError, EMPTY_STATE, LocalFollowers, parseBatchId,
} from './storage-memory.js';

/** How long a statement waits for a lock held by another connection before failing. */
const BUSY_TIMEOUT_MS = 5_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS twin_snapshot (
  store TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  v INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS twin_log (
  store TEXT NOT NULL,
  v INTEGER NOT NULL,
  ops TEXT NOT NULL,
  id TEXT,
  PRIMARY KEY (store, v)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS twin_seq (
  store TEXT NOT NULL,
  client TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (store, client)
) WITHOUT ROWID;
`;

interface LogRow { v: number; ops: string; id: string | null }
interface SnapshotRow { value: string; v: number }
interface SeqRow { client: string; seq: number }

/**
 * Creates a storage adapter on the SQLite database at `path`, creating the file and its parent
 * folder if they are missing. `append` resolves after its transaction committed, so it is
 * durable. A store that was never compacted is replayed onto `{}`: a hub whose initial state
 * is something else records it first with `compact(store, initial, 0)`.
 *
 * ```ts
 * const storage = createSqliteStorage('.twin-data/twin.db');
 * await storage.append('todos', { v: 1, ops: [{ op: 'push', path: [], values: ['milk'] }] });
 * ```
 */
export function createSqliteStorage(file: string): StorageAdapter {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  db.pragma('journal_mode = WAL');
  // FULL fsyncs the WAL on every commit; NORMAL (the usual WAL choice) could lose the last
  // acknowledged batches on power loss, and the contract says acknowledged means durable.
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);

  const sql = {
    snapshot: db.prepare<[string], SnapshotRow>('SELECT value, v FROM twin_snapshot WHERE store = ?'),
    logAfter: db.prepare<[string, number], LogRow>('SELECT v, ops, id FROM twin_log WHERE store = ? AND v > ? ORDER BY v'),
    version: db.prepare<[string, string], { v: number | null }>(
      `SELECT MAX(v) AS v FROM (SELECT v FROM twin_snapshot WHERE store = ?
         UNION ALL SELECT MAX(v) AS v FROM twin_log WHERE store = ?)`,
    ),
    seqs: db.prepare<[string], SeqRow>('SELECT client, seq FROM twin_seq WHERE store = ?'),
    insertLog: db.prepare<[string, number, string, string | null]>('INSERT INTO twin_log (store, v, ops, id) VALUES (?, ?, ?, ?)'),
    upsertSeq: db.prepare<[string, string, number]>(
      `INSERT INTO twin_seq (store, client, seq) VALUES (?, ?, ?)
       ON CONFLICT (store, client) DO UPDATE SET seq = MAX(seq, excluded.seq)`,
    ),
    upsertSnapshot: db.prepare<[string, string, number]>(
      `INSERT INTO twin_snapshot (store, value, v) VALUES (?, ?, ?)
       ON CONFLICT (store) DO UPDATE SET value = excluded.value, v = excluded.v WHERE excluded.v >= v`,
    ),
    deleteLogUpTo: db.prepare<[string, number]>('DELETE FROM twin_log WHERE store = ? AND v <= ?'),
  };

  const versionOf = (store: string): number => sql.version.get(store, store)?.v ?? 0;
  const batchesAfter = (store: string, v: number): StoredBatch[] => sql.logAfter.all(store, v).map(toBatch);

  const append = db.transaction((store: string, row: LogRow) => {
    const seq = parseBatchId(row.id ?? undefined);
    const current = versionOf(store);
    if (row.v !== current + 1) throw conflictError(store, row.v, current);
    sql.insertLog.run(store, row.v, row.ops, row.id);
    if (seq) sql.upsertSeq.run(store, seq.client, seq.seq);
  });

  const compact = db.transaction((store: string, value: Json, v: number) => {
    checkCompactVersion(store, v, versionOf(store));
    sql.upsertSnapshot.run(store, JSON.stringify(value), v);
    sql.deleteLogUpTo.run(store, v);
  });

  // Reads of several tables go through one transaction so a concurrent compact (from another
  // process on the same file) cannot slip in between them.
  const load = db.transaction((store: string): StoredState | undefined => {
    const snap = sql.snapshot.get(store);
    const log = batchesAfter(store, snap?.v ?? 0);
    if (!snap && log.length === 0) return undefined;
    const base = snap ? (JSON.parse(snap.value) as Json) : EMPTY_STATE;
    const seqs: Record<string, number> = {};
    for (const row of sql.seqs.all(store)) seqs[row.client] = row.seq;
    return { value: applyOps(base, log.flatMap((b) => b.ops)), v: log.at(-1)?.v ?? snap?.v ?? 0, seqs };
  });

  // compact deletes the log up to the snapshot in the same transaction, so the log always
  // holds exactly (snapshot v, current]: it reaches back to v+1 iff v >= snapshot v.
  const since = db.transaction((store: string, v: number): StoredBatch[] | undefined =>
    v < (sql.snapshot.get(store)?.v ?? 0) ? undefined : batchesAfter(store, v));

  const followers = new LocalFollowers();
  let closed = false;
  const open = (): void => {
    if (closed) throw closedError('sqlite');
  };

  return {
    async load(store) {
      open();
      return load(store);
    },
    async append(store, batch) {
      open();
      const row: LogRow = { v: batch.v, ops: JSON.stringify(batch.ops), id: batch.id ?? null };
      append(store, row);
      followers.publish(store, toBatch(row)); // a copy: the caller may reuse its batch
    },
    async since(store, v) {
      open();
      return since(store, v);
    },
    async compact(store, value, v) {
      open();
      compact(store, value, v);
    },
    follow(store, v, onBatch) {
      open();
      return followers.add(store, v, onBatch, () => (closed ? [] : batchesAfter(store, v)));
    },
    async close() {
      if (closed) return;
      closed = true;
      followers.clear();
      db.close();
    },
  };
}

function toBatch(row: LogRow): StoredBatch {
  const batch: StoredBatch = { v: row.v, ops: JSON.parse(row.ops) as Op[] };
  if (row.id !== null) batch.id = row.id;
  return batch;
}
