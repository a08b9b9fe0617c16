// SPDX-License-Identifier: MIT
/** How this browser shows the demo: theme and sidebar, kept in localStorage. */
import { app } from './app.js';

export type Theme = 'light' | 'dark';

export const $uiState = app.local(function ui_state() {
  return { theme: 'light' as Theme, sidebar_open: false };
}, { persist: 'local' });
