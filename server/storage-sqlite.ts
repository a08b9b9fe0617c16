// SPDX-License-Identifier: MIT
/**
 * @module storage-sqlite
 * The embedded durable backend (better-sqlite3): one database file holding, per store, a
 * snapshot and the op log after it, and one row per client id (its owner, committed seq and
 * final refusals). WAL with `synchronous = FULL` means a committed transaction is on disk, so
 * an append that resolved survives a crash or a power cut. One process owns the file; `follow`
 * hears only batches appended through this adapter instance.
 *
 * Client rows expire by `changed_at` (indexed): each write deletes up to 100 expired rows and
 * the rows beyond `maxClients`, and a background sweep does the same in small transactions
 * while nobody writes. A trigger-kept counter gives the row count without a scan. A file
 * created by this version uses incremental auto-vacuum, so the sweep gives freed pages back
 * to the file system; in an older file freed pages stay in the file and are reused by later
 * rows (the file keeps its largest size, it does not grow further).
 *
 * Upgrading from the per-store `twin_seq` table: each client's highest seq over all stores is
 * copied into `twin_client` (no owner yet, expiring after the TTL), then `twin_seq` is dropped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { debuglog } from 'node:util';
import Database from 'better-sqlite3';
import type { Json } from '../src/json.js';
import { applyOps } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import type { AppendPart, ClientRecord, StorageAdapter, StoredBatch, StoredState } from './storage.js';
import type { ClientStorageOptions } from './storage-clients.js';
import {
  addRefusal, checkAppend, checkClient, clientAnswer, clientLimits, emptyRecord, mergeRecords, parseRefused,
  PRUNE_BATCH, startSweeper, sweepInterval,
} from './storage-clients.js';
import { checkCompactVersion, closedError, conflictError, EMPTY_STATE, LocalFollowers } from './storage-memory.js';

/** How long a statement waits for a lock held by another connection before failing. */
const BUSY_TIMEOUT_MS = 5_000;
/** Records written per transaction by `restoreClients`, so a large merge does not hold the file for long. */
const RESTORE_CHUNK = 500;

