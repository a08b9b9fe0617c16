// SPDX-License-Identifier: MIT
/**
 * @module token-bucket
 * A token bucket: `rate` tokens a second up to `burst`. Rate limits are charged per message.
 */

/** What a rate limit needs: take `count` tokens, or none and say no. */
export interface RateBucket {
  take(count: number): boolean;
}

export class TokenBucket implements RateBucket {
  private tokens: number;
  private last = Date.now();
  private readonly rate: number;
  private readonly burst: number;

  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Takes `count` tokens; false, taking none, if there are not that many. */
  take(count: number): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }
}
