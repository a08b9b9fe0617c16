// SPDX-License-Identifier: MIT
/**
 * @module storage-clients
 * What every storage backend shares about client records (see {@link ClientRecord}): the
 * options that bound them (age and count), the answers an append gives a re-sent batch
 * (`TWIN_ERR_DUPLICATE`, or the recorded refusal), the merge of {@link StorageAdapter.restoreClients},
 * the in-memory table of the memory backend and the background sweeper of the others.
 * @internal
 */
import { ErrorCode, TwinError } from '../src/errors.js';
import type { ErrorCode as Code } from '../src/errors.js';
import type { AppendPart, ClientRecord, StorageAdapter } from './storage.js';
import { DEFAULT_CLIENT_TTL_MS, MAX_REFUSALS } from './storage.js';

/** How many client records a backend keeps when not told otherwise (the oldest go first). */
export const DEFAULT_MAX_CLIENTS = 100_000;
/**
 * How many expired records one write removes on its way. Each write adds at most one record,
 * so a batch above 1 lets the writes themselves catch up with any backlog, while no single
 * write pays for a large one (the sweeper clears what is left while nobody writes).
 */
export const PRUNE_BATCH = 100;
/** The longest pause between two background sweeps; shorter when the TTL is (a quarter of it). */
export const MAX_SWEEP_INTERVAL_MS = 60_000;

/** The client-record options every backend takes. */
export interface ClientStorageOptions {
  /**
   * How long a client record lives after its last change, in ms. It must outlive any client's
   * outbox (ARCHITECTURE.md rules). Default {@link DEFAULT_CLIENT_TTL_MS} (48 h).
   */
  clientTtlMs?: number;
  /**
   * How many client records are kept at most; beyond it the least recently changed go first
   * (SQLite and Redis know that to the millisecond: records changed in the same one go in any
   * order). Default 100,000.
   */
  maxClients?: number;
}

/** {@link ClientStorageOptions} with the defaults filled in and checked. */
export interface ClientLimits {
  ttlMs: number;
  max: number;
}

/**
 * Fills in the defaults of {@link ClientStorageOptions} and throws a `RangeError` naming the
 * option when one is not a positive integer.
 */
export function clientLimits(options: ClientStorageOptions = {}): ClientLimits {
  const { clientTtlMs, maxClients } = { clientTtlMs: DEFAULT_CLIENT_TTL_MS, maxClients: DEFAULT_MAX_CLIENTS, ...options };
  for (const [name, value] of [['clientTtlMs', clientTtlMs], ['maxClients', maxClients]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`The storage option ${name} must be a positive integer, not ${JSON.stringify(value)}.`);
    }
  }
  return { ttlMs: clientTtlMs, max: maxClients };
}

/** How often a backend sweeps expired records in the background for a given TTL. */
export function sweepInterval(ttlMs: number): number {
  return Math.max(1, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(ttlMs / 4)));
}

//#region checks and answers

/**
 * Throws a `TypeError` for arguments of {@link StorageAdapter.append} no backend may write:
 * a store named twice, a version that is not a positive integer, a client without an id or
 * with a seq that is not a positive integer. Called before anything is written.
 */
export function checkAppend(parts: readonly AppendPart[], client: { id: string; seq: number } | undefined): void {
  const seen = new Set<string>();
  for (const { store, batch } of parts) {
    if (seen.has(store)) throw new TypeError(`An append names store ${JSON.stringify(store)} twice: send one batch per store.`);
    seen.add(store);
    if (!Number.isSafeInteger(batch.v) || batch.v < 1) {
      throw new TypeError(`The batch for store ${JSON.stringify(store)} has version ${JSON.stringify(batch.v)}: versions are integers from 1.`);
    }
  }
  if (client) checkClient(client.id, client.seq);
}

/** Throws a `TypeError` unless `id` is a non-empty string and `seq` (when given) a positive safe integer. */
export function checkClient(id: string, seq?: number): void {
  if (typeof id !== 'string' || id === '') throw new TypeError(`A client id must be a non-empty string, not ${JSON.stringify(id)}.`);
  if (seq !== undefined && (!Number.isSafeInteger(seq) || seq < 1)) {
    throw new TypeError(`Client ${JSON.stringify(id)} has seq ${JSON.stringify(seq)}: a seq is an integer from 1.`);
  }
}

/**
 * Why `record` refuses client seq `seq` again, or `undefined` when the seq is new: its recorded
 * refusal if there is one (a refused batch is never reported as applied), else
 * `TWIN_ERR_DUPLICATE` when the record's seq has reached it.
 */
export function clientAnswer(id: string, record: ClientRecord | undefined, seq: number): TwinError | undefined {
  if (!record) return undefined;
  const refusal = record.refused.find(([s]) => s === seq);
  if (refusal) return new TwinError(refusal[1] as Code, refusal[2]);
  if (record.seq >= seq) return duplicateError(id, seq, record.seq);
  return undefined;
}

/** The `TWIN_ERR_DUPLICATE` answer to client `id`'s seq `seq` when its record is at `committed`. */
export function duplicateError(id: string, seq: number, committed: number): TwinError {
  return new TwinError(
    ErrorCode.DUPLICATE,
    `Batch ${seq} of client ${JSON.stringify(id)} was committed before (the client's committed seq is ${committed}); nothing was written again.`,
  );
}

