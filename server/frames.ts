// SPDX-License-Identifier: MIT
/**
 * @module frames
 * Everything bound for one client within a tick leaves as one frame, `[m1,m2,...]`, joined from
 * the messages already serialized (never parsed again). Subscribers of a store queue the very
 * same Buffers, so a tick's frame of a given list of them is joined once and shared.
 */

/** Most bytes of messages joined into one frame. */
export const FRAME_BYTES = 256 * 1024;

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

  /**
   * The frames that carry `messages`, in order: runs of at most {@link FRAME_BYTES} (a larger
   * message goes alone), a lone message as itself. A browser handles a frame in one task, so a
   * large snapshot's parts (`snapshot-parts.ts`) must not travel together.
   */
  framesOf(messages: Buffer[]): Buffer[] {
    const frames: Buffer[] = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const size = messages[i]!.length;
      if (i > start && bytes + size > FRAME_BYTES) {
        frames.push(this.frameOf(messages.slice(start, i)));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    frames.push(this.frameOf(start === 0 ? messages : messages.slice(start)));
    return frames;
  }

  private frameOf(messages: Buffer[]): Buffer {
    return messages.length === 1 ? messages[0]! : this.join(messages);
  }

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
