// SPDX-License-Identifier: MIT
/**
 * How this browser shows the demo: theme and sidebar, kept in localStorage (the same in every
 * tab); mirrored to a cookie so the server renders the theme in the first paint (no flash).
 * The schema is what the server checks that cookie against (it is the request's, so untrusted).
 */
import * as v from 'valibot';
import { app } from './app.js';

export type Theme = 'light' | 'dark';

export const $uiState = app.local('ui_state', () => ({ theme: 'light' as Theme, sidebar_open: false }), {
  persist: 'local',
  cookie: true,
  schema: v.object({ theme: v.picklist(['light', 'dark']), sidebar_open: v.boolean() }),
});
