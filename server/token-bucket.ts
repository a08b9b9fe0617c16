// SPDX-License-Identifier: MIT
/**
 * @module token-bucket
 * A token bucket: `rate` tokens a second up to `burst`. Rate limits are charged per message:
 * a connection's own bucket, its address's (server/address-limits.ts), and its family-member
 * creations are all one of these.
 */

/** What a rate limit needs: take `count` tokens, or none and say no. */
export interface RateBucket {
  take(count: number): boolean;
}

export class TokenBucket implements RateBucket {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;

  /** A full bucket at `now` (ms; default the clock). */
  constructor(rate: number, burst: number, now: number = Date.now()) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** The tokens there are at `now`, refilled since the last look. */
  available(now: number = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    return this.tokens;
  }

  /** Removes `count` tokens, which {@link available} said are there. */
  spend(count: number): void {
    this.tokens -= count;
  }

  /** Takes `count` tokens; false, taking none, if there are not that many. */
  take(count: number, now: number = Date.now()): boolean {
    if (this.available(now) < count) return false;
    this.spend(count);
    return true;
  }
}
