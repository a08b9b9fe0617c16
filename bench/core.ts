// SPDX-License-Identifier: MIT
/**
 * @module bench/core
 * Core benchmarks, run with `node --import tsx bench/core.ts`:
 *
 * - proxy writes per second for a mix of writes (set a number, set a nested string, push to
 *   an array, increment), median of 5 runs, for a local and a shared store (no server: the
 *   shared store's batches stay pending, as they do offline);
 * - bytes of ops per write against full-value sync (the JSON of the whole store), for an
 *   append to a 10,000-item list and a set of one key in a 10,000-key object.
 */
import { defineApp, increment, snapshot, subscribe } from '../src/index.js';
import type { Op } from '../src/index.js';

const RUNS = 5;
/** Iterations per run; each iteration makes one write of each of the 4 kinds. */
const ITERATIONS = 25_000;
/** Iterations per turn: the writes of a turn form one batch, as in an app. */
const PER_TURN = 1_000;
const WRITES_PER_ITERATION = 4;
const LIST_ITEMS = 10_000;
const OBJECT_KEYS = 10_000;

const app = defineApp();
let stores = 0;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

interface MixState {
  n: number;
  count: number;
  nested: { deep: { text: string } };
  list: number[];
}

const mixInit = (): MixState => ({ n: 0, count: 0, nested: { deep: { text: '' } }, list: [] });

/** Writes per second of one run of the mix on a fresh store. */
async function mixRun(kind: 'local' | 'shared'): Promise<number> {
  const name = `bench_mix_${kind}_${++stores}`;
  const s: MixState = kind === 'local' ? app.local(name, mixInit) : app.shared(name, mixInit);
  let elapsed = 0;
  for (let done = 0; done < ITERATIONS; done += PER_TURN) {
    const start = performance.now();
    for (let i = done; i < done + PER_TURN; i++) {
      s.n = i;
      s.nested.deep.text = `v${i}`;
      s.list.push(i);
      increment(s, 'count');
    }
    elapsed += performance.now() - start;
    // Let the turn's batch flush (outside the timed part: the flush itself is measured below).
    await tick();
  }
  return (ITERATIONS * WRITES_PER_ITERATION) / (elapsed / 1000);
}

/** Writes per second including the end-of-turn flush (batch id, send/persist, subscribers). */
async function mixRunWithFlush(kind: 'local' | 'shared'): Promise<number> {
  const name = `bench_mixf_${kind}_${++stores}`;
  const s: MixState = kind === 'local' ? app.local(name, mixInit) : app.shared(name, mixInit);
  let changes = 0;
  subscribe(s, () => changes++);
  const start = performance.now();
  for (let done = 0; done < ITERATIONS; done += PER_TURN) {
    for (let i = done; i < done + PER_TURN; i++) {
      s.n = i;
      s.nested.deep.text = `v${i}`;
      s.list.push(i);
      increment(s, 'count');
    }
    await Promise.resolve();
    await Promise.resolve();
  }
  await tick();
  const elapsed = performance.now() - start;
  if (changes !== ITERATIONS / PER_TURN) throw new Error(`expected ${ITERATIONS / PER_TURN} batches, got ${changes}`);
  return (ITERATIONS * WRITES_PER_ITERATION) / (elapsed / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** Ops bytes vs whole-store bytes for one write to `store`. */
async function opsVsFull<T extends object>(store: T, write: (s: T) => void): Promise<{ ops: number; full: number }> {
  const seen: Op[] = [];
  const stop = subscribe(store, (change) => seen.push(...change.ops));
  write(store);
  await tick();
  stop();
  if (seen.length === 0) throw new Error('the write emitted no ops');
  return { ops: bytes(seen), full: bytes(snapshot(store)) };
}

function table(title: string, head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(`|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`twin-state core bench — node ${process.version}, ${RUNS} runs of ${fmt(ITERATIONS * WRITES_PER_ITERATION)} writes (${PER_TURN * WRITES_PER_ITERATION} per turn)`);

  const rows: string[][] = [];
  for (const kind of ['local', 'shared'] as const) {
    // One warm-up run of each, not counted.
    await mixRun(kind);
    await mixRunWithFlush(kind);
    const sync: number[] = [];
    const withFlush: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      sync.push(await mixRun(kind));
      withFlush.push(await mixRunWithFlush(kind));
    }
    rows.push([`${kind} store, writes only`, fmt(median(sync)), fmt(Math.min(...sync)), fmt(Math.max(...sync))]);
    rows.push([`${kind} store, with turn flush`, fmt(median(withFlush)), fmt(Math.min(...withFlush)), fmt(Math.max(...withFlush))]);
  }
  table('(a) proxy writes per second — mix: set number, set nested string, push, increment', ['case', 'median/s', 'min/s', 'max/s'], rows);

  const chat = app.shared('bench_chat', () => ({
    messages: Array.from({ length: LIST_ITEMS }, (_, i) => ({ text: `message number ${i}`, author: `user${i % 50}`, at: 1_700_000_000_000 + i })),
  }));
  const append = await opsVsFull(chat, (s) => s.messages.push({ text: 'hello there', author: 'ann', at: 1_800_000_000_000 }));
  const keyed = app.shared('bench_keyed', () => {
    const value: Record<string, number> = {};
    for (let i = 0; i < OBJECT_KEYS; i++) value[`key${i}`] = i;
    return { value };
  });
  const setOne = await opsVsFull(keyed, (s) => { s.value.key5000 = -1; });
  table('(b) bytes per write: ops vs full-value sync', ['write', 'ops bytes', 'full bytes', 'full / ops'], [
    [`append to a ${fmt(LIST_ITEMS)}-item list of {text, author, at}`, fmt(append.ops), fmt(append.full), `${(append.full / append.ops).toFixed(0)}x`],
    [`set one key of a ${fmt(OBJECT_KEYS)}-key object`, fmt(setOne.ops), fmt(setOne.full), `${(setOne.full / setOne.ops).toFixed(0)}x`],
  ]);
}

await main();
