// SPDX-License-Identifier: MIT
/**
 * @module json-slices
 * JSON text of a large value without blocking the event loop: the same output as
 * `JSON.stringify`, written by a loop over the value that stops every `sliceMs` of work and lets
 * other work in (`setImmediate`). A 10 MB store takes a few slices of a few milliseconds each,
 * where one `JSON.stringify` call would hold the server for 100 ms and more; a small one is
 * done in the first slice. The caller keeps the value from changing meanwhile (the store's lock).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Json } from '../src/json.js';

/** Values written between two looks at the clock. */
const CHECK_EVERY = 256;
/** Text gathered before it is turned into a Buffer (bounds the pieces kept as strings). */
const PIECE_CHARS = 1 << 16;

/** One container being written: its entries, and how far along. */
interface Frame {
  readonly container: Json[] | Record<string, Json>;
  readonly keys: string[] | undefined;
  index: number;
}

/**
 * A stretch of work between two turns given to other work, shared by several writes (a large
 * snapshot's parts), so their slices add up to one budget rather than one each.
 */
export class Slices {
  readonly sliceMs: number;
  private start = performance.now();

  constructor(sliceMs: number) {
    this.sliceMs = sliceMs;
  }

  /** Whether this slice's time is up. */
  spent(): boolean {
    return performance.now() - this.start > this.sliceMs;
  }

  /** Lets other work in, and starts a new slice. */
  async yield(): Promise<void> {
    await nextTurn();
    this.start = performance.now();
  }
}

/** `value` as JSON text (UTF-8), in slices of at most about `sliceMs` of work each (or of `slices`). */
export async function stringifyInSlices(value: Json, sliceMs: number | Slices): Promise<Buffer> {
  const slices = typeof sliceMs === 'number' ? new Slices(sliceMs) : sliceMs;
  const buffers: Buffer[] = [];
  let text = '';
  const stack: Frame[] = [];
  let written = 0;

  /** Writes `v`: a leaf at once, a container by pushing it (its entries follow). */
  const open = (v: Json) => {
    if (v === null || typeof v !== 'object') {
      text += JSON.stringify(v);
      return;
    }
    const isArray = Array.isArray(v);
    text += isArray ? '[' : '{';
    stack.push({ container: v, keys: isArray ? undefined : Object.keys(v), index: 0 });
  };

  open(value);
  while (stack.length) {
    const frame = stack[stack.length - 1]!;
    const length = frame.keys ? frame.keys.length : (frame.container as Json[]).length;
    if (frame.index === length) {
      text += frame.keys ? '}' : ']';
      stack.pop();
      continue;
    }
    const i = frame.index++;
    if (i > 0) text += ',';
    if (frame.keys) {
      const key = frame.keys[i]!;
      text += `${JSON.stringify(key)}:`;
      open((frame.container as Record<string, Json>)[key]!);
    } else {
      open((frame.container as Json[])[i]!);
    }
    if (text.length >= PIECE_CHARS) {
      buffers.push(Buffer.from(text));
      text = '';
    }
    if (++written % CHECK_EVERY === 0 && slices.spent()) await slices.yield();
  }
  buffers.push(Buffer.from(text));
  return buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
}
