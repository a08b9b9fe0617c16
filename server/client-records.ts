// SPDX-License-Identifier: MIT
/**
 * @module client-records
 * What the hub knows of each client id, read through to storage: who owns the id (a hash of
 * the key the client proves itself with), the highest seq of its committed batches, and its
 * final refusals. This is what lets the hub answer a re-sent batch truthfully — "applied", or
 * its refusal again — and never "applied" for a batch it refused. Storage holds the truth
 * (and checks it again, atomically, on every append, for batches that went to another node);
 * this is a bounded cache of it.
 */
import { createHash } from 'node:crypto';
import { TwinError } from '../src/errors.js';
import type { ErrorCode } from '../src/errors.js';
import type { ClientRecord, StorageAdapter } from './storage.js';
import { MAX_REFUSAL_CHARS, MAX_REFUSALS } from './storage.js';

/** Records kept in memory; the rest are read from storage again when needed. */
export const DEFAULT_CACHED_CLIENTS = 10_000;
/** Characters of refusal messages the cached records may hold in all (the least recently used records go first). */
export const DEFAULT_CACHED_REFUSAL_CHARS = 8 * 1024 * 1024;

/** What became of a client's batch or call, as far as the records know. */
export type Fate = 'new' | 'applied' | TwinError;

export class ClientRecords {
  private readonly storage: StorageAdapter;
  private readonly max: number;
  private readonly maxChars: number;
  /** In least-recently-used order: re-inserted on each use. */
  private readonly cache = new Map<string, ClientRecord>();
  /** Characters of refusal messages in {@link cache}. */
  private chars = 0;

  constructor(storage: StorageAdapter, max = DEFAULT_CACHED_CLIENTS, maxChars = DEFAULT_CACHED_REFUSAL_CHARS) {
    this.storage = storage;
    this.max = max;
    this.maxChars = maxChars;
  }

  /**
   * Claims `id` for the holder of `key`: true if the id is new, unowned, or owned by that key.
   * An id first used without a key (raw tools) stays usable without one until a key claims it.
   */
  async claim(id: string, key: string | undefined): Promise<boolean> {
    const owner = key === undefined ? '' : ownerOf(key);
    const record = await this.storage.claim(id, owner);
    this.remember(id, record);
    return record.owner === owner;
  }

  /** Whether `client`'s `seq` was applied before, refused before (the refusal), or is new. */
  async fate(client: string, seq: number): Promise<Fate> {
    const record = await this.get(client);
    if (!record) return 'new';
    const refusal = record.refused.find(([s]) => s === seq);
    if (refusal) return new TwinError(refusal[1] as ErrorCode, refusal[2]);
    return seq <= record.seq ? 'applied' : 'new';
  }

  /** The highest committed seq of `client` known here (0 if none, or not cached). */
  committedSeq(client: string): number {
    return this.cache.get(client)?.seq ?? 0;
  }

  /** Notes a commit of `client`'s `seq` (storage recorded it in the same step as the batch). */
  committed(client: string, seq: number): void {
    const record = this.cache.get(client);
    if (record) record.seq = Math.max(record.seq, seq);
  }

  /** Records a final refusal of `client`'s `seq`, so a re-send gets it again. */
  async refuse(client: string, seq: number, error: TwinError): Promise<void> {
    const message = error.message.length > MAX_REFUSAL_CHARS ? `${error.message.slice(0, MAX_REFUSAL_CHARS - 1)}…` : error.message;
    await this.storage.refuse(client, seq, error.code, message);
    const record = this.cache.get(client);
    if (record && !record.refused.some(([s]) => s === seq)) {
      record.refused.push([seq, error.code, message]);
      this.chars += message.length;
      if (record.refused.length > MAX_REFUSALS) this.chars -= record.refused.shift()![2].length;
      this.evict();
    }
  }

  /** The records held here, for a storage that lost its own (see `StorageAdapter.restoreClients`). */
  held(): ReadonlyMap<string, ClientRecord> {
    return this.cache;
  }

  /** Forgets what is cached (storage was replaced behind our back). */
  forget(): void {
    this.cache.clear();
    this.chars = 0;
  }

  private async get(client: string): Promise<ClientRecord | undefined> {
    const cached = this.cache.get(client);
    if (cached) {
      // Most recently used goes last (the cache drops the first); it is ours already: no copy.
      this.cache.delete(client);
      this.cache.set(client, cached);
      return cached;
    }
    const record = await this.storage.client(client);
    if (record) this.remember(client, record);
    return record;
  }

  private remember(client: string, record: ClientRecord): void {
    this.drop(client);
    this.cache.set(client, { ...record, refused: [...record.refused] });
    this.chars += refusalChars(record);
    this.evict();
  }

  /** Drops the least recently used records while there are too many, or their refusals are too long. */
  private evict(): void {
    while (this.cache.size > this.max || (this.chars > this.maxChars && this.cache.size > 1)) this.drop(this.cache.keys().next().value!);
  }

  private drop(client: string): void {
    const record = this.cache.get(client);
    if (!record) return;
    this.cache.delete(client);
    this.chars -= refusalChars(record);
  }

  /** Characters of refusal messages cached now (for tests of the bound). */
  get cachedRefusalChars(): number {
    return this.chars;
  }
}

function refusalChars(record: ClientRecord): number {
  let chars = 0;
  for (const [, , message] of record.refused) chars += message.length;
  return chars;
}

/** The owner hash of a client key: storage never holds the key itself. */
function ownerOf(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
