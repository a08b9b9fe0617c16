// SPDX-License-Identifier: MIT
/**
 * @module frames
 * Everything bound for one client within a tick leaves as one frame, `[m1,m2,...]`, joined from
 * the messages already serialized (never parsed again). Subscribers of a store queue the very
 * same Buffers, so a tick's frame of a given list of them is joined once and shared.
 */

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/**
 * One tick's frames, by the messages they hold: every subscriber of a store gets the same
 * serialized messages (the same Buffers), so the frame of a given list of them is joined once
 * and shared; only a sender (whose copy carries its batch id) or a client of other stores too
 * gets a frame of its own. A trie keyed by Buffer identity: no hashing of bytes.
 */
export class FrameCache {
  private readonly root: FrameNode = { next: new Map() };

  /** `[m1,m2,...]` for `parts`, joined once per tick for each distinct list. */
  join(parts: Buffer[]): Buffer {
    let node = this.root;
    for (const part of parts) {
      let next = node.next.get(part);
      if (!next) node.next.set(part, (next = { next: new Map() }));
      node = next;
    }
    return (node.frame ??= joinFrames(parts));
  }
}

interface FrameNode {
  readonly next: Map<Buffer, FrameNode>;
  frame?: Buffer;
}

/** `[m1,m2,...]` from serialized messages, without parsing them again. */
function joinFrames(parts: Buffer[]): Buffer {
  const pieces: Buffer[] = [OPEN];
  for (let i = 0; i < parts.length; i++) {
    if (i) pieces.push(COMMA);
    pieces.push(parts[i]!);
  }
  pieces.push(CLOSE);
  return Buffer.concat(pieces);
}
