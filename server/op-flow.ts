// SPDX-License-Identifier: MIT
/**
 * @module op-flow
 * A connection's batches on their way to one store. The next batch to that store goes to the
 * hub at once, where the store's pipeline commits them back to back; anything else the client
 * sent (a batch to another store, a call, a subscription) waits until they have all been
 * answered, so a client's batches are still committed in the order it sent them. Bounded:
 * past {@link OpFlow.max} on their way, the connection reads nothing more until one lands.
 */
export class OpFlow {
  readonly max: number;
  private store: string | undefined;
  private readonly onTheWay = new Set<Promise<void>>();

  constructor(max: number) {
    this.max = max;
  }

  /** Resolves when a message may be handled: a batch to `store`, or anything else (no store). */
  async before(store?: string): Promise<void> {
    if (store === undefined || store !== this.store) {
      while (this.onTheWay.size) await Promise.all(this.onTheWay);
      this.store = store;
      return;
    }
    while (this.onTheWay.size >= this.max) await Promise.race(this.onTheWay);
  }

  /** Tracks a batch until `answered` (which must not reject) settles. */
  add(answered: Promise<void>): void {
    const tracked = answered.finally(() => this.onTheWay.delete(tracked));
    this.onTheWay.add(tracked);
  }
}
