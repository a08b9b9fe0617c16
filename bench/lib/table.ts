// SPDX-License-Identifier: MIT
/**
 * @module table
 * Plain-text tables for benchmark output: columns sized to their widest cell, numbers
 * right-aligned, text left-aligned, and number formatting helpers.
 */

/** A cell: text is left-aligned, a number is formatted with {@link formatNumber} and right-aligned. */
export type Cell = string | number;

/**
 * Renders `rows` under `headers` as aligned text with a rule under the header.
 *
 * ```ts
 * console.log(renderTable(['server', 'msg/s'], [['twin', 123456]]));
 * // server  msg/s
 * // ------  -------
 * // twin    123,456
 * ```
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const right = headers.map((_, i) => rows.some((row) => typeof row[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

/** Prints a table (see {@link renderTable}) to stdout. */
export function printTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  console.log(renderTable(headers, rows));
}

/**
 * A number for humans: thousands separators for large values, up to `digits` decimals for
 * small ones, `-` for NaN.
 */
export function formatNumber(value: number, digits = 2): string {
  if (Number.isNaN(value)) return '-';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(Math.min(digits, 1));
  return value.toFixed(digits);
}

/** A ratio as `1.23x` (`-` when either side is missing). */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-';
}
