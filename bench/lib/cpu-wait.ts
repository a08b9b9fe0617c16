// SPDX-License-Identifier: MIT
/**
 * @module cpu-wait
 * How long this process's main thread ran, and how long it was ready to run but waited for a
 * core, from Linux's /proc/thread-self/schedstat. A latency tail on two shared cores is often
 * not the server's doing but the time it sat on the run queue behind other processes (the load
 * generator, anything else on the machine); printing the wait beside the tail tells the two apart.
 */
import fs from 'node:fs';

const SCHEDSTAT = '/proc/thread-self/schedstat';

/** Milliseconds run and waited since the call, read when `stop` is called; undefined where Linux's schedstat is missing. */
export function measureCpuWait(): (() => { ranMs: number; waitedMs: number }) | undefined {
  const read = (): number[] | undefined => {
    try {
      return fs.readFileSync(SCHEDSTAT, 'utf8').trim().split(/\s+/).map(Number);
    } catch {
      return undefined;
    }
  };
  const before = read();
  if (!before) return undefined;
  return () => {
    const after = read()!;
    return { ranMs: (after[0]! - before[0]!) / 1e6, waitedMs: (after[1]! - before[1]!) / 1e6 };
  };
}
