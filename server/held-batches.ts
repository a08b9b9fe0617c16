// SPDX-License-Identifier: MIT
/**
 * @module held-batches
 * The batches of one connection refused for now (a retryable code) and not sent again yet,
 * per client id (its own and the adopted ones). A later seq of that client waits — it is
 * refused too, with `TWIN_ERR_ORDER` — until every held one below it came again, so the server
 * never commits a client's batches out of order. Bounded: a client that piles up refusals
 * without ever sending them again is not one that follows the protocol.
 */
import { ErrorCode, TwinError } from '../src/errors.js';

/** Batches one connection may hold before it is closed. */
export const MAX_HELD = 4096;

export class HeldBatches {
  private readonly seqs = new Map<string, Set<number>>();
  private count = 0;

  /**
   * Lets seq `seq` of `client` pass, or throws `TWIN_ERR_ORDER` when it must wait behind a held
   * one. A held seq is let go when it comes again, or when it turns out committed after all
   * (`committed()`, the client's last committed seq: a storage call that failed after writing,
   * whose batch was confirmed since, so the client will not send it again). Earlier seqs may
   * still be on their way (sent before the refusal): they pass.
   */
  admit(client: string, seq: number, committed: () => number): void {
    const held = this.seqs.get(client);
    if (!held) return;
    this.forget(held, (h) => h === seq);
    if (held.size) {
      const last = committed();
      this.forget(held, (h) => h <= last);
    }
    if (!held.size) {
      this.seqs.delete(client);
      return;
    }
    const first = Math.min(...held);
    if (seq > first) throw new TwinError(ErrorCode.ORDER, `Batch ${first} was refused for now; send it again before the ones after it.`);
  }

  /** Holds seq `seq` of `client` (refused for now); false once more than {@link MAX_HELD} are held. */
  hold(client: string, seq: number): boolean {
    let held = this.seqs.get(client);
    if (!held) this.seqs.set(client, (held = new Set()));
    if (!held.has(seq)) {
      held.add(seq);
      this.count++;
    }
    return this.count <= MAX_HELD;
  }

  private forget(held: Set<number>, which: (seq: number) => boolean): void {
    for (const seq of held) {
      if (!which(seq)) continue;
      held.delete(seq);
      this.count--;
    }
  }
}
