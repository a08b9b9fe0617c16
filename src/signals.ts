// SPDX-License-Identifier: MIT
/**
 * @module signals
 * The only module that touches the signal implementation (the TC39 `signal-polyfill`, which
 * `@lit-labs/signals` builds on), so it can be swapped for native signals when browsers ship
 * them. Signals from two copies of the polyfill cannot track each other, so the first copy
 * loaded on a page is shared through `globalThis` and later copies use it, with one warning.
 */
import { Signal as LocalSignal } from 'signal-polyfill';
import { DEV_MODE } from './dev.js';

const SHARED = Symbol.for('twin-state.signal');
const globals = globalThis as { [SHARED]?: typeof LocalSignal };

/** The signal namespace every twin-state copy on this page uses. */
export const Signal: typeof LocalSignal = (globals[SHARED] ??= LocalSignal);

if (Signal !== LocalSignal) {
  console.warn(DEV_MODE
    ? '[twin-state] A second copy of twin-state was loaded on this page; it shares the first copy\'s ' +
      'signals and stores. Load one bundle, or let your bundler deduplicate signal-polyfill.'
    : '[twin-state] second copy');
}

/** Called when a signal gains its first watcher or loses its last one. */
export type WatchHook = (watched: boolean) => void;

/**
 * A change counter: `track()` records a dependency for whatever signal consumer is running,
 * `bump()` tells those consumers that something they read has changed.
 */
export interface Tracker {
  track(): void;
  bump(): void;
}

/** A new {@link Tracker}; `onWatch` hears when it gains its first or loses its last watcher. */
export function createTracker(onWatch?: WatchHook): Tracker {
  const state = new Signal.State(0, onWatch && {
    [Signal.subtle.watched]: () => onWatch(true),
    [Signal.subtle.unwatched]: () => onWatch(false),
  });
  return {
    track: () => void state.get(),
    bump: () => state.set(state.get() + 1),
  };
}

/** Whether a signal consumer (a computed, an effect, a Lit render) is reading right now. */
export function isTracking(): boolean {
  return Signal.subtle.currentComputed() !== undefined;
}

/** Runs `fn` without recording dependencies for the running consumer. */
export function untracked<T>(fn: () => T): T {
  return Signal.subtle.untrack(fn);
}

/** A signal whose value is computed from others, re-read lazily. */
export function computed<T>(fn: () => T): InstanceType<typeof Signal.Computed<T>> {
  return new Signal.Computed(fn);
}

/** A plain state signal. */
export function state<T>(value: T): InstanceType<typeof Signal.State<T>> {
  return new Signal.State(value);
}

/**
 * Calls `effect` now and again (in a microtask) each time a signal it read changes, until the
 * returned function is called. Used by elements, which have no Lit render loop to lean on.
 */
export function effect(fn: () => void): () => void {
  let scheduled = false;
  const watcher = new Signal.subtle.Watcher(() => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (!live) return;
      for (const s of watcher.getPending()) s.get();
      watcher.watch();
    });
  });
  let live = true;
  const run = new Signal.Computed(fn);
  watcher.watch(run);
  run.get();
  return () => {
    live = false;
    watcher.unwatch(run);
  };
}
