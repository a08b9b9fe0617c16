// SPDX-License-Identifier: MIT
/**
 * @module bench/large-store
 * How cost grows with a store's size and with the number of stores (issue 15, items 5 and 6),
 * on the memory backend, in one process:
 *
 * - **join**: a raw client subscribes to a store of 1 KB, 1 MB and 10 MB: the time until its
 *   snapshot arrives, and the longest the server's event loop was held meanwhile (a 1 ms timer's
 *   worst lateness), beside one plain `JSON.stringify` of the same value (what writing the
 *   snapshot in one go would hold it for: the reference);
 * - **commit**: a client's small write (one `set`) to a store of each size, confirmed, median
 *   over 200 (the op costs the same; what grows is the store around it);
 * - **memory**: heap per loaded store, for 1, 10 and 100 stores of 1 KB per client;
 * - **browser**: a page in Chromium joining the 1 MB and 10 MB stores: the time until it holds
 *   the store and its longest main-thread task (bench/lib/browser-join.ts), beside one
 *   `JSON.parse` of the whole snapshot in the same page (what one message would cost at least).
 *
 *     node --import tsx bench/large-store.ts [--quick]
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { defineApp, settled, snapshot } from '../src/index.js';
import type { Json } from '../src/index.js';
import { startServer, until } from '../test/helpers/server.js';
import { browserJoin, hasChromium, joinPages } from './lib/browser-join.js';
import { median } from './lib/stats.js';

const QUICK = process.argv.includes('--quick');
const SIZES: [string, number][] = [['1 KB', 1 << 10], ['1 MB', 1 << 20], ['10 MB', 10 << 20]];
const COMMITS = QUICK ? 50 : 200;

/** A store value of about `bytes` of JSON: a list of chat-like items. */
function valueOf(bytes: number): { n: number; items: { id: number; author: string; text: string }[] } {
  const item = (id: number) => ({ id, author: `user${id % 97}`, text: `message ${id} `.padEnd(80, '.') });
  const per = JSON.stringify(item(0)).length + 1;
  return { n: 0, items: Array.from({ length: Math.max(1, Math.floor(bytes / per)) }, (_, i) => item(i)) };
}

/** Runs `task`, returning its result and the worst lateness of a 1 ms timer meanwhile (ms). */
async function worstBlock<T>(task: () => Promise<T>): Promise<{ result: T; blockMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  try {
    const result = await task();
    return { result, blockMs: worst };
  } finally {
    clearInterval(timer);
  }
}

const app = defineApp();
const sized = app.shared('sized', (id: string) => valueOf(Number(id)) as unknown as { n: number }, { family: true });
app.shared('small', () => valueOf(1 << 10) as unknown as { n: number }, { family: true });
const srv = await startServer(app, {}, {
  after: (koa) => koa.use(joinPages((name) => JSON.stringify({ t: 'snapshot', store: name, v: 1, value: snapshot(sized(name.slice('sized/'.length))) }))),
});

console.log(`Store size vs cost, memory backend, one process${QUICK ? ' (--quick)' : ''}.\n`);
console.log('size    join ms  loop held ms (sliced)  JSON.stringify ms (one go)  commit p50 ms  commit p99 ms');
for (const [label, bytes] of SIZES) {
  await srv.server.hub.load(`sized/${bytes}`);
  const store = sized(String(bytes));
  const value = JSON.parse(JSON.stringify(store)) as Json;
  const stringifyStart = performance.now();
  JSON.stringify({ t: 'snapshot', store: 'x', v: 1, value });
  const stringifyMs = performance.now() - stringifyStart;
  // A write first, so the snapshot of the version joined is not cached yet.
  store.n++;
  await settled(store);
  // A bare socket that does not parse what it gets: the time measured is the server's.
  const socket = new WebSocket(srv.url);
  await once(socket, 'open');
  const start = performance.now();
  const { blockMs } = await worstBlock(async () => {
    // The snapshot, then its parts (a large store's: server/snapshot-parts.ts), each a frame.
    let parts = -1;
    const got = new Promise<void>((resolve) => socket.on('message', (data: Buffer) => {
      const head = data.includes('"t":"snapshot"') ? /"parts":(\d+)\}$/.exec(data.toString()) : undefined;
      if (head !== undefined) parts = head ? Number(head[1]) : 0;
      else if (data.includes('"t":"part"')) parts--;
      if (parts === 0) resolve();
    }));
    socket.send(JSON.stringify({ t: 'hello', proto: 1, client: `bench${bytes}x`, subs: { [`sized/${bytes}`]: 0 } }));
    await got;
  });
  const joinMs = performance.now() - start;
  socket.close();
  const writer = srv.client();
  const handle = writer.store<{ n: number }>(`sized/${bytes}`);
  await until(() => typeof handle.n === 'number', 'the writer’s snapshot', 60_000);
  const times: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t0 = performance.now();
    handle.n++;
    await settled(handle);
    times.push(performance.now() - t0);
  }
  writer.close();
  times.sort((a, b) => a - b);
  console.log(`${label.padEnd(6)} ${joinMs.toFixed(1).padStart(8)}  ${blockMs.toFixed(1).padStart(21)}  ${stringifyMs.toFixed(1).padStart(26)}  ${median(times).toFixed(2).padStart(13)}  ${times[Math.floor(times.length * 0.99)]!.toFixed(2).padStart(13)}`);
}

console.log('\nstores per client  heap per store KB (hub + replica)  commit p50 ms  commit p99 ms');
let id = 0;
for (const count of [1, 10, 100]) {
  const names = Array.from({ length: count }, () => `small/s${id++}`);
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (const name of names) await srv.server.hub.load(name);
  const client = srv.client();
  const handles = names.map((name) => client.store<{ n?: number }>(name));
  for (const h of handles) void h.n;
  await until(() => handles.every((h) => typeof h.n === 'number'), 'every store', 30_000);
  globalThis.gc?.();
  const perStore = (process.memoryUsage().heapUsed - before) / count / 1024;
  const times: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const handle = handles[i % count]!;
    const t0 = performance.now();
    handle.n = i;
    await settled(handle);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  client.close();
  console.log(`${String(count).padStart(17)}  ${perStore.toFixed(1).padStart(32)}  ${median(times).toFixed(2).padStart(13)}  ${times[Math.floor(times.length * 0.99)]!.toFixed(2).padStart(13)}`);
}
if (hasChromium()) {
  console.log('\nbrowser (Chromium, dist/twin.js), median of 3 fresh pages:');
  console.log('size    join ms  longest task ms (none over 50: 0)  one JSON.parse of the snapshot ms (reference)');
  for (const [label, bytes] of SIZES.slice(1)) {
    const runs = await browserJoin(srv.http, `sized/${bytes}`, 3);
    const mid = (pick: (r: (typeof runs)[number]) => number) => median(runs.map(pick)).toFixed(1);
    console.log(`${label.padEnd(6)} ${mid((r) => r.joinMs).padStart(8)}  ${mid((r) => r.longestTaskMs).padStart(33)}  ${mid((r) => r.oneParseMs).padStart(44)}`);
  }
} else {
  console.log('\n(browser join skipped: needs Chromium at /usr/bin/chromium or CHROME_PATH — apt-get install chromium — and npm run build.)');
}

console.log('\n(one process: the hub\'s store and the client\'s replica both count; run node with --expose-gc');
console.log(' for steadier heap figures. The JSON.stringify column is what writing a snapshot in one go holds');
console.log(' the loop for; "loop held" is the worst a 1 ms timer waited while the client joined.)');
await srv.close();
