// SPDX-License-Identifier: MIT
/**
 * @module listeners
 * Who hears a replica's changes (`subscribe()`), each on its own: a listener that throws is
 * reported as a browser reports an event listener's error, and must not stop the others, nor
 * what made the change (a hub commit that still has to broadcast, a frame's next message).
 */
export class Listeners<T> {
  private readonly _set = new Set<(value: T) => void>();

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (value: T) => void): () => void {
    this._set.add(listener);
    return () => void this._set.delete(listener);
  }

  /** Calls every listener (those added now, not those a listener adds) with `value`. */
  emit(value: T): void {
    for (const listener of [...this._set]) {
      try {
        listener(value);
      } catch (err) {
        reportListenerError(err);
      }
    }
  }
}

/**
 * Reports an error thrown by a listener as a browser reports one thrown by an event listener
 * (an `error` event on the window, and the console); in Node, on the console.
 */
function reportListenerError(err: unknown): void {
  const report = (globalThis as { reportError?: (err: unknown) => void }).reportError;
  if (report) report(err);
  else console.error('[twin-state] A subscriber threw:', err);
}
