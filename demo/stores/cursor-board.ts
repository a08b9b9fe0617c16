// SPDX-License-Identifier: MIT
/**
 * The cursors demo (demo/cursors.html): a board whose live content is presence alone — each
 * visitor's pointer, name and colour, kept by the server in memory and never stored. The store
 * itself only gives that presence a place (a page must read a store to see its peers), so it
 * holds a title, is written by nobody and persisted nowhere.
 */
import { app } from './app.js';

export const $cursorBoard = app.shared('cursor_board', () => ({ title: 'Shared board' }), { clientWrites: false, persist: false });
