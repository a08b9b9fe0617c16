// SPDX-License-Identifier: MIT
/**
 * @module frames.test
 * A tick's frame is built once per distinct list of messages (server/frames.ts): subscribers
 * of a store that queued the same messages share one Buffer; a list that differs (a sender's
 * copy carries its batch id) gets a frame of its own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_BYTES, FrameCache } from './frames.js';

const message = (text: string) => Buffer.from(JSON.stringify({ t: 'sync', text }));

describe('FrameCache', () => {
  it('joins a list of messages once per tick and shares the frame', () => {
    const [a, b, own] = [message('a'), message('b'), message('own')];
    const frames = new FrameCache();
    const first = frames.join([a, b]);
    assert.equal(first.toString(), `[${a},${b}]`);
    assert.equal(frames.join([a, b]), first, 'the same Buffer for the same messages');
    const sender = frames.join([a, own]);
    assert.notEqual(sender, first);
    assert.equal(sender.toString(), `[${a},${own}]`);
    assert.equal(frames.join([a]).toString(), `[${a}]`, 'a prefix is a list of its own');
    // Equal bytes in other Buffers are other messages to the cache: identity, not content.
    assert.notEqual(frames.join([message('a'), message('b')]), first);
    // A new tick starts over.
    assert.notEqual(new FrameCache().join([a, b]), first);
  });

  it('keeps each frame under FRAME_BYTES: a run of messages up to it, a larger one alone, a lone one as itself', () => {
    const sized = (bytes: number) => Buffer.from(JSON.stringify({ t: 'sync', text: 'x'.repeat(bytes - 24) }));
    const [a, b, c] = [sized(FRAME_BYTES / 2), sized(FRAME_BYTES / 2 - 10), sized(FRAME_BYTES / 4)];
    const huge = sized(FRAME_BYTES * 2);
    const small = [message('1'), message('2')];
    const frames = new FrameCache();
    assert.deepEqual(frames.framesOf(small).map(String), [`[${small[0]},${small[1]}]`]);
    assert.deepEqual(frames.framesOf([a]), [a], 'a lone message is its own frame');
    const split = frames.framesOf([a, b, c, huge, ...small]);
    assert.deepEqual(split.map(String), [`[${a},${b}]`, `${c}`, `${huge}`, `[${small[0]},${small[1]}]`]);
    for (const frame of split) assert.ok(frame.length <= FRAME_BYTES || frame === huge);
    assert.equal(frames.framesOf([a, b, c, huge, ...small])[0], split[0], 'runs are shared like whole frames');
  });
});
