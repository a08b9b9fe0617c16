// SPDX-License-Identifier: MIT
/**
 * The counter demo: one shared score. Its schema makes the server refuse a score that is not a
 * whole number ≥ 0, so a refused write (rolled back on screen, with the reason) can be shown.
 */
import * as v from 'valibot';
import { increment } from 'twin-state';
import { app } from './app.js';

export const GameStateSchema = v.object({
  score: v.pipe(
    v.number('The score must be a number.'),
    v.integer('The score must be a whole number.'),
    v.minValue(0, 'The score cannot be negative.'),
  ),
});

// Clients may set the score themselves (the page's number field does): its rule is the schema,
// which the server checks on every write, whoever makes it.
export const $gameState = app.shared('game_state', () => ({ score: 0 }), { schema: GameStateSchema });

/** +1, as a commutative add: when many people click at once, every click counts. */
export const scorePoint = app.action(function score_point() {
  increment($gameState, 'score');
}, { optimistic: true });
