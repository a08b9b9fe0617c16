// SPDX-License-Identifier: MIT
/**
 * @module subscriptions
 * The stores one connection follows. Subscribing checks that the store exists (or may be
 * created) and that the user may read it, then sends what the client missed since the
 * version it has: the batches after it while the store's log still holds them, else a
 * snapshot taken at the store's lock, so no commit lands between the snapshot and joining the
 * subscribers. The hub hears of each store joined and left (`subscribe`/`unsubscribe` events).
 *
 * Apart from `connection.ts`, which reads the client's frames and decides what each message
 * is owed: this is what a `hello`'s or a `sub`'s stores become, and what the connection holds
 * of the hub's stores until it closes.
 */
import { ErrorCode, TwinError } from '../src/errors.js';
import type { Hub, HubStore, Subscriber } from './hub.js';

export class Subscriptions {
  private readonly stores = new Set<HubStore>();
  private readonly hub: Hub;
  private readonly subscriber: Subscriber;
  private readonly mayCreate: () => boolean;
  private readonly isClosed: () => boolean;

  /**
   * @param subscriber the connection: what it is sent goes through its `enqueue`
   * @param mayCreate whether the client may create one more family member now (its creation rate)
   * @param isClosed whether the connection closed (a store that loads meanwhile is not joined)
   */
  constructor(hub: Hub, subscriber: Subscriber, mayCreate: () => boolean, isClosed: () => boolean) {
    this.hub = hub;
    this.subscriber = subscriber;
    this.mayCreate = mayCreate;
    this.isClosed = isClosed;
  }

  [Symbol.iterator](): Iterator<HubStore> {
    return this.stores.values();
  }

  /** Subscribes to `name` from version `v` (0: none held), sending what the client missed. */
  async subscribe(name: string, v: number): Promise<void> {
    const store = await this.readable(name);
    // The socket may have closed while the store loaded or `canRead` thought.
    if (this.isClosed()) return;
    const missed = v > 0 ? store.since(v) : undefined;
    if (missed) {
      this.join(store);
      for (const entry of missed) this.subscriber.enqueue(entry.own && entry.client && this.subscriber.owns(entry.client) ? entry.own : entry.public);
      return;
    }
    // A snapshot, written at the store's lock (in slices, for a large store): no commit lands
    // between it and joining the subscribers, and none reaches this client before it.
    store.subscribers.delete(this.subscriber);
    await store.lock.run(async () => {
      const snapshot = await store.snapshot();
      if (this.isClosed()) return;
      this.join(store);
      for (const message of snapshot) this.subscriber.enqueue(message);
    });
  }

  unsubscribe(name: string): void {
    for (const store of this.stores) {
      if (store.name !== name) continue;
      this.stores.delete(store);
      this.leave(store);
    }
  }

  /** Leaves every store (the connection closed). */
  clear(): void {
    for (const store of this.stores) this.leave(store);
    this.stores.clear();
  }

  /** The store `name`, if it exists and this user may read it; a coded error otherwise. */
  async readable(name: string): Promise<HubStore> {
    const { user } = this.subscriber;
    const store = await this.hub.load(name, { user, mayCreate: this.mayCreate });
    if (!store) throw new TwinError(ErrorCode.STORE, `There is no store ${JSON.stringify(name)}.`);
    const canRead = store.def.options.canRead;
    if (canRead && !(await canRead({ user, store: name }))) {
      throw new TwinError(ErrorCode.FORBIDDEN, `You may not read store ${JSON.stringify(name)}.`);
    }
    return store;
  }

  /** Adds the connection to `store`'s subscribers (and says so, the first time). */
  private join(store: HubStore): void {
    store.subscribers.add(this.subscriber);
    if (this.stores.has(store)) return;
    this.stores.add(store);
    this.hub.emit('subscribe', { store: store.name, client: this.subscriber.client, user: this.subscriber.user });
  }

  private leave(store: HubStore): void {
    store.subscribers.delete(this.subscriber);
    this.hub.emit('unsubscribe', { store: store.name, client: this.subscriber.client, user: this.subscriber.user });
  }
}
