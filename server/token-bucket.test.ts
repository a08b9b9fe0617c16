// SPDX-License-Identifier: MIT
/**
 * @module token-bucket.test
 * The token bucket behind every rate limit (server/token-bucket.ts). A mutant that stopped
 * capping the bucket at `burst` survived the whole suite (issue 17): a client idle for a while
 * could then send a flood as large as its idle time allowed. These tests use real time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { TokenBucket } from './token-bucket.js';

/** Long enough at {@link FAST_RATE} to refill far more than the burst, if nothing capped it. */
const IDLE_MS = 100;
/** Tokens a second: 100 ms of idling is worth about 10 of them, more than three bursts. */
const FAST_RATE = 100;
const BURST = 3;

describe('TokenBucket', () => {
  it('starts full: a burst passes, the next message does not', () => {
    const bucket = new TokenBucket(1, BURST);
    for (let i = 0; i < BURST; i++) assert.equal(bucket.take(1), true, `message ${i + 1} of the burst`);
    assert.equal(bucket.take(1), false);
  });

  it('never holds more than the burst, however long it stays idle', async () => {
    const bucket = new TokenBucket(FAST_RATE, BURST);
    await delay(IDLE_MS);
    assert.equal(bucket.take(BURST), true);
    // A second burst right after would need 30 ms more at this rate.
    assert.equal(bucket.take(BURST), false, 'idling must not have stored more than the burst');
  });

  it('refuses a take larger than it holds without spending anything', () => {
    const bucket = new TokenBucket(1, BURST);
    assert.equal(bucket.take(BURST + 1), false);
    assert.equal(bucket.take(BURST), true, 'the refused take spent nothing');
  });

  it('refills at its rate', async () => {
    const bucket = new TokenBucket(FAST_RATE, BURST);
    assert.equal(bucket.take(BURST), true);
    assert.equal(bucket.take(1), false);
    await delay(IDLE_MS);
    assert.equal(bucket.take(1), true, 'a token came back after the pause');
  });
});
