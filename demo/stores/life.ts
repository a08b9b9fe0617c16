// SPDX-License-Identifier: MIT
/**
 * The Game of Life demo: one shared 50×50 board that the server advances 5 times a second
 * (demo/app.ts runs {@link advanceLife} on a timer while someone is watching), and that any
 * visitor changes with the `toggle_cell` action.
 *
 * The store's shape is chosen for the wire. The board is a keyframe plus the flips since:
 * `base` is the board as a string of 2,500 '0'/'1' characters, and `flips` a list of cell
 * lists, each one generation's changed cells (or one visitor's toggle); the board is `base`
 * with every listed cell flipped. So a generation is ONE `push` op, and every
 * {@link KEYFRAME_EVERY} lists the server folds them into a new `base`. A list holds its first
 * cell, then the distance from each cell to the next (`[1207, 1, 48, 2]` is 1207, 1208, 1256,
 * 1258): a glider or the gun changes the same shape of cells from one generation to the next,
 * so the distances repeat where the cells' numbers do not, and deflate finds them.
 *
 * Measured on the demo's boards while its soup is still busy (~85 cells change per
 * generation; permessage-deflate with the server's 4 KB window), bytes per generation:
 * ~95 this way, ~135 with the cells' own numbers, and ~300 as a flat array of 2,500 0/1 numbers
 * with a `set` per changed cell (`{"op":"set","path":["cells",1207],"value":1}`), whose
 * every op repeats its frame around the index.
 */
import { increment, snapshot } from 'twin-state';
import { app, UserError } from './app.js';
import { CELLS, changedCells, nextGeneration, seedBoard } from './life-rules.js';

/** Flip lists kept before they are folded into a new `base` (a late joiner's snapshot grows with it). */
export const KEYFRAME_EVERY = 60;
/** Generations per second the server runs (demo/app.ts). */
export const GENERATIONS_PER_SECOND = 5;

/** The store's value. */
export interface LifeState {
  /** Generations run since the board was seeded. */
  gen: number;
  /** The board at the last keyframe: 2,500 characters, '1' alive, row by row. */
  base: string;
  /** Cell lists flipped since the keyframe, oldest first; each is its first cell, then distances. */
  flips: number[][];
}

/** A board as the store's `base` string. */
export function boardText(cells: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < CELLS; i++) text += cells[i] ? '1' : '0';
  return text;
}

/** A list of cells (ascending) as `flips` holds it: the first, then the distance to each next one. */
export function gaps(cells: readonly number[]): number[] {
  return cells.map((cell, i) => (i === 0 ? cell : cell - cells[i - 1]!));
}

/** The board a store value stands for: `base` with every listed cell flipped. */
export function boardOf(state: { readonly base: string; readonly flips: readonly (readonly number[])[] }): Uint8Array {
  const cells = new Uint8Array(CELLS);
  for (let i = 0; i < CELLS; i++) cells[i] = state.base.charCodeAt(i) === 49 ? 1 : 0;
  for (const list of state.flips) {
    let cell = 0;
    for (const step of list) cells[(cell += step)]! ^= 1;
  }
  return cells;
}

/** The value a board starts from (seeded, so every server starts from the same one). */
export function initialLife(): LifeState {
  return { gen: 0, base: boardText(seedBoard()), flips: [] };
}

// The rules (what a toggle may do) live in toggle_cell: clients never write the board themselves.
export const $life = app.shared('life', initialLife, { clientWrites: false });

/**
 * Runs one generation as server code: one `push` of the cells that changed and a commutative
 * `add` to `gen` (a constant op, which compresses to almost nothing), or, every
 * {@link KEYFRAME_EVERY} lists, a new `base` and empty `flips`.
 */
export function advanceLife(): void {
  const before = boardOf(snapshot($life));
  const after = nextGeneration(before);
  increment($life, 'gen');
  if ($life.flips.length >= KEYFRAME_EVERY) {
    $life.base = boardText(after);
    $life.flips = [];
  } else {
    const changed = changedCells(before, after);
    if (changed.length > 0) $life.flips.push(gaps(changed));
  }
}

/** Flips cell `index` (0 to 2,499, row by row), alive to dead or dead to alive. */
export const toggleCell = app.action(function toggle_cell(index: number) {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= CELLS) {
    throw new UserError(`A cell is a whole number from 0 to ${CELLS - 1}, not ${JSON.stringify(index)}.`);
  }
  $life.flips.push([index]);
});
