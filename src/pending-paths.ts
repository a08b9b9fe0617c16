// SPDX-License-Identifier: MIT
/**
 * @module pending-paths
 * Which values of a replica's view a pending (unconfirmed) batch writes: the ones at, inside or
 * above an op's path. Pending batches lie on top of the confirmed state (see `replica.ts`), so
 * a `push` lands at the end of its list: of that list's items, only the last ones are pending,
 * not the ones before them (a chat's queued message, not the whole chat).
 */
import type { Json, Path } from './json.js';
import type { Op } from './ops.js';

/**
 * Whether an op of `pending` touches the value at `path` of `root` (the view). `readList` is
 * told of each list whose length the answer depends on (to track it).
 */
export function touches(pending: readonly { readonly ops: readonly Op[] }[], root: Json, path: Path, readList: (list: Json[]) => void): boolean {
  // Items pushed per list (by the list's path): several queued pushes are the last items together.
  const pushed = new Map<string, [Path, number]>();
  for (const { ops } of pending) {
    for (const op of ops) {
      if (op.op === 'push' && op.path.length < path.length && startsWith(path, op.path)) {
        const key = JSON.stringify(op.path);
        const count = pushed.get(key)?.[1] ?? 0;
        pushed.set(key, [op.path, count + op.values.length]);
      } else if (startsWith(path, op.path) || startsWith(op.path, path)) return true;
    }
  }
  return [...pushed.values()].some(([list, count]) => {
    let at: unknown = root;
    for (const key of list) at = (at as Record<string, unknown> | undefined)?.[key];
    if (!Array.isArray(at)) return false;
    readList(at as Json[]);
    return Number(path[list.length]) >= at.length - count;
  });
}

/** Whether `path` begins with `prefix` (keys compared as the text they name). */
function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((key, i) => String(key) === String(path[i]));
}
