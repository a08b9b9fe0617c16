// SPDX-License-Identifier: MIT
/**
 * @module write-fate.test
 * Issue 11's property: whatever happens between one client and its server — writes at a fair
 * pace, bursts over the rate limit, oversized writes, sockets cut, the network down for a
 * while, the server closed and reopened on its SQLite file — once things calm down, the
 * client's confirmed view equals the server's state, and every write the client showed is on
 * the server exactly once (and was confirmed) or was reported refused. fast-check draws the
 * sequences from a printed seed (`TWIN_FC_SEED=<seed>` replays a run; `TWIN_FC_RUNS` sets
 * their number); runs are real: an in-process server on a temp SQLite file, the project's
 * client over real `ws` sockets through a forwarder that really cuts them. There is no
 * shrinking (each run takes real time); the failing sequence is printed as drawn.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import { ErrorCode, snapshot } from '../src/index.js';
import { createMemoryStorage, createStorage } from './index.js';
import type { StorageAdapter } from './index.js';
import { defineFixtureApp } from '../test/fixtures/app.js';
import type { Board, FixtureApp } from '../test/fixtures/app.js';
import { startCutProxy } from '../test/helpers/cut-proxy.js';
import type { CutProxy } from '../test/helpers/cut-proxy.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { delay, nextTurn, trackedWriter } from '../test/helpers/tracked-writer.js';
import type { TrackedWriter } from '../test/helpers/tracked-writer.js';
import { assertFramesWithin } from '../test/helpers/wire-checks.js';
import { violations } from '../test/helpers/write-ledger.js';
import type { Tally } from '../test/helpers/write-ledger.js';

/** Runs by default; fewer if the time budget runs out first. */
const DEFAULT_RUNS = 30;
/** fast-check stops starting new runs after this long (the test stays near a minute). */
const TIME_BUDGET_MS = 50_000;
const TEST_TIMEOUT_MS = 120_000;
/** Tight limits, so that bursts go over them: messages per second, burst, and a small frame limit. */
const LIMITS = { rate: 300, burst: 60, maxFrameBytes: 64 << 10 };
/** An oversized write: over the frame limit above, however it is framed. */
const BIG_BYTES = 80_000;
/** How long a run may take to calm down at the end. */
const QUIESCE_MS = 15_000;

