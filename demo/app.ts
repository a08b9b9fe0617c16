// SPDX-License-Identifier: MIT
/**
 * The demo server's app module, as `twin-state serve --app demo/app.ts` loads it: the app
 * (every store and action, from ./stores) and `setup(server)`, which keeps
 * `chat_room.active_users` equal to the number of tabs reading the chat.
 */
import type { TwinServer } from 'twin-state/server';
import { $chatRoom } from './stores/index.js';

export { app } from './stores/index.js';

/** The store whose readers are counted. */
const CHAT_ROOM = 'chat_room';

/** Called by `twin-state serve` once the stores are loaded, before the server listens. */
export async function setup(server: TwinServer): Promise<void> {
  const chat = await server.hub.load(CHAT_ROOM);
  if (!chat) throw new Error(`The demo app has no store ${JSON.stringify(CHAT_ROOM)}.`);
  const count = (): void => {
    const readers = chat.subscribers.size;
    // A write of an equal value would be a no-op anyway; skipping it also skips a read.
    if ($chatRoom.active_users !== readers) $chatRoom.active_users = readers;
  };
  // Storage is durable: the count saved by the last run is stale, and nobody is connected yet.
  count();
  const onChange = (event: { store?: string }): void => {
    if (event.store === CHAT_ROOM) count();
  };
  server.on('subscribe', onChange);
  server.on('unsubscribe', onChange);
}
