// SPDX-License-Identifier: MIT
/**
 * @module memory-storage
 * The browser's `localStorage` and Web Locks, in memory, for node tests of the outbox: keys
 * iterate in the order they were set, and a lock is held until its callback's promise settles.
 */
import type { Locks } from '../../src/outbox.js';

/** A `Storage` in memory (the browser's localStorage, as the outbox uses it). */
export class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  clear(): void {
    this.items.clear();
  }
}

/** `navigator.locks` in memory: exclusive locks by name, `ifAvailable` or queued. */
export class MemoryLocks implements Locks {
  private readonly held = new Set<string>();
  private readonly queued: { name: string; grant: () => void }[] = [];

  async request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown> {
    if (this.held.has(name)) {
      if (options.ifAvailable) return callback(null);
      await new Promise<void>((grant) => this.queued.push({ name, grant }));
    }
    this.held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.held.delete(name);
      const next = this.queued.findIndex((q) => q.name === name);
      if (next >= 0) this.queued.splice(next, 1)[0]!.grant();
    }
  }

  async query(): Promise<{ held: { name: string }[]; pending: { name: string }[] }> {
    return { held: [...this.held].map((name) => ({ name })), pending: this.queued.map(({ name }) => ({ name })) };
  }
}
