// SPDX-License-Identifier: MIT
/**
 * @module pipeline-property.test
 * The store pipeline's property (`store-pipeline.ts`): several clients write one store with
 * many batches on their way at once while storage holds appends back and fails chosen ones —
 * before they write (nothing stored) or after (stored, but the hub hears an error) — and yet
 * every write ends on the server exactly once and confirmed, nothing is refused for good, and
 * each client's confirmed view equals the server's state. fast-check draws the schedule from a
 * printed seed (`TWIN_FC_SEED=<seed>` replays it, `TWIN_FC_RUNS` sets the number of runs);
 * runs are real: an in-process server on a temp SQLite file, the project's client over `ws`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { snapshot } from '../src/index.js';
import { createStorage } from './index.js';
import { defineFixtureApp } from '../test/fixtures/app.js';
import type { Board } from '../test/fixtures/app.js';
import { failingStorage } from '../test/helpers/failing-storage.js';
import { startServer } from '../test/helpers/server.js';
import { delay, trackedWriter } from '../test/helpers/tracked-writer.js';
import type { TrackedWriter } from '../test/helpers/tracked-writer.js';
import { violations } from '../test/helpers/write-ledger.js';

const DEFAULT_RUNS = 15;
const TIME_BUDGET_MS = 40_000;
const TEST_TIMEOUT_MS = 120_000;
const WRITERS = 3;
const QUIESCE_MS = 15_000;

/** One thing that happens to the writers or to storage. */
type Command =
  /** Some writers write `count` batches each, one per turn, all at once. */
  | { kind: 'write'; writers: number[]; count: number }
  /** The `n`th append from now fails, before or after it writes. */
  | { kind: 'fail'; n: number; when: 'before' | 'after' }
  /** Storage holds every append back for `ms` (the pipelines fill up meanwhile). */
  | { kind: 'hold'; ms: number }
  | { kind: 'wait'; ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), writers: fc.uniqueArray(fc.integer({ min: 0, max: WRITERS - 1 }), { minLength: 1, maxLength: WRITERS }), count: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fail' as const), n: fc.integer({ min: 1, max: 12 }), when: fc.constantFrom('before' as const, 'after' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hold' as const), ms: fc.integer({ min: 5, max: 150 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 100 }) }) },
);

interface Totals { runs: number; written: number; acknowledged: number; failedAppends: number; lost: number; duplicated: number; wronglyConfirmed: number }

async function play(commands: readonly Command[], totals: Totals): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-pipeline-'));
  const storage = await createStorage(`sqlite:${path.join(dir, 'pipeline.db')}`);
  const disk = failingStorage(storage);
  const fixture = defineFixtureApp();
  const quiet = (): void => {}; // storage failures are what this test injects: not news for its output
  const srv = await startServer(fixture.app, { storage: disk.storage, limits: { rate: 1e6, burst: 1e6 }, logger: { warn: quiet, error: quiet } });
  const writers: TrackedWriter[] = [];
  const holds: Promise<void>[] = [];
  try {
    for (let i = 0; i < WRITERS; i++) writers.push(trackedWriter(srv.url));
    await Promise.all(writers.map((w) => w.ready()));
    let round = 0;
    for (const command of commands) {
      switch (command.kind) {
        case 'write':
          round++;
          await Promise.all(command.writers.map((i) => writers[i]!.write(command.count, `w${i}r${round}`)));
          break;
        case 'fail':
          disk.failNth(command.n, command.when);
          break;
        case 'hold':
          disk.holding = true;
          holds.push(delay(command.ms).then(() => void (disk.holding = false)));
          break;
        case 'wait':
          await delay(command.ms);
          break;
      }
    }
    await Promise.all(holds);
    for (const w of writers) await w.quiesced(QUIESCE_MS);
    const board = snapshot(fixture.board) as Board;
    let counter = 0;
    for (const [i, w] of writers.entries()) {
      const tally = w.ledger.tally(board.items);
      totals.written += tally.written;
      totals.acknowledged += tally.acknowledged;
      totals.lost += tally.lost;
      totals.duplicated += tally.duplicated;
      totals.wronglyConfirmed += tally.wronglyConfirmed;
      counter += tally.expectedCounter;
      assert.deepEqual(violations(tally), [], `writer ${i}: every write is on the server exactly once and confirmed`);
      assert.equal(tally.refused, 0, `writer ${i}: nothing is refused for good (storage trouble is for now)`);
      assert.deepEqual(snapshot(w.board), board, `writer ${i}: its confirmed view equals the server's state`);
    }
    assert.equal(board.counter, counter, 'the counter holds exactly the increments of the writes on the server');
    // (A run that wrote nothing stored nothing: a store reaches storage with its first commit.)
    const stored = await storage.load('board');
    if (stored || board.items.length) assert.deepEqual(stored?.value, board, 'storage holds what the server shows');
    totals.failedAppends += disk.refused + disk.wroteButFailed;
    totals.runs++;
  } finally {
    disk.holding = false;
    for (const w of writers) w.close();
    await srv.close();
    await storage.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('store pipelines (property)', () => {
  it('three clients writing one store while storage holds appends back and fails some before or after writing: nothing lost, duplicated or wrongly confirmed', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const seed = Number(process.env['TWIN_FC_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const numRuns = Number(process.env['TWIN_FC_RUNS'] ?? DEFAULT_RUNS);
    t.diagnostic(`fast-check seed ${seed} (replay: TWIN_FC_SEED=${seed}), up to ${numRuns} runs within ${TIME_BUDGET_MS / 1000} s`);
    const totals: Totals = { runs: 0, written: 0, acknowledged: 0, failedAppends: 0, lost: 0, duplicated: 0, wronglyConfirmed: 0 };
    const details = await fc.check(fc.asyncProperty(fc.array(commandArb, { minLength: 2, maxLength: 10 }), (commands) => play(commands, totals)), {
      seed, numRuns, endOnFailure: true, interruptAfterTimeLimit: TIME_BUDGET_MS,
      ...(process.env['TWIN_FC_PATH'] ? { path: process.env['TWIN_FC_PATH'] } : {}),
    });
    t.diagnostic(`${details.numRuns} runs: written ${totals.written}, acknowledged ${totals.acknowledged}, lost ${totals.lost}, duplicated ${totals.duplicated}, `
      + `wrongly confirmed ${totals.wronglyConfirmed}; appends failed on purpose ${totals.failedAppends}`);
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    assert.ok(!details.failed, `${fc.defaultReportMessage(details) ?? 'The property failed.'}\nThe failing run: ${why}`);
    assert.ok(details.numRuns >= 5, `at least 5 runs completed (${details.numRuns})`);
  });
});
