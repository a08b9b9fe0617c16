// SPDX-License-Identifier: MIT
/**
 * @module client-ids
 * The client ids one connection speaks for: its own, from its hello, and the ids of closed
 * pages it adopted to send their outboxes (`Hello.adopt`), each claimed with its key. Per id,
 * the batches refused for now hold back the later ones (`held-batches.ts`). A batch or call id
 * is parsed here, once, where its frame enters.
 */
import { ErrorCode, TwinError } from '../src/errors.js';
import { MAX_ADOPTED, parseBatchId } from '../src/protocol.js';
import type { ClientClaim } from '../src/protocol.js';
import type { ClientRecords } from './client-records.js';
import { HeldBatches } from './held-batches.js';
import type { RateLimitedLogger } from './logger.js';

export class ClientIds {
  /** The connection's own id ('' before its hello). */
  own = '';
  private readonly adopted = new Set<string>();
  private readonly held = new HeldBatches();
  private readonly records: ClientRecords;
  private readonly logger: RateLimitedLogger;

  constructor(records: ClientRecords, logger: RateLimitedLogger) {
    this.records = records;
    this.logger = logger;
  }

  /** Whether batches of `client` come through this connection (its own id, or an adopted one). */
  owns(client: string): boolean {
    return client === this.own || this.adopted.has(client);
  }

  /** Its own id and the adopted ones. */
  all(): string[] {
    return this.own ? [this.own, ...this.adopted] : [];
  }

  /**
   * Whether `key` owns `client` (claiming it if new). Throws `TWIN_ERR_UNAVAILABLE` when storage
   * cannot say — not the claim's fault: the page keeps its writes and comes back later.
   */
  async claim(client: string, key: string | undefined): Promise<boolean> {
    try {
      return await this.records.claim(client, key);
    } catch (err) {
      this.logger.error('storage-hello', 'Storage failed while a client claimed its id; it was told to try again later.', err);
      throw new TwinError(ErrorCode.UNAVAILABLE, 'The server cannot reach its storage; try again later.');
    }
  }

  /**
   * Claims closed pages' ids with their keys (while `open()`), and returns those now held. Each
   * that cannot be taken is refused alone, through `refused` (its batches will be refused as
   * not this connection's); beyond {@link MAX_ADOPTED}, the rest.
   */
  async adopt(claims: readonly ClientClaim[], open: () => boolean, refused: (message: string) => void): Promise<string[]> {
    const taken: string[] = [];
    for (const { client, key } of claims) {
      if (!open() || this.owns(client)) continue;
      if (this.adopted.size >= MAX_ADOPTED) {
        refused(`A connection may send for at most ${MAX_ADOPTED} other client ids.`);
        break;
      }
      const owned = await this.claim(client, key);
      if (!open()) break;
      if (!owned) {
        refused(`The client id ${client} could not be claimed with the key given.`);
        continue;
      }
      this.adopted.add(client);
      taken.push(client);
    }
    return taken;
  }

  /** Parses a batch or call id: it must be one of these ids', and not wait behind one refused for now. */
  admit(id: string): { client: string; seq: number } {
    const { client, seq } = parseBatchId(id);
    if (!this.owns(client)) throw new TwinError(ErrorCode.ID, 'A batch id must start with your own client id.');
    this.held.admit(client, seq, () => this.records.committedSeq(client));
    return { client, seq };
  }

  /** Holds batch `id`, refused for now; false once too many are held. */
  hold(id: string): boolean {
    const { client, seq } = parseBatchId(id);
    return this.held.hold(client, seq);
  }
}
