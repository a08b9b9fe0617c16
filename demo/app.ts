// SPDX-License-Identifier: MIT
/**
 * The demo server's app module, as `twin-state serve --app demo/app.ts` loads it: the app
 * (every store and action, from ./stores) and `setup(server)`, which keeps
 * `chat_room.active_users` equal to the number of tabs reading the chat, and runs the Game of
 * Life while someone watches it.
 */
import type { TwinServer } from 'twin-state/server';
import { $chatRoom, advanceLife } from './stores/index.js';
import { GENERATIONS_PER_SECOND } from './stores/life.js';

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
  await runLife(server);
}

/** The store whose board the server advances. */
const LIFE = 'life';

/**
 * Runs the Game of Life's generations while someone is subscribed to its store, and stops when
 * the last one leaves, so an idle server does no work (and the board waits where it was).
 */
async function runLife(server: TwinServer): Promise<void> {
  const life = await server.hub.load(LIFE);
  if (!life) throw new Error(`The demo app has no store ${JSON.stringify(LIFE)}.`);
  let timer: ReturnType<typeof setInterval> | undefined;
  // A throw in a timer would end the process: a generation that fails is logged and skipped.
  const step = (): void => {
    try {
      advanceLife();
    } catch (err) {
      console.error('The Game of Life could not advance:', err);
    }
  };
  const check = (event: { store?: string }): void => {
    if (event.store !== LIFE) return;
    if (life.subscribers.size > 0 && !timer) {
      timer = setInterval(step, 1000 / GENERATIONS_PER_SECOND);
      timer.unref(); // never what keeps the process alive
    } else if (life.subscribers.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  server.on('subscribe', check);
  server.on('unsubscribe', check);
}