// auto_vacuum must be chosen before the first table exists; it is ignored for an existing file.
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
CREATE TABLE IF NOT EXISTS twin_client (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  seq INTEGER NOT NULL,
  refused TEXT NOT NULL,
  changed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS twin_client_changed_at ON twin_client (changed_at);
CREATE TABLE IF NOT EXISTS twin_client_count (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  n INTEGER NOT NULL
);
INSERT OR IGNORE INTO twin_client_count (one, n) VALUES (1, (SELECT COUNT(*) FROM twin_client));
CREATE TRIGGER IF NOT EXISTS twin_client_added AFTER INSERT ON twin_client
  BEGIN UPDATE twin_client_count SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS twin_client_removed AFTER DELETE ON twin_client
  BEGIN UPDATE twin_client_count SET n = n - 1; END;
`;

/** Moves the seqs of the old per-store table (`twin_seq`, dropped next) into client records. */
const MIGRATE_SEQS = `
INSERT OR IGNORE INTO twin_client (id, owner, seq, refused, changed_at)
  SELECT client, '', MAX(seq), '[]', @now FROM twin_seq GROUP BY client`;

interface LogRow { v: number; ops: string; id: string | null }
interface SnapshotRow { value: string; v: number }
interface ClientRow { owner: string; seq: number; refused: string }

/** Options of {@link createSqliteStorage}: the bounds of the client records. */
export type SqliteStorageOptions = ClientStorageOptions;

/**
 * Creates a storage adapter on the SQLite database at `path`, creating the file and its parent
 * folder if they are missing. `append` resolves after its transaction committed, so it is
 * durable. A store that was never compacted is replayed onto `{}`: a hub whose initial state
 * is something else records it first with `compact(store, initial, 0)`. Client records expire
 * `clientTtlMs` (default 48 h) after their last change; at most `maxClients` (default 100,000)
 * are kept, the least recently changed going first.
 *
 * ```ts
 * const storage = createSqliteStorage('.twin-data/twin.db', { clientTtlMs: 24 * 60 * 60 * 1000 });
 * await storage.append([{ store: 'todos', batch: { v: 1, ops: [{ op: 'push', path: [], values: ['milk'] }] } }]);
 * ```
 */
export function createSqliteStorage(file: string, options: SqliteStorageOptions = {}): StorageAdapter {
  const limits = clientLimits(options);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  // FULL fsyncs the WAL on every commit; NORMAL (the usual WAL choice) could lose the last
  // acknowledged batches on power loss, and the contract says acknowledged means durable.
  db.pragma('synchronous = FULL');
  db.transaction(() => {
    db.exec(SCHEMA);
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'twin_seq'").get()) {
      db.prepare(MIGRATE_SEQS).run({ now: Date.now() });
      db.exec('DROP TABLE twin_seq');
    }
  })();
  const vacuums = db.pragma('auto_vacuum', { simple: true }) !== 0;

  const sql = {
    snapshot: db.prepare<[string], SnapshotRow>('SELECT value, v FROM twin_snapshot WHERE store = ?'),
    logAfter: db.prepare<[string, number], LogRow>('SELECT v, ops, id FROM twin_log WHERE store = ? AND v > ? ORDER BY v'),
    version: db.prepare<[string, string], { v: number | null }>(
      `SELECT MAX(v) AS v FROM (SELECT v FROM twin_snapshot WHERE store = ?
         UNION ALL SELECT MAX(v) AS v FROM twin_log WHERE store = ?)`,
    ),
    insertLog: db.prepare<[string, number, string, string | null]>('INSERT INTO twin_log (store, v, ops, id) VALUES (?, ?, ?, ?)'),
    upsertSnapshot: db.prepare<[string, string, number]>(
      `INSERT INTO twin_snapshot (store, value, v) VALUES (?, ?, ?)
       ON CONFLICT (store) DO UPDATE SET value = excluded.value, v = excluded.v WHERE excluded.v >= v`,
    ),
    // The batch at the snapshot's version stays: an append made `after` it must find it.
    deleteLogBefore: db.prepare<[string, number]>('DELETE FROM twin_log WHERE store = ? AND v < ?'),
    batchId: db.prepare<[string, number], { id: string | null }>('SELECT id FROM twin_log WHERE store = ? AND v = ?'),
    // Rows whose changed_at is at or before the cutoff (now - TTL) are expired, pruned or not.
    client: db.prepare<[string, number], ClientRow>('SELECT owner, seq, refused FROM twin_client WHERE id = ? AND changed_at > ?'),
    clientExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM twin_client WHERE id = ?'),
    insertClient: db.prepare<[string, string, number, string, number]>(
      'INSERT INTO twin_client (id, owner, seq, refused, changed_at) VALUES (?, ?, ?, ?, ?)',
    ),
    updateClient: db.prepare<[string, number, string, number, string]>(
      'UPDATE twin_client SET owner = ?, seq = ?, refused = ?, changed_at = ? WHERE id = ?',
    ),
    clientCount: db.prepare<[], { n: number }>('SELECT n FROM twin_client_count'),
    deleteExpired: db.prepare<[number, number]>(
      `DELETE FROM twin_client WHERE id IN
         (SELECT id FROM twin_client WHERE changed_at <= ? ORDER BY changed_at LIMIT ?)`,
    ),
    deleteOldest: db.prepare<[number]>(
      'DELETE FROM twin_client WHERE id IN (SELECT id FROM twin_client ORDER BY changed_at LIMIT ?)',
    ),
  };

  const versionOf = (store: string): number => sql.version.get(store, store)?.v ?? 0;
  const batchesAfter = (store: string, v: number): StoredBatch[] => sql.logAfter.all(store, v).map(toBatch);

  const readClient = (id: string, now: number): ClientRecord | undefined => {
    const row = sql.client.get(id, now - limits.ttlMs);
    return row && { owner: row.owner, seq: row.seq, refused: parseRefused(row.refused) };
  };
  /** Writes `record` as changed at `now` (an expired row is overwritten), then prunes a batch. */
  const writeClient = (id: string, record: ClientRecord, now: number): void => {
    const refused = JSON.stringify(record.refused);
    if (sql.clientExists.get(id)) sql.updateClient.run(record.owner, record.seq, refused, now, id);
    else sql.insertClient.run(id, record.owner, record.seq, refused, now);
    prune(now);
  };
  /** Deletes up to a batch of expired rows and (oldest first) the rows beyond maxClients. Returns how many went. */
  const prune = (now: number): number => {
    let removed = sql.deleteExpired.run(now - limits.ttlMs, PRUNE_BATCH).changes;
    const surplus = (sql.clientCount.get()?.n ?? 0) - limits.max;
    if (surplus > 0) removed += sql.deleteOldest.run(Math.min(surplus, PRUNE_BATCH)).changes;
    return removed;
  };

  const append = db.transaction((parts: readonly AppendPart[], rows: LogRow[], client: { id: string; seq: number } | undefined) => {
    const now = Date.now();
    const record = client && readClient(client.id, now);
    const answer = client && clientAnswer(client.id, record, client.seq);
    if (answer) throw answer;
    parts.forEach(({ store, after }, i) => {
      const row = rows[i]!;
      const current = versionOf(store);
      if (row.v !== current + 1) throw conflictError(store, row.v, current);
      if (after !== undefined && sql.batchId.get(store, current)?.id !== after) throw conflictError(store, row.v, current);
      sql.insertLog.run(store, row.v, row.ops, row.id);
    });
    if (client) writeClient(client.id, { ...(record ?? emptyRecord()), seq: client.seq }, now);
  });

  const claim = db.transaction((id: string, owner: string): ClientRecord => {
    const now = Date.now();
    const record = readClient(id, now) ?? emptyRecord(owner);
    if (record.owner === '') record.owner = owner;
    writeClient(id, record, now);
    return record;
  });

  const refuse = db.transaction((id: string, seq: number, code: string, message: string) => {
    const now = Date.now();
    const record = readClient(id, now) ?? emptyRecord();
    addRefusal(record, seq, code, message);
    writeClient(id, record, now);
  });

  const restoreClients = db.transaction((records: [string, ClientRecord][]) => {
    const now = Date.now();
    for (const [id, theirs] of records) writeClient(id, mergeRecords(readClient(id, now), theirs), now);
  });

  const sweep = db.transaction(() => prune(Date.now()));

  const compact = db.transaction((store: string, json: string, v: number) => {
    checkCompactVersion(store, v, versionOf(store));
    sql.upsertSnapshot.run(store, json, v);
    sql.deleteLogBefore.run(store, v);
  });

  // Reads of several tables go through one transaction so a concurrent compact (from another
  // process on the same file) cannot slip in between them.
  const load = db.transaction((store: string): StoredState | undefined => {
    const snap = sql.snapshot.get(store);
    const log = batchesAfter(store, snap?.v ?? 0);
    if (!snap && log.length === 0) return undefined;
    const base = snap ? (JSON.parse(snap.value) as Json) : EMPTY_STATE;
    return { value: applyOps(base, log.flatMap((b) => b.ops)), v: log.at(-1)?.v ?? snap?.v ?? 0 };
  });

  // The log is contiguous (compact deletes only what lies before the snapshot, which keeps
  // its own batch), so it reaches back to v+1 exactly when that is its first batch after v.
  const since = db.transaction((store: string, v: number): StoredBatch[] | undefined => {
    const batches = batchesAfter(store, v);
    if (v >= versionOf(store)) return [];
    return batches[0]?.v === v + 1 ? batches : undefined;
  });

  const followers = new LocalFollowers();
  let closed = false;
  const open = (): void => {
    if (closed) throw closedError('sqlite');
  };
  const stopSweeper = startSweeper(sweepInterval(limits.ttlMs), () => {
    if (closed) return 0;
    const removed = sweep();
    if (removed > 0 && vacuums) {
      // Hands the pages the deleted rows freed back to the file system (a no-op in an old
      // file); the file shrinks when the WAL is next checkpointed, which the end of a sweep
      // does at once rather than whenever the WAL next fills up.
      db.pragma('incremental_vacuum');
      if (removed < PRUNE_BATCH) db.pragma('wal_checkpoint(PASSIVE)');
    }
    return removed;
  }, (err) => debug('sqlite storage: sweeping client records failed: %s', err instanceof Error ? err.message : String(err)));

  /**
   * Group commit: the appends asked for in one turn of the event loop (from any connections, to
   * any stores) are made durable by one transaction, so one fsync. Each keeps its own outcome:
   * it runs in a savepoint of its own (a nested transaction), so one that conflicts or was
   * applied before rolls back alone. Each resolves only once the whole group has committed.
   */
  let group: GroupedAppend[] = [];
  const commitGroup = db.transaction((appends: GroupedAppend[]) => {
    for (const request of appends) {
      try {
        append(request.parts, request.rows, request.client);
      } catch (err) {
        // An error that made SQLite roll back the whole transaction (a full disk, an I/O
        // error) ends the group: the appends after it must not commit on their own.
        if (!db.inTransaction) throw err;
        request.error = err;
      }
    }
  });
  const flushGroup = () => {
    const appends = group;
    group = [];
    try {
      // IMMEDIATE: the write lock up front, so another process on the file cannot leave the
      // group with a stale snapshot that fails every append in it.
      commitGroup.immediate(appends);
    } catch (err) {
      // The commit itself failed (a full disk): none of them is stored.
      for (const request of appends) request.reject(err);
      return;
    }
    for (const request of appends) {
      if (request.error !== undefined) {
        request.reject(request.error);
        continue;
      }
      // Copies: the caller may reuse its batches.
      request.parts.forEach(({ store }, i) => followers.publish(store, toBatch(request.rows[i]!)));
      request.resolve();
    }
  };

  return {
    async load(store) {
      open();
      return load(store);
    },
    async append(parts, client) {
      open();
      checkAppend(parts, client);
      const rows = parts.map(({ batch, json }): LogRow => ({ v: batch.v, ops: json ?? JSON.stringify(batch.ops), id: batch.id ?? null }));
      return new Promise<void>((resolve, reject) => {
        if (group.push({ parts, rows, client, resolve, reject }) === 1) setImmediate(flushGroup);
      });
    },
    async since(store, v) {
      open();
      return since(store, v);
    },
    async compact(store, value, v, json) {
      open();
      compact(store, json ?? JSON.stringify(value), v);
    },
    follow(store, v, onBatch) {
      open();
      return followers.add(store, v, onBatch, () => (closed ? [] : batchesAfter(store, v)));
    },
    async client(id) {
      open();
      return readClient(id, Date.now());
    },
    async claim(id, owner) {
      open();
      checkClient(id);
      return claim(id, owner);
    },
    async refuse(id, seq, code, message) {
      open();
      checkClient(id, seq);
      refuse(id, seq, code, message);
    },
    async restoreClients(records) {
      open();
      const all = [...records];
      for (let i = 0; i < all.length; i += RESTORE_CHUNK) restoreClients(all.slice(i, i + RESTORE_CHUNK));
    },
    async close() {
      if (closed) return;
      // Appends asked for before the close are committed (or refused), not left hanging.
      if (group.length) flushGroup();
      closed = true;
      stopSweeper();
      followers.clear();
      db.close();
    },
  };
}

const debug = debuglog('twin:server');

function toBatch(row: LogRow): StoredBatch {
  const batch: StoredBatch = { v: row.v, ops: JSON.parse(row.ops) as Op[] };
  if (row.id !== null) batch.id = row.id;
  return batch;
}

/** An append waiting for its turn's group commit. */
interface GroupedAppend {
  readonly parts: readonly AppendPart[];
  readonly rows: LogRow[];
  readonly client: { id: string; seq: number } | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  /** Why this append alone was rolled back (a conflict, a duplicate). */
  error?: unknown;
}
