// SPDX-License-Identifier: MIT
/**
 * @module view-trackers.test
 * The trackers of pending writes stay bounded: a store whose top-level keys are ids (one row per
 * user) is asked "pending?" per key by bindings that come and go, and must not keep a tracker
 * per key it was ever asked about; consumers still watching, or reading unwatched, stay right.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Op } from './ops.js';
import { computed, effect } from './signals.js';
import { PENDING_TRACKERS_KEPT, ViewTrackers } from './view-trackers.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
const setOp = (key: string): Op => ({ op: 'set', path: [key], value: 1 });

/** Trackers, and the answer each key's "pending?" gives (flipped by `toggle`), read as a consumer would. */
function pendingKeys() {
  const trackers = new ViewTrackers(() => {});
  const pending = new Set<string>();
  const ask = (key: string) => {
    trackers.trackPending(key);
    return pending.has(key);
  };
  const toggle = (key: string) => {
    if (pending.has(key)) pending.delete(key);
    else pending.add(key);
    trackers.pendingChanged([setOp(key)]);
  };
  return { trackers, ask, toggle };
}

describe('pending trackers', () => {
  it('drop the ones no consumer watches once there are more than the bound', async () => {
    const { trackers, ask } = pendingKeys();
    for (let i = 0; i < 1_000; i++) {
      const dispose = effect(() => void ask(`row${i}`));
      dispose();
    }
    await tick();
    assert.ok(trackers.pendingTrackers <= PENDING_TRACKERS_KEPT, `${trackers.pendingTrackers} trackers kept after 1,000 keys asked about and let go`);
  });

  it('keep every watched one, and its consumer still hears its changes after a sweep', async () => {
    const { trackers, ask, toggle } = pendingKeys();
    const seen: boolean[] = [];
    const keep = effect(() => void seen.push(ask('kept')));
    for (let i = 0; i < 3 * PENDING_TRACKERS_KEPT; i++) effect(() => void ask(`row${i}`))();
    await tick();
    assert.ok(trackers.pendingTrackers <= PENDING_TRACKERS_KEPT);
    toggle('kept');
    await tick();
    assert.deepEqual(seen, [false, true]);
    keep();
  });

  it('keep an unwatched consumer right: a dropped tracker tells it to read again', async () => {
    const { ask, toggle } = pendingKeys();
    const answer = computed(() => ask('lonely'));
    assert.equal(answer.get(), false);
    // Enough other keys, asked and let go, to sweep the one `answer` read (nobody watches it).
    for (let i = 0; i < 2 * PENDING_TRACKERS_KEPT; i++) effect(() => void ask(`row${i}`))();
    await tick();
    toggle('lonely');
    assert.equal(answer.get(), true);
  });

  it('make no tracker when nothing is tracking', () => {
    const { trackers, ask } = pendingKeys();
    for (let i = 0; i < 100; i++) ask(`row${i}`);
    assert.equal(trackers.pendingTrackers, 0);
  });

  it('count watchers across pending and value trackers alike', () => {
    let watchedNow = false;
    const trackers = new ViewTrackers((watched) => (watchedNow = watched));
    const dispose = effect(() => trackers.trackPending('a'));
    assert.equal(watchedNow, true);
    dispose();
    assert.equal(watchedNow, false);
  });
});
