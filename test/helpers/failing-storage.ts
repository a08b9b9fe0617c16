// SPDX-License-Identifier: MIT
/**
 * @module failing-storage
 * Fault injection in our own storage adapter: a real adapter (memory, SQLite...) whose
 * `append` rejects, changing nothing, while the test says the disk is failing — the way a full
 * disk or a lost database connection looks to the hub. Every other method, and `append` once
 * the failure is over, is the real adapter's. A test can also hold appends at the door (to see
 * how many arrive at once) and fail chosen ones, before or after they wrote.
 */
import type { StorageAdapter } from '../../server/index.js';

/** A storage adapter whose appends can be made to fail. */
export interface FailingStorage {
  /** The adapter to give `twin(app, { storage })`. */
  readonly storage: StorageAdapter;
  /** While true, every `append` rejects without writing anything. */
  failing: boolean;
  /** Appends refused so far, appends that went through, and appends that wrote but failed to say so. */
  readonly refused: number;
  readonly appended: number;
  readonly wroteButFailed: number;
  /** While true, appends wait at the door (in order) until it is set false again. */
  holding: boolean;
  /** Appends waiting at the door now. */
  readonly atTheDoor: number;
  /**
   * Fails the next append whose batch ids include `id`: `before` it writes (nothing stored), or
   * `after` (stored, but the caller hears an error: a connection lost before the answer).
   */
  failOnce(id: string, when: 'before' | 'after'): void;
  /** Fails the `n`th append from now (1: the next one), `before` or `after` it writes. */
  failNth(n: number, when: 'before' | 'after'): void;
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
  let wroteButFailed = 0;
  let door: { opened: Promise<void>; open: () => void } | undefined;
  let atTheDoor = 0;
  const faults = new Map<string, 'before' | 'after'>();
  /** Faults by the number of the append they hit. */
  const nth = new Map<number, 'before' | 'after'>();
  let calls = 0;
  const control = {
    failing: false,
    get refused() {
      return refused;
    },
    get appended() {
      return appended;
    },
    get wroteButFailed() {
      return wroteButFailed;
    },
    get holding() {
      return door !== undefined;
    },
    set holding(hold: boolean) {
      if (hold && !door) {
        let open!: () => void;
        door = { opened: new Promise<void>((resolve) => (open = resolve)), open };
      } else if (!hold && door) {
        door.open();
        door = undefined;
      }
    },
    get atTheDoor() {
      return atTheDoor;
    },
    failOnce(id: string, when: 'before' | 'after') {
      faults.set(id, when);
    },
    failNth(n: number, when: 'before' | 'after') {
      nth.set(calls + n, when);
    },
  } as FailingStorage & { storage: StorageAdapter };
  const append: StorageAdapter['append'] = async (parts, client) => {
    // Parts are read now: a caller may reuse its objects once the append is under way.
    const fault = parts.map((p) => p.batch.id).find((id) => id !== undefined && faults.has(id));
    const call = ++calls;
    const when = fault === undefined ? nth.get(call) : faults.get(fault);
    if (fault !== undefined) faults.delete(fault);
    nth.delete(call);
    while (door) {
      atTheDoor++;
      await door.opened.finally(() => atTheDoor--);
    }
    if (control.failing || when === 'before') {
      refused++;
      throw new Error(STORAGE_FAILURE_MESSAGE);
    }
    const written = inner.append(parts, client);
    if (when === 'after') {
      await written;
      wroteButFailed++;
      throw new Error(STORAGE_FAILURE_MESSAGE);
    }
    await written;
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
