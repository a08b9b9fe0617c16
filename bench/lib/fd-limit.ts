// SPDX-License-Identifier: MIT
/**
 * @module fd-limit
 * Open-file headroom for benchmarks with thousands of sockets. Node already raises its soft
 * `RLIMIT_NOFILE` to the hard limit when it starts (and child processes inherit that), so the
 * hard limit is what counts; raising it takes privileges (CAP_SYS_RESOURCE) a benchmark should
 * not assume. What is left to do is to know the limit and size the run to it.
 */
import { execFileSync } from 'node:child_process';

/** Soft and hard limits on open files. */
export interface FileLimits {
  readonly soft: number;
  readonly hard: number;
}

/**
 * The limits on open files of this process, as a shell it starts sees them (`Infinity` for
 * unlimited).
 */
export function fileLimits(): FileLimits {
  const read = (flag: string) => {
    const text = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

/**
 * Whether the hard limit could be raised to `wanted` here: tries it in a throwaway shell
 * (it does not change this process). False without the privilege, as in most containers.
 */
export function canRaiseHardLimit(wanted: number): boolean {
  try {
    execFileSync('/bin/sh', ['-c', `ulimit -Hn ${Math.ceil(wanted)}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
