// SPDX-License-Identifier: MIT
/**
 * @module tracked-writer
 * A `createClient` client of the fixture's `board` store whose every write is tracked: it
 * pushes a unique token per batch (with a counter increment in the same batch), over a
 * recording WebSocket, into a {@link WriteLedger}. {@link TrackedWriter.judge} compares it with
 * the server's board at the end: counts printed, every write on the server exactly once or
 * reported refused, the client's confirmed view equal to the server's state.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createClient, increment, settled, snapshot, status } from '../../src/index.js';
import type { Client } from '../../src/index.js';
import { BOARD } from '../fixtures/app.js';
import type { Board } from '../fixtures/app.js';
import { recordingWebSocket } from './wire-recorder.js';
import type { WireLog } from './wire-recorder.js';
import { formatTally, violations, WriteLedger } from './write-ledger.js';
import type { Tally } from './write-ledger.js';

/** The longest {@link waitFor} may wait (tests stay under 30 s). */
export const MAX_WAIT_MS = 25_000;
const POLL_MS = 20;
/** Reconnect delays of tracked clients: fast, so tests spend their time on what they test. */
const MIN_RECONNECT_MS = 20;
const MAX_RECONNECT_MS = 250;

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves after the current turn: writes made before it form one batch, flushed by now. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Polls `check` until it is truthy; rejects naming `what` and the last `detail()` after `timeoutMs` (≤ 25 s). */
export async function waitFor(check: () => unknown, what: string, timeoutMs = 10_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + Math.min(timeoutMs, MAX_WAIT_MS);
  for (;;) {
    if (check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${Math.min(timeoutMs, MAX_WAIT_MS)} ms waiting for ${what}.${detail ? ` ${detail()}` : ''}`);
    await delay(POLL_MS);
  }
}

/** How a `settled()` promise ended (or that it has not yet). */
export type Outcome = { state: 'pending' } | { state: 'resolved' } | { state: 'rejected'; code: string };

/** Watches `promise` and returns a live view of how it ended. */
export function outcomeOf(promise: Promise<unknown>): { readonly current: Outcome } {
  const box: { current: Outcome } = { current: { state: 'pending' } };
  promise.then(
    () => (box.current = { state: 'resolved' }),
    (err: unknown) => (box.current = { state: 'rejected', code: String((err as { code?: unknown })?.code) }),
  );
  return box;
}

/** A tracked client of the board. */
export interface TrackedWriter {
  readonly client: Client;
  readonly board: Board;
  readonly log: WireLog;
  readonly ledger: WriteLedger;
  /** Resolves once online with the server's board (bounded). */
  ready(timeoutMs?: number): Promise<void>;
  /** Writes one batch: pushes `token` and adds `delta` to the counter (in this turn). */
  writeOne(token: string, delta?: number): void;
  /** Writes `count` batches, one per turn, tokens `${prefix}-0`…; `pauseMs` between them (0: none, a turn only). */
  write(count: number, prefix: string, pauseMs?: number): Promise<void>;
  /**
   * Resolves once online with nothing pending (bounded). With `report`, a timeout first prints
   * the counts as they stand against `report.server()`, so a stuck client still shows its tally.
   */
  quiesced(timeoutMs?: number, report?: { t: TestContext; label: string; server: () => Board }): Promise<void>;
  /**
   * Counts the fate of every write against the server's board, prints it, and asserts the
   * invariants; with `alone` (the default) the server's counter must hold exactly this
   * client's increments (turn it off when several clients write).
   */
  judge(t: TestContext, label: string, server: Board, alone?: boolean): Tally;
  close(): void;
}

/** The board as the server renders it into a page before anything was written (version 0). */
const HYDRATED_BOARD = { value: { items: [], counter: 0, last: '' }, v: 0 };

/**
 * Connects a tracked client of the fixture's board to `url`. With `hydrated`, it starts from
 * the empty board as a server-rendered page would, so it can write before it is welcomed.
 */
export function trackedWriter(url: string, options: { hydrated?: boolean } = {}): TrackedWriter {
  const wire = recordingWebSocket();
  const client = createClient({
    url, WebSocket: wire.WebSocket, minDelay: MIN_RECONNECT_MS, maxDelay: MAX_RECONNECT_MS,
    ...(options.hydrated ? { hydration: { shared: { [BOARD]: HYDRATED_BOARD } } } : {}),
  });
  const ledger = new WriteLedger(wire.log, client);
  client.connect();
  const board = client.store<Board>(BOARD);
  void board.items; // reading subscribes
  const describe = (): string => `connection ${client.state}, ${status(board).pending} pending, v ${status(board).v}, `
    + `last error ${status(board).error?.code ?? 'none'}; last received: ${wire.log.received.slice(-3).map((m) => JSON.stringify(m).slice(0, 160)).join(' | ')}`;
  const writeOne = (token: string, delta = 0): void => {
    board.items.push(token);
    if (delta) increment(board, 'counter', delta);
    ledger.wrote(token, delta);
  };
  return {
    client,
    board,
    log: wire.log,
    ledger,
    ready: (timeoutMs = 5_000) => waitFor(() => client.state === 'online' && wire.log.received.some((m) => m.t === 'snapshot' && m.store === BOARD),
      'the client to be online with the board', timeoutMs, describe),
    writeOne,
    async write(count, prefix, pauseMs = 0) {
      for (let i = 0; i < count; i++) {
        writeOne(`${prefix}-${i}`, (i % 3) + 1);
        await (pauseMs ? delay(pauseMs) : nextTurn());
      }
    },
    async quiesced(timeoutMs = 15_000, report) {
      try {
        await waitFor(() => client.state === 'online' && status(board).pending === 0, 'the client to be online with nothing pending', timeoutMs, describe);
      } catch (err) {
        if (report) {
          report.t.diagnostic(formatTally(`${report.label} (stuck: ${client.state}, ${status(board).pending} pending)`, ledger.tally(report.server().items)));
          const dump = path.join(os.tmpdir(), `twin-stuck-${report.label.replace(/\W+/g, '-')}-${process.pid}.json`);
          fs.writeFileSync(dump, JSON.stringify({ sent: wire.log.sent, received: wire.log.received, closes: wire.log.closes }, null, 1));
          report.t.diagnostic(`${report.label}: the stuck client's wire traffic is in ${dump}`);
        }
        throw err;
      }
    },
    judge(t, label, server, alone = true) {
      const tally = ledger.tally(server.items);
      t.diagnostic(formatTally(label, tally));
      assert.deepEqual(violations(tally), [], `${label}: every write is on the server exactly once and confirmed, or reported refused (and never refused before its outcome was known)`);
      if (alone) assert.equal(server.counter, tally.expectedCounter, `${label}: the server's counter holds exactly the increments of the writes it holds`);
      assert.deepEqual(snapshot(board), server, `${label}: the client's confirmed view equals the server's state`);
      return tally;
    },
    close: () => client.close(),
  };
}

/** Whether `settled(board)` is still waiting: a helper for tests that take it at a given moment. */
export function settledOutcome(board: Board): { readonly current: Outcome } {
  return outcomeOf(settled(board));
}
