// SPDX-License-Identifier: MIT
/**
 * @module large-store.test
 * A client joining a large store gets a snapshot written in slices (server/json-slices.ts) at
 * the store's lock, in parts (server/snapshot-parts.ts): while writes keep landing, it gets the
 * snapshot of one version, all its parts, and then every later batch in order — no gap,
 * nothing twice, nothing before the snapshot — in frames of at most FRAME_BYTES each.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp, settled, snapshot, status } from '../src/index.js';
import { startServer, until } from '../test/helpers/server.js';
import type { Message } from '../test/helpers/server.js';
import { FRAME_BYTES } from './frames.js';

describe('joining a large store while it is written', () => {
  it('gets one version’s snapshot, then every later batch in order', async (t) => {
    const app = defineApp();
    const big = app.shared('big', () => ({ n: 0, items: [] as { id: number; text: string }[] }));
    const srv = await startServer(app);
    t.after(() => srv.close());
    // About 3 MB: several slices to write.
    for (let i = 0; i < 10; i++) {
      big.items.push(...Array.from({ length: 2_000 }, (_, j) => ({ id: i * 2_000 + j, text: 'x'.repeat(140) })));
      await settled(big);
    }
    const writer = srv.client();
    const handle = writer.store<{ n: number }>('big');
    await until(() => handle.n === 0, 'the writer’s snapshot');
    let writing = true;
    const writes = (async () => {
      while (writing) {
        handle.n++;
        await settled(handle);
      }
    })();
    await until(() => handle.n > 5, 'writes under way');
    const reader = await srv.raw();
    await reader.hello(undefined, { big: 0 });
    const first = await reader.next((m) => m.t === 'snapshot', 10_000);
    const parts = first.parts as number;
    assert.ok(parts > 1, `a 3 MB store comes in parts (${parts})`);
    await until(() => handle.n > (first.value as { n: number }).n + 5, 'more writes after the snapshot');
    writing = false;
    await writes;
    const last = status(big).v;
    const syncs = () => reader.messages.filter((m) => m.t === 'sync');
    await until(() => syncs().at(-1)?.v === last, 'the reader to reach the last version');
    // The parts come right after the snapshot, of its version, before any sync.
    const afterSnapshot = reader.messages.slice(reader.messages.indexOf(first) + 1);
    const partMessages = afterSnapshot.slice(0, parts);
    assert.ok(partMessages.every((m) => m.t === 'part' && m.v === first.v), 'its parts follow it, of its version');
    assert.ok(!afterSnapshot.slice(parts).some((m) => m.t === 'part'), 'and no more');
    const items = partMessages.flatMap((m: Message) => (m.ops as { values: unknown[] }[]).flatMap((op) => op.values));
    assert.equal(items.length, 20_000);
    assert.deepEqual(items, snapshot(big).items);
    // Frames stay under the bound, but for a lone message larger than it.
    for (const frame of reader.frames) assert.ok(Buffer.byteLength(frame) <= FRAME_BYTES || !frame.startsWith('['), `a frame of ${Buffer.byteLength(frame)} bytes`);
    // Every sync after the snapshot follows on from it, one version at a time.
    let v = first.v as number;
    for (const sync of syncs()) assert.equal(sync.v, ++v, `sync ${String(sync.v)} after version ${v - 1}`);
    assert.equal(v, last);
    // And the reader, replaying them on the snapshot, holds what the server holds.
    let n = (first.value as { n: number }).n;
    for (const sync of syncs()) for (const op of sync.ops as { path: string[]; value?: number; delta?: number }[]) if (op.path[0] === 'n') n = op.value ?? n + op.delta!;
    assert.equal(n, snapshot(big).n);
    // A client of the package puts the parts together: it holds what the server holds.
    const other = srv.client().store<{ n: number; items: unknown[] }>('big');
    await until(() => other.items?.length === 20_000, 'a client to assemble the large store');
    assert.deepEqual(snapshot(other), snapshot(big));
  });
});