//#endregion checks and answers

//#region record operations

/** A fresh record: no batch committed, nothing refused. */
export function emptyRecord(owner = ''): ClientRecord {
  return { owner, seq: 0, refused: [] };
}

/** A deep copy, so callers may change what they receive. */
export function copyRecord(record: ClientRecord): ClientRecord {
  return { owner: record.owner, seq: record.seq, refused: record.refused.map(([s, c, m]) => [s, c, m]) };
}

/**
 * Adds a refusal to `record` unless its seq is there already (the first answer stands). The
 * list stays in seq order and keeps the {@link MAX_REFUSALS} highest seqs (the newest batches:
 * a client numbers its batches as it makes them), as the Redis backend, which keeps them as
 * hash fields, does too.
 */
export function addRefusal(record: ClientRecord, seq: number, code: string, message: string): void {
  if (record.refused.some(([s]) => s === seq)) return;
  record.refused.push([seq, code, message]);
  record.refused.sort((a, b) => a[0] - b[0]);
  if (record.refused.length > MAX_REFUSALS) record.refused.splice(0, record.refused.length - MAX_REFUSALS);
}

/**
 * Merges `theirs` into `ours` as {@link StorageAdapter.restoreClients} says: the higher seq
 * wins, an empty owner is filled in, the refusals are joined (one per seq, ours first, in seq
 * order, the newest {@link MAX_REFUSALS} kept). Returns a new record.
 */
export function mergeRecords(ours: ClientRecord | undefined, theirs: ClientRecord): ClientRecord {
  const merged = copyRecord(ours ?? emptyRecord());
  merged.seq = Math.max(merged.seq, theirs.seq);
  if (merged.owner === '') merged.owner = theirs.owner;
  const bySeq = new Map(merged.refused.map((r) => [r[0], r]));
  for (const [s, c, m] of theirs.refused) if (!bySeq.has(s)) bySeq.set(s, [s, c, m]);
  merged.refused = [...bySeq.values()].sort((a, b) => a[0] - b[0]).slice(-MAX_REFUSALS);
  return merged;
}

/**
 * Reads a stored record's refusals (JSON text), tolerating what is not a list of
 * `[seq, code, message]` (a hand-edited row) as no refusals rather than failing every call.
 */
export function parseRefused(json: string | undefined): ClientRecord['refused'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json ?? '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((r): r is [number, string, string] =>
    Array.isArray(r) && typeof r[0] === 'number' && typeof r[1] === 'string' && typeof r[2] === 'string');
}

//#endregion record operations

//#region memory table

interface Entry {
  record: ClientRecord;
  changedAt: number;
}

/**
 * The client records of the memory backend: a Map kept in last-change order (a change
 * deletes and re-inserts its entry), so the expired and the surplus records are always at its
 * front and pruning reads only what it removes.
 */
export class MemoryClientTable {
  private _entries = new Map<string, Entry>();
  private _limits: ClientLimits;

  constructor(limits: ClientLimits) {
    this._limits = limits;
  }

  /** How many records are held, expired ones not yet pruned included. */
  get size(): number {
    return this._entries.size;
  }

  /** The live record of `id` (not a copy: callers copy what they hand out). */
  get(id: string, now = Date.now()): ClientRecord | undefined {
    const entry = this._entries.get(id);
    return entry && entry.changedAt + this._limits.ttlMs > now ? entry.record : undefined;
  }

  /** Stores `record` as changed now: it becomes the newest, then a batch of old ones is pruned. */
  put(id: string, record: ClientRecord, now = Date.now()): void {
    this._entries.delete(id);
    this._entries.set(id, { record, changedAt: now });
    this.prune(PRUNE_BATCH, now);
  }

  /**
   * Removes records beyond `maxClients` (oldest first) and up to `limit` expired ones.
   * Returns how many were removed.
   */
  prune(limit: number, now = Date.now()): number {
    let removed = 0;
    for (const [id, entry] of this._entries) {
      const surplus = this._entries.size > this._limits.max;
      if (!surplus && (removed >= limit || entry.changedAt + this._limits.ttlMs > now)) break;
      this._entries.delete(id);
      removed++;
    }
    return removed;
  }

  clear(): void {
    this._entries.clear();
  }
}

//#endregion memory table

//#region sweeper

/**
 * Runs `sweepBatch` every `intervalMs` and again (after other work had its turn) as long as
 * it removed a full batch, so a large backlog of expired records goes away without a long
 * pause and without anybody writing. The timer does not keep the process alive. Errors go to
 * `onError`. Returns the function that stops it.
 */
export function startSweeper(intervalMs: number, sweepBatch: () => number | Promise<number>, onError: (err: unknown) => void): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(run, intervalMs);
    timer.unref();
  };
  const run = async (): Promise<void> => {
    try {
      while (!stopped && (await sweepBatch()) >= PRUNE_BATCH) await new Promise((resolve) => setImmediate(resolve));
    } catch (err) {
      if (!stopped) onError(err);
    }
    schedule();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

//#endregion sweeper
