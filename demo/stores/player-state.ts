// SPDX-License-Identifier: MIT
/** Who I am: kept in this browser only (localStorage), never sent to other users. */
import { app } from './app.js';

export const $playerState = app.local(function player_state() {
  return { name: '' };
}, { persist: 'local' });
