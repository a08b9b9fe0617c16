// SPDX-License-Identifier: MIT
/** The chat demo: one shared room, everybody's messages, and how many people are reading it. */
import { app, UserError } from './app.js';

export interface Message {
  text: string;
  author: string;
  /** When the server received it, in ms since the epoch. */
  at: number;
}

/** Longest message accepted, in characters. */
export const MAX_MESSAGE_LENGTH = 500;
/** Messages kept; older ones are dropped as new ones arrive. */
export const MAX_MESSAGES = 200;
/** Longest author name kept, in characters. */
export const MAX_AUTHOR_LENGTH = 40;
/** Who wrote a message sent without a name. */
export const ANONYMOUS = 'anonymous';

// The room's rules (length, author, the server's clock) live in send_msg: clients change the
// room only through it, never with ops of their own (which could wipe it, or post as anyone).
export const $chatRoom = app.shared(function chat_room() {
  return {
    messages: [] as Message[],
    /** Tabs reading the room now; kept by the server (see demo/app.ts). */
    active_users: 0,
  };
}, { clientWrites: false });

/**
 * A message from what a user typed: trimmed, stamped, and refused (with a reason the sender
 * sees) when empty or longer than {@link MAX_MESSAGE_LENGTH}.
 */
export function newMessage(text: unknown, author: unknown): Message {
  const message = typeof text === 'string' ? text.trim() : '';
  if (message === '') throw new UserError('Type a message first.');
  if (message.length > MAX_MESSAGE_LENGTH) {
    throw new UserError(`A message may have at most ${MAX_MESSAGE_LENGTH} characters (this one has ${message.length}).`);
  }
  const name = (typeof author === 'string' ? author.trim() : '').slice(0, MAX_AUTHOR_LENGTH) || ANONYMOUS;
  return { text: message, author: name, at: Date.now() };
}

/** Appends `message` to `messages`, dropping the oldest beyond {@link MAX_MESSAGES}. */
export function appendMessage(messages: Message[], message: Message): void {
  messages.push(message);
  const extra = messages.length - MAX_MESSAGES;
  if (extra > 0) messages.splice(0, extra);
}

/** Posts a message to the room. */
export const sendMsg = app.action(function send_msg(text: string, author: string) {
  appendMessage($chatRoom.messages, newMessage(text, author));
});
