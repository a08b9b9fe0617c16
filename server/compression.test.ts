// SPDX-License-Identifier: MIT
/**
 * @module compression.test
 * The `compression` option: permessage-deflate negotiated with a client that offers it (as
 * browsers and `ws` do), frames compressed on the wire and read back whole; off by default.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp, settled, snapshot } from '../src/index.js';
import { startServer, until } from '../test/helpers/server.js';
import type { TwinOptions } from './index.js';

function makeApp() {
  const app = defineApp();
  const notes = app.shared('notes', () => ({ items: [] as string[] }));
  return { app, notes };
}

/** A server, a raw subscriber counting wire bytes, and a writer; `compression` as given. */
async function setUp(t: TestContext, compression: TwinOptions['compression']) {
  const { app, notes } = makeApp();
  const srv = await startServer(app, compression === undefined ? {} : { compression });
  t.after(() => srv.close());
  const reader = await srv.raw();
  let wireBytes = 0;
  // What arrives on the socket, compressed or not (ws's own reads, before inflating).
  (reader.ws as unknown as { _socket: { on(event: 'data', listener: (chunk: Buffer) => void): void } })._socket.on('data', (chunk) => (wireBytes += chunk.length));
  await reader.hello(undefined, { notes: 0 });
  await reader.next((m) => m.t === 'snapshot');
  const writer = srv.client();
  const handle = writer.store<{ items: string[] }>('notes');
  await until(() => handle.items, 'the writer’s snapshot');
  return { reader, handle, notes, wireBytes: () => wireBytes };
}

/** 20 writes of a repetitive 2 KB text, each confirmed; the payload bytes they carried. */
async function writeMany(handle: { items: string[] }): Promise<number> {
  const text = 'the same words again and again, '.repeat(64);
  for (let i = 0; i < 20; i++) {
    handle.items.push(`${i}: ${text}`);
    await settled(handle);
  }
  return 20 * text.length;
}

describe('the compression option', () => {
  it('is off by default: no extension is negotiated', async (t) => {
    const { reader } = await setUp(t, undefined);
    assert.equal(reader.ws.extensions, '');
  });

  it('negotiates permessage-deflate and compresses what is sent, read back whole', async (t) => {
    const { reader, handle, notes, wireBytes } = await setUp(t, { threshold: 0 });
    assert.match(reader.ws.extensions, /permessage-deflate/);
    const before = wireBytes();
    const payload = await writeMany(handle);
    await until(() => reader.messages.filter((m) => m.t === 'sync').length === 20, 'every sync');
    const sent = wireBytes() - before;
    assert.ok(sent < payload / 5, `${sent} bytes on the wire for ${payload} bytes of text`);
    const last = reader.messages.filter((m) => m.t === 'sync').at(-1)!;
    assert.equal((last.ops as { values: string[] }[])[0]!.values[0], snapshot(notes).items[19]);
  });

  it('refuses a threshold that is not a number of bytes, and a window out of range', async () => {
    const { app } = makeApp();
    await assert.rejects(startServer(app, { compression: { threshold: -1 } }), /threshold must be a whole number/);
    await assert.rejects(startServer(app, { compression: { windowBits: 16 } }), /windowBits must be a whole number from 9 to 15/);
  });
});