/** One thing that happens to the client or its server. */
type Command =
  | { kind: 'write'; count: number; pauseMs: number; setLast: boolean }
  | { kind: 'burst'; count: number }
  | { kind: 'big' }
  | { kind: 'cut' }
  | { kind: 'offline'; ms: number }
  | { kind: 'restart'; downMs: number; abrupt: boolean }
  | { kind: 'wait'; ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), count: fc.integer({ min: 1, max: 20 }), pauseMs: fc.integer({ min: 0, max: 10 }), setLast: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('burst' as const), count: fc.integer({ min: 61, max: 150 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'big' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'cut' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('offline' as const), ms: fc.integer({ min: 50, max: 400 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restart' as const), downMs: fc.integer({ min: 0, max: 300 }), abrupt: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 200 }) }) },
);

/** One server incarnation on the run's SQLite file. */
interface Incarnation {
  readonly srv: TestServer;
  readonly fixture: FixtureApp;
  readonly storage: StorageAdapter;
}

/**
 * The storage the runs use: `sqlite` (the default), or `memory` (`TWIN_FATE_STORAGE=memory`,
 * one adapter per run kept across restarts) to tell a storage bug from a hub or client bug.
 */
const STORAGE_KIND = process.env['TWIN_FATE_STORAGE'] === 'memory' ? 'memory' : 'sqlite';
/** Lines the servers logged for their operator, over all runs. */
let operatorLines = 0;
/** The memory adapter of the current run, when {@link STORAGE_KIND} is memory. */
let memory: StorageAdapter | undefined;

async function open(file: string): Promise<Incarnation> {
  const storage = STORAGE_KIND === 'memory' ? (memory ??= createMemoryStorage()) : await createStorage(`sqlite:${file}`);
  const fixture = defineFixtureApp(); // an app is served by one hub at a time: a fresh one per server
  // What the server logs for its operator (a storage error while it closes, say) is counted, not printed.
  const count = (): void => void operatorLines++;
  const srv = await startServer(fixture.app, { storage, limits: LIMITS, logger: { warn: count, error: count } });
  return { srv, fixture, storage };
}

async function shut(server: Incarnation): Promise<void> {
  await server.srv.close();
  if (STORAGE_KIND === 'sqlite') await server.storage.close();
}

/** The totals over all runs, for the diagnostics. */
interface Totals { runs: number; written: number; acknowledged: number; refused: number; lost: number; duplicated: number; wronglyConfirmed: number; big: number; restarts: number; cuts: number }

/** Plays `commands` against a fresh server and client; throws (with the counts) if an invariant breaks. */
async function play(commands: readonly Command[], totals: Totals): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-fate-'));
  const file = path.join(dir, 'fate.db');
  let server = await open(file);
  let proxy: CutProxy | undefined;
  let w: TrackedWriter | undefined;
  try {
    proxy = await startCutProxy(server.srv.port);
    w = trackedWriter(proxy.url);
    await w.ready();
    let written = 0;
    let bigWrites = 0;
    let bigThrown = 0;
    const writeOne = (setLast: boolean): void => {
      const token = `w${written++}`;
      w!.writeOne(token, written % 4);
      if (setLast) w!.board.last = token;
    };
    for (const command of commands) {
      switch (command.kind) {
        case 'write':
          for (let i = 0; i < command.count; i++) {
            writeOne(command.setLast && i % 2 === 0);
            await (command.pauseMs ? delay(command.pauseMs) : nextTurn());
          }
          break;
        case 'burst':
          for (let i = 0; i < command.count; i++) {
            writeOne(false);
            await nextTurn();
          }
          break;
        case 'big':
          bigWrites++;
          try {
            w.board.last = `big-${bigWrites}-${'x'.repeat(BIG_BYTES)}`;
          } catch (err) {
            assert.equal((err as { code?: unknown }).code, ErrorCode.TOO_BIG, 'an oversized write that throws says why');
            bigThrown++;
          }
          await nextTurn();
          break;
        case 'cut':
          totals.cuts++;
          proxy.cut();
          break;
        case 'offline':
          proxy.down = true;
          proxy.cut();
          await delay(command.ms);
          proxy.down = false;
          break;
        case 'restart': {
          totals.restarts++;
          // Abrupt: the client's socket dies first, so it never hears the server going away.
          if (command.abrupt) proxy.cut();
          await shut(server);
          await delay(command.downMs);
          server = await open(file);
          proxy.target = server.srv.port;
          break;
        }
        case 'wait':
          await delay(command.ms);
          break;
      }
    }
    const current = server;
    await w.quiesced(QUIESCE_MS, { t: reportTo, label: 'run', server: () => snapshot(current.fixture.board) as Board });
    const board = snapshot(server.fixture.board) as Board;
    const tally: Tally = w.ledger.tally(board.items);
    totals.runs++;
    totals.written += tally.written;
    totals.acknowledged += tally.acknowledged;
    totals.refused += tally.refused;
    totals.lost += tally.lost;
    totals.duplicated += tally.duplicated;
    totals.wronglyConfirmed += tally.wronglyConfirmed;
    totals.big += bigWrites;
    lastRun = { commands, sent: w.log.sent, received: w.log.received, closes: w.log.closes, server: board, client: snapshot(w.board) };
    assert.deepEqual(violations(tally), [], 'every write is on the server exactly once and confirmed, or reported refused (and never refused before its outcome was known)');
    // Nothing here is the client's fault but its oversized writes: every other write must land.
    const reasons = [...new Set(w.ledger.rejects.filter((r) => r.code !== ErrorCode.TOO_BIG).map((r) => `${r.code}: ${r.message}`))];
    assert.equal(tally.refused, 0, `well-formed writes are not refused for good (refusals: ${reasons.join(' | ')})`);
    assert.equal(board.counter, tally.expectedCounter, 'the counter holds exactly the increments of the writes on the server');
    assert.deepEqual(snapshot(w.board), board, 'the client\'s confirmed view equals the server\'s state');
    assert.ok(!board.last.startsWith('big-'), 'an oversized write never reaches the server');
    assertFramesWithin(w.log, LIMITS.burst, LIMITS.maxFrameBytes, 'the run');
    assert.ok(!w.log.closes.some((c) => c.code === 1008), 'the client was not disconnected for abuse');
    assert.ok(!w.log.received.some((m) => m.t === 'error' && m.code === ErrorCode.RATE), 'no rate refusal without a batch id');
    const tooBig = w.ledger.rejects.filter((r) => r.code === ErrorCode.TOO_BIG).length + bigThrown;
    assert.equal(tooBig, bigWrites, 'each oversized write is reported refused with TWIN_ERR_TOO_BIG, once');
  } finally {
    w?.close();
    await proxy?.close();
    await shut(server);
    await memory?.close();
    memory = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The wire traffic and end states of the last run that got to its checks, written to a file when it fails. */
let lastRun: unknown;

/** Where {@link play} prints the counts of a run that does not calm down (set per test). */
let reportTo: TestContext;

describe('the fate of every write (property)', () => {
  it('random writes, bursts over the rate, oversized writes, cuts and SQLite server restarts: the client ends equal to the server, nothing lost, duplicated or wrongly confirmed', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    reportTo = t;
    const seed = Number(process.env['TWIN_FC_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const numRuns = Number(process.env['TWIN_FC_RUNS'] ?? DEFAULT_RUNS);
    t.diagnostic(`fast-check seed ${seed} (replay: TWIN_FC_SEED=${seed}), up to ${numRuns} runs within ${TIME_BUDGET_MS / 1000} s, ${STORAGE_KIND} storage`);
    const totals: Totals = { runs: 0, written: 0, acknowledged: 0, refused: 0, lost: 0, duplicated: 0, wronglyConfirmed: 0, big: 0, restarts: 0, cuts: 0 };
    const started = Date.now();
    const details = await fc.check(fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 6 }), (commands) => play(commands, totals)), {
      seed, numRuns, endOnFailure: true, interruptAfterTimeLimit: TIME_BUDGET_MS,
      ...(process.env['TWIN_FC_PATH'] ? { path: process.env['TWIN_FC_PATH'] } : {}),
    });
    if (details.failed && lastRun) {
      const dump = path.join(os.tmpdir(), `twin-fate-${seed}.json`);
      fs.writeFileSync(dump, JSON.stringify(lastRun, null, 1));
      t.diagnostic(`the failing run's wire traffic and end states: ${dump} (replay: TWIN_FC_SEED=${seed} TWIN_FC_PATH=${details.counterexamplePath})`);
    }
    t.diagnostic(`${details.numRuns} runs in ${((Date.now() - started) / 1000).toFixed(1)} s: written ${totals.written}, acknowledged ${totals.acknowledged}, refused ${totals.refused}, `
      + `lost ${totals.lost}, duplicated ${totals.duplicated}, wrongly confirmed ${totals.wronglyConfirmed}; oversized ${totals.big}, restarts ${totals.restarts}, cuts ${totals.cuts}; `
      + `lines logged for the operator ${operatorLines}`);
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    assert.ok(!details.failed, `${fc.defaultReportMessage(details) ?? 'The property failed.'}\nThe failing run: ${why}`);
    assert.ok(details.numRuns >= 5, `at least 5 runs completed (${details.numRuns})`);
  });
});
