// SPDX-License-Identifier: MIT
/**
 * Who I am: kept in this browser (localStorage, the same in every tab), never sent to other
 * users; mirrored to a cookie so the server renders the name in the first paint. The schema
 * is what the server checks that cookie against (it is the request's, so untrusted).
 */
import * as v from 'valibot';
import { app } from './app.js';

export const $playerState = app.local('player_state', () => ({ name: '' }), {
  persist: 'local',
  cookie: true,
  schema: v.object({ name: v.pipe(v.string(), v.maxLength(40)) }),
});
