// SPDX-License-Identifier: MIT
/**
 * @module chat-payload
 * The update every fan-out server carries: a chat message pushed to a room's `messages`, and
 * the exact `sync` text twin broadcasts for it (same fields in the same order), which the
 * plain `ws` servers relay as is.
 */

/** The text of every chat message (the push op is about 100 bytes with it). */
const TEXT = 'on my way, be there in 5';
const USER = 'ada';

/** One chat message, as the app pushes it. `at` is its send time in epoch ms. */
export interface ChatMessage {
  user: string;
  text: string;
  at: number;
}

/** A chat message sent at `at`. */
export function chatMessage(at: number): ChatMessage {
  return { user: USER, text: TEXT, at };
}

/** The push op of `message` (as the twin client sends it). */
export function pushOp(message: ChatMessage): { op: 'push'; path: ['messages']; values: [ChatMessage] } {
  return { op: 'push', path: ['messages'], values: [message] };
}

/** The bytes twin broadcasts for the push that makes version `v` of `store`. */
export function syncText(store: string, v: number, message: ChatMessage): string {
  return JSON.stringify({ t: 'sync', store, v, ops: [pushOp(message)] });
}
