// SPDX-License-Identifier: MIT
/**
 * @module logger
 * Where the server says what an operator must know (a refused connection, a misconfiguration),
 * at a rate no client can turn into a flood: each message key is logged at most once per
 * interval, and the next line for that key says how many were left out. Keys are fixed by
 * the server (`origin`, `auth`…), never taken from the request, so varying a header cannot
 * buy an attacker a fresh line.
 */

/** What the server logs to: `console` by default, or an app's own logger (pino, winston...). */
export interface Logger {
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** How often one message key may be logged, by default. */
export const DEFAULT_LOG_INTERVAL_MS = 60_000;
/** Keys remembered at most; past that, the ones logged longest ago are forgotten. */
const MAX_KEYS = 1_000;

interface KeyState {
  /** When the key was last logged. */
  at: number;
  /** Lines for the key left out since. */
  skipped: number;
}

/**
 * A {@link Logger} that logs each key at most once per `intervalMs`.
 *
 * ```ts
 * const log = new RateLimitedLogger(console);
 * log.warn('origin', 'Refused a WebSocket from https://evil.example.');
 * log.warn('origin', 'Refused a WebSocket from https://evil2.example.'); // left out, counted
 * ```
 */
export class RateLimitedLogger {
  readonly logger: Logger;
  readonly intervalMs: number;
  private readonly keys = new Map<string, KeyState>();

  constructor(logger: Logger = console, intervalMs: number = DEFAULT_LOG_INTERVAL_MS) {
    if (typeof logger?.warn !== 'function' || typeof logger.error !== 'function') {
      throw new TypeError('The "logger" option must have warn() and error() methods.');
    }
    this.logger = logger;
    this.intervalMs = intervalMs;
  }

  /** Logs `message` as a warning unless `key` was logged within the interval; true if logged. */
  warn(key: string, message: string, ...rest: unknown[]): boolean {
    return this.log('warn', key, message, rest);
  }

  /** Logs `message` as an error unless `key` was logged within the interval; true if logged. */
  error(key: string, message: string, ...rest: unknown[]): boolean {
    return this.log('error', key, message, rest);
  }

  private log(level: 'warn' | 'error', key: string, message: string, rest: unknown[]): boolean {
    const now = Date.now();
    const state = this.keys.get(key);
    if (state && now - state.at < this.intervalMs) {
      state.skipped++;
      return false;
    }
    const skipped = state?.skipped ?? 0;
    this.keys.delete(key); // re-inserted last: the map's order is the order of logging
    this.keys.set(key, { at: now, skipped: 0 });
    if (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    const suffix = skipped ? ` (${skipped} more like this since the last one was logged)` : '';
    try {
      this.logger[level](`[twin-state] ${message}${suffix}`, ...rest);
    } catch {
      // A logger that throws must not turn a refused connection into a crash.
    }
    return true;
  }
}
