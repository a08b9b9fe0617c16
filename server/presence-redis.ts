// SPDX-License-Identifier: MIT
/**
 * @module presence-redis
 * Presence across server nodes on one Redis: a pub/sub channel (`<prefix>presence`) every node
 * publishes its peers' changes to and hears the others' on. Pub/sub keeps nothing and may drop
 * a message (a node reconnecting): each node also sends all its peers now and then, and drops
 * peers of a node that stopped doing so (`presence.ts`). Nothing is written to keys, so presence
 * never outlives the nodes that hold it and costs Redis no memory.
 */
import { debuglog } from 'node:util';
import type { PresenceBus } from './presence.js';

const debug = debuglog('twin:server');

/** A presence bus that can be closed (its two Redis connections). */
export interface RedisPresenceBus extends PresenceBus {
  close(): Promise<void>;
}

/**
 * Connects to the Redis at `url` and resolves to the bus that carries presence between every
 * node using the same Redis and `prefix` (default `'twin:'`, as the storage's). Pass it as
 * `twin(app, { presence: { bus } })`; close it after the server.
 *
 * ```ts
 * const bus = await createRedisPresenceBus('redis://127.0.0.1:6379');
 * const server = twin(app, { storage, presence: { bus } });
 * ```
 */
export async function createRedisPresenceBus(url: string, options: { prefix?: string; onIgnoredError?: (err: unknown) => void } = {}): Promise<RedisPresenceBus> {
  // (`redis` is an optional dependency: imported only when a bus is made.)
  const { createClient } = await import('redis');
  // The storage's default prefix (`storage-redis.ts`), not imported: that would load `redis`.
  const channel = `${options.prefix ?? 'twin:'}presence`;
  const onError = options.onIgnoredError ?? ((err: unknown) => debug('presence bus: %o', err));
  // A subscribed connection can run no other command: one to publish, one to listen.
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate();
  publisher.on('error', onError);
  subscriber.on('error', onError);
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const listeners = new Set<(message: string) => void>();
  await subscriber.subscribe(channel, (message) => {
    for (const listener of listeners) {
      try {
        listener(message);
      } catch (err) {
        onError(err);
      }
    }
  });
  return {
    publish(message) {
      // Fire and forget: a lost message is repaired by the next refresh.
      if (publisher.isReady) publisher.publish(channel, message).catch(onError);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      await Promise.allSettled([subscriber.quit(), publisher.quit()]);
    },
  };
}
