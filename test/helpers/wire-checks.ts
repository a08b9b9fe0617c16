// SPDX-License-Identifier: MIT
/**
 * @module wire-checks
 * Checks on a client's recorded traffic (see `wire-recorder`) that issue 11's tests share: the
 * frames it sent stay within the limits it was told, each `welcome` states those limits, a cut
 * socket is followed by a new one that is welcomed, and a summary of the refusals received.
 */
import assert from 'node:assert/strict';
import type { Client } from '../../src/index.js';
import type { CutProxy } from './cut-proxy.js';
import { waitFor } from './tracked-writer.js';
import type { WireLog } from './wire-recorder.js';

/** Cuts the client's socket and waits until it is online on a new one (it may come back within a poll). */
export async function cutAndReconnect(proxy: CutProxy, w: { client: Client; log: WireLog }): Promise<void> {
  const sockets = w.log.sockets.length;
  proxy.cut();
  await waitFor(() => w.log.sockets.length > sockets && w.client.state === 'online' && w.log.received.filter((m) => m.t === 'welcome').length >= sockets + 1,
    'the client to be online again on a new socket');
}

/** Every frame the client sent is within `maxMessages` and `maxFrameBytes`. */
export function assertFramesWithin(log: WireLog, maxMessages: number, maxFrameBytes: number, label: string): void {
  const over = log.sentFrames.filter((f) => f.messages > maxMessages || f.bytes > maxFrameBytes);
  assert.deepEqual(over.slice(0, 5), [], `${label}: the client sent ${over.length} frame(s) over the limits it was told (${maxMessages} messages, ${maxFrameBytes} bytes)`);
}

/** Every `welcome` states the limits of issue 11. */
export function assertWelcomeStatesLimits(log: WireLog, expected: Record<string, number>): void {
  const welcomes = log.received.filter((m) => m.t === 'welcome');
  assert.ok(welcomes.length > 0, 'the client was welcomed');
  for (const welcome of welcomes) {
    const limits = welcome.limits as Record<string, unknown> | undefined;
    assert.ok(limits && typeof limits === 'object', `welcome states the server's limits: ${JSON.stringify(welcome)}`);
    for (const key of ['maxFrameBytes', 'maxMessages', 'maxOps', 'rate', 'burst']) assert.equal(typeof limits[key], 'number', `welcome.limits.${key}`);
    for (const [key, value] of Object.entries(expected)) assert.equal(limits[key], value, `welcome.limits.${key}`);
  }
}

/** The refusals received on the wire, by code, for the diagnostics. */
export function refusalCounts(log: WireLog): string {
  const counts = new Map<string, number>();
  for (const m of log.received) {
    if (m.t !== 'reject' && m.t !== 'error') continue;
    const key = `${m.t} ${String(m.code)}${m.retry === true ? ' (retry)' : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
}
