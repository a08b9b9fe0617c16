// SPDX-License-Identifier: MIT
/**
 * @module failing-storage
 * Fault injection in our own storage adapter: a real adapter (memory, SQLite...) whose
 * `append` rejects, changing nothing, while the test says the disk is failing — the way a full
 * disk or a lost database connection looks to the hub. Every other method, and `append` once
 * the failure is over, is the real adapter's.
 */
import type { StorageAdapter } from '../../server/index.js';

/** A storage adapter whose appends can be made to fail. */
export interface FailingStorage {
  /** The adapter to give `twin(app, { storage })`. */
  readonly storage: StorageAdapter;
  /** While true, every `append` rejects without writing anything. */
  failing: boolean;
  /** Appends refused so far, and appends that went through. */
  readonly refused: number;
  readonly appended: number;
}

/** What a failing append rejects with: a plain backend error, as a driver raises it (not a TwinError). */
export const STORAGE_FAILURE_MESSAGE = 'SQLITE_IOERR: disk I/O error (injected by the test)';

/**
 * Wraps `inner` so that its `append` fails while `failing` is set.
 *
 * ```ts
 * const disk = failingStorage(createMemoryStorage());
 * const server = twin(app, { storage: disk.storage });
 * disk.failing = true;   // appends reject from now on
 * ```
 */
export function failingStorage(inner: StorageAdapter): FailingStorage {
  let refused = 0;
  let appended = 0;
  const control = {
    failing: false,
    get refused() {
      return refused;
    },
    get appended() {
      return appended;
    },
  } as FailingStorage & { storage: StorageAdapter };
  const append: StorageAdapter['append'] = async (parts, client) => {
    if (control.failing) {
      refused++;
      throw new Error(STORAGE_FAILURE_MESSAGE);
    }
    await inner.append(parts, client);
    appended++;
  };
  control.storage = new Proxy(inner, {
    get(target, key) {
      if (key === 'append') return append;
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return control;
}
