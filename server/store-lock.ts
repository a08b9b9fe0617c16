// SPDX-License-Identifier: MIT
/**
 * @module store-lock
 * One FIFO lock per store: commits to a store happen one at a time, in arrival order, while
 * commits to other stores go on beside them (a slow schema check or action on store X never
 * delays store Y). Work that needs several stores (an action) takes their locks in one fixed
 * order — by store name — so two such tasks can never wait for each other.
 */

/** A FIFO mutex. */
export class Lock {
  private tail: Promise<void> = Promise.resolve();
  /** Tasks holding or waiting for the lock. */
  waiting = 0;

  /** Resolves, once every earlier holder released it, to the function that releases it. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const turn = this.tail.then(() => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        this.waiting--;
        release();
      };
    });
    this.tail = this.tail.then(() => released);
    this.waiting++;
    return turn;
  }

  /** Runs `task` holding the lock. */
  async run<T>(task: () => T | Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }
}

/** Something that has a lock and a name to order it by. */
export interface Lockable {
  readonly name: string;
  readonly lock: Lock;
}

/**
 * Takes the locks of `items` in name order (each once), runs `task`, and releases them all,
 * whatever `task` does.
 */
export async function withLocks<T>(items: Iterable<Lockable>, task: () => T | Promise<T>): Promise<T> {
  const sorted = [...new Set(items)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const releases: (() => void)[] = [];
  try {
    for (const item of sorted) releases.push(await item.lock.acquire());
    return await task();
  } finally {
    for (const release of releases.reverse()) release();
  }
}
