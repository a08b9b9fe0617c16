// SPDX-License-Identifier: MIT
/**
 * The rooms demo: a store family, one chat room per id (`room/general`, `room/random`...),
 * each created from `init(id)` the first time someone opens it.
 */
import { app } from './app.js';
import { appendMessage, newMessage } from './chat-room.js';
import type { Message } from './chat-room.js';

export const $room = app.shared('room', (id: string) => ({ name: id, messages: [] as Message[] }), { family: true });

/**
 * Posts a message to room `room`. The hub loads family members lazily, when someone opens
 * them (a subscription or a rendered page); a room nobody has opened since the server started
 * is refused with the hub's "not loaded yet" error.
 */
export const sendRoomMsg = app.action(function send_room_msg(room: string, text: string, author: string) {
  appendMessage($room(room).messages, newMessage(text, author));
});
