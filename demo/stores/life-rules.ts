// SPDX-License-Identifier: MIT
/**
 * Conway's Game of Life on a bounded 50×50 board (cells past the edge are dead), as plain
 * functions with no twin-state in them: the life store (./life.ts) runs them on the server and
 * bench/wire.ts replays the same boards. A board is a flat array of 2,500 cells, 0 or 1, row
 * by row (cell `row * SIZE + col`).
 *
 * Bounded rather than a torus: on a torus the gun's gliders would come round and wreck it.
 */

/** Cells per side. */
export const SIZE = 50;
/** Cells on the board. */
export const CELLS = SIZE * SIZE;
/**
 * The seed of the demo's board (and of the bench's), picked by running seeds 1–60: with this
 * one the gun is whole after 20,000 generations, and the soup stays busy until about
 * generation 630 (before, the board repeats every 30 generations, the gun's period).
 */
export const DEFAULT_SEED = 31;

/** The generation after `cells`. */
export function nextGeneration(cells: ArrayLike<number>): Uint8Array {
  const next = new Uint8Array(CELLS);
  for (let row = 0; row < SIZE; row++) {
    for (let col = 0; col < SIZE; col++) {
      let around = 0;
      for (let dr = -1; dr <= 1; dr++) {
        const r = row + dr;
        if (r < 0 || r >= SIZE) continue;
        for (let dc = -1; dc <= 1; dc++) {
          const c = col + dc;
          if ((dr !== 0 || dc !== 0) && c >= 0 && c < SIZE) around += cells[r * SIZE + c]!;
        }
      }
      const alive = cells[row * SIZE + col] === 1;
      next[row * SIZE + col] = around === 3 || (alive && around === 2) ? 1 : 0;
    }
  }
  return next;
}

/** The cells that differ between two boards, ascending. */
export function changedCells(before: ArrayLike<number>, after: ArrayLike<number>): number[] {
  const changed: number[] = [];
  for (let i = 0; i < CELLS; i++) if (before[i] !== after[i]) changed.push(i);
  return changed;
}

/** Gosper's glider gun (36×9, period 30), shooting a glider down and to the right. */
const GUN = [
  '........................O...........',
  '......................O.O...........',
  '............OO......OO............OO',
  '...........O...O....OO............OO',
  'OO........O.....O...OO..............',
  'OO........O...O.OO....O.O...........',
  '..........O.....O.......O...........',
  '...........O...O....................',
  '............OO......................',
];
/** An eater (a still life that eats gliders), so the gun's gliders never pile up. */
const EATER = [
  'OO..',
  'O.O.',
  '..O.',
  '..OO',
];

/** Where the gun and its eater sit (top-left cell, row then column): the eater where it eats each glider whole. */
export const GUN_AT = [1, 1] as const;
export const EATER_AT = [12, 26] as const;
/** The soup: a random square, with the density of its live cells. */
const SOUP_AT = [26, 2] as const;
const SOUP_SIZE = 22;
const SOUP_DENSITY = 0.35;

/** A small seeded PRNG (mulberry32), so a seed gives the same soup everywhere. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw(cells: number[], pattern: readonly string[], [top, left]: readonly [number, number]): void {
  pattern.forEach((line, r) => {
    for (let c = 0; c < line.length; c++) if (line[c] === 'O') cells[(top + r) * SIZE + left + c] = 1;
  });
}

/** The starting board: the gun and its eater at the top, a soup from `seed` below. */
export function seedBoard(seed = DEFAULT_SEED): number[] {
  const cells: number[] = new Array<number>(CELLS).fill(0);
  draw(cells, GUN, GUN_AT);
  draw(cells, EATER, EATER_AT);
  const next = random(seed);
  for (let r = 0; r < SOUP_SIZE; r++) {
    for (let c = 0; c < SOUP_SIZE; c++) if (next() < SOUP_DENSITY) cells[(SOUP_AT[0] + r) * SIZE + SOUP_AT[1] + c] = 1;
  }
  return cells;
}

/** Whether the gun is whole and in its first phase (it is every 30 generations). */
export function gunIntact(cells: ArrayLike<number>): boolean {
  return GUN.every((line, r) => [...line].every((ch, c) => cells[(GUN_AT[0] + r) * SIZE + GUN_AT[1] + c] === (ch === 'O' ? 1 : 0)));
}
