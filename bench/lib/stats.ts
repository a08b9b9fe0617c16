// SPDX-License-Identifier: MIT
/**
 * @module stats
 * Small statistics for benchmarks: median and percentiles (linear interpolation between the
 * two closest ranks, as numpy's default), and a summary of a sample.
 */

/**
 * The `p`-th percentile (0–100) of `values`, interpolating between the closest ranks.
 * `NaN` for an empty sample. `values` is not reordered.
 *
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2.5
 * ```
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (p < 0 || p > 100 || Number.isNaN(p)) throw new RangeError(`The percentile must be between 0 and 100, not ${JSON.stringify(p)}.`);
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

/** Like {@link percentile} over an ascending sample (no copy, no sort). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (p / 100) * (n - 1);
  const low = Math.floor(rank);
  const high = Math.min(n - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** The median of `values` (`NaN` for an empty sample). */
export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/** What a latency sample is usually quoted by. */
export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Count, min, p50, p99, max and mean of `values` (NaN fields for an empty sample). */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const count = sorted.length;
  return {
    count,
    min: count ? sorted[0]! : Number.NaN,
    p50: percentileOfSorted(sorted, 50),
    p99: percentileOfSorted(sorted, 99),
    max: count ? sorted[count - 1]! : Number.NaN,
    mean: count ? sum / count : Number.NaN,
  };
}
