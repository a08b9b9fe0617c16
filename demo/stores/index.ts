// SPDX-License-Identifier: MIT
/** Every store and action of the demo (importing this module defines them all on `app`). */
export { app } from './app.js';
export { $chatRoom, sendMsg } from './chat-room.js';
export type { Message } from './chat-room.js';
export { $gameState, scorePoint } from './game-state.js';
export { $playerState } from './player-state.js';
export { $uiState } from './ui-state.js';
export type { Theme } from './ui-state.js';
export { $room, sendRoomMsg } from './room.js';
export { $life, advanceLife, toggleCell } from './life.js';
export { $cursorBoard } from './cursor-board.js';
