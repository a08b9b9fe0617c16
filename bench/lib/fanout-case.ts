// SPDX-License-Identifier: MIT
/**
 * @module fanout-case
 * One case of the fan-out benchmark: a writer sends `m` updates at a steady rate through one
 * server to the receivers' clients, and the case yields messages per second, send-to-last-
 * receipt latencies, and the CPU time each process spent. It stops by itself: the receivers
 * give up after a timeout and report what they got.
 */
import type { ChildHandle } from './children.js';
import { CPU_COMMAND } from './children.js';
import type { ReceiveResult } from './fanout-receivers.js';
import type { BenchServer, ServerKind } from './fanout-servers.js';
import type { WriteResult } from './fanout-writer.js';
import { summarize } from './stats.js';

/** Updates the writer sends at most per tick (~1 ms). */
export const MAX_BURST = 64;
/** A case stops by itself after this long (sending plus draining). */
const CASE_TIMEOUT_MIN = 20_000;
const CASE_TIMEOUT_MAX = 40_000;
/**
 * Extra time the parent waits for a child's answer beyond the child's own timeout: a server
 * under test can hold this process's event loop for seconds at a time.
 */
const ANSWER_SLACK = 60_000;

/** The load processes. */
export interface Peers {
  readonly receivers: readonly ChildHandle[];
  readonly writer: ChildHandle;
}

/** CPU seconds spent during a case, per process. */
export interface CpuSeconds {
  readonly server: number;
  readonly receivers: number;
  readonly writer: number;
}

/** What one case measured. */
export interface CaseResult {
  readonly kind: ServerKind;
  readonly n: number;
  readonly m: number;
  /** Messages delivered per second, all clients together, from the first send to the last receipt. */
  readonly rate: number;
  /** Latency (ms) from an update's send to its receipt by the last client: median and 99th percentile. */
  readonly p50: number;
  readonly p99: number;
  /** Updates every client received (the latency sample). */
  readonly fullyDelivered: number;
  readonly delivered: number;
  readonly expected: number;
  /** Frames the clients received, all together. */
  readonly frames: number;
  /** How long the writer took to send everything. */
  readonly sendSeconds: number;
  readonly cpu: CpuSeconds;
  /** What went wrong, for the notes (timeouts, closed clients, verification errors). */
  readonly problems: readonly string[];
  readonly timedOut: boolean;
}

/** What {@link runCase} needs. */
export interface CaseOptions {
  readonly server: BenchServer;
  /** The store the updates go to (twin: a fresh family member per case). */
  readonly store: string;
  /** The store of the previous case, which twin receivers leave. */
  readonly previous: string | undefined;
  readonly n: number;
  readonly m: number;
  /** Updates per second. */
  readonly rate: number;
  /** Receivers parse every frame as JSON and check the counts. */
  readonly verify: boolean;
}

/**
 * Runs one case. The receivers' group and the writer named after the server's kind must be
 * connected to it.
 */
export async function runCase(peers: Peers, options: CaseOptions): Promise<CaseResult> {
  const { server, store, previous, n, m, rate } = options;
  const group = server.kind;
  if (server.kind === 'twin') {
    await Promise.all(peers.receivers.map((r) => r.call<number>({ cmd: 'subscribe', group, store, previous })));
  }
  await peers.writer.call({ cmd: 'prepare', group, store });
  const armed = await Promise.all(peers.receivers.map((r) => r.call<number>({ cmd: 'arm', group, m, verify: options.verify })));
  const clients = armed.reduce((a, b) => a + b, 0);
  const timeoutMs = Math.min(CASE_TIMEOUT_MAX, Math.max(CASE_TIMEOUT_MIN, (4 * m * 1000) / rate));
  const cpuBefore = await cpuOf(peers);
  const waits = peers.receivers.map((r) => r.call<ReceiveResult>({ cmd: 'wait', timeoutMs }, timeoutMs + ANSWER_SLACK));
  const written = await peers.writer.call<WriteResult>({ cmd: 'run', group, store, m, rate, maxBurst: MAX_BURST }, timeoutMs + ANSWER_SLACK);
  const received = await Promise.all(waits);
  const cpuAfter = await cpuOf(peers);

  const lastReceipt = new Float64Array(m + 1);
  const receipts = new Uint32Array(m + 1);
  let delivered = 0;
  let lastAny = 0;
  let frames = 0;
  let closed = 0;
  let unexpected = 0;
  let verifyErrors = 0;
  for (const r of received) {
    for (let v = 1; v <= m; v++) {
      receipts[v]! += r.receipts[v]!;
      if (r.lastReceipt[v]! > lastReceipt[v]!) lastReceipt[v] = r.lastReceipt[v]!;
    }
    delivered += r.delivered;
    frames += r.frames;
    closed += r.closed;
    unexpected += r.unexpected;
    verifyErrors += r.verifyErrors;
    lastAny = Math.max(lastAny, r.lastAny);
  }
  const latencies: number[] = [];
  for (let v = 1; v <= m; v++) {
    if (receipts[v] === clients) latencies.push(lastReceipt[v]! - written.sendTimes[v]!);
  }
  const { p50, p99 } = summarize(latencies);
  const timedOut = latencies.length < m;
  const problems: string[] = [];
  if (clients !== n) problems.push(`${clients}/${n} clients open`);
  if (timedOut) problems.push(`timeout after ${timeoutMs / 1000} s: ${m - latencies.length} of ${m} updates missed someone`);
  if (closed) problems.push(`${closed} clients closed mid-run`);
  if (unexpected) problems.push(`${unexpected} unexpected messages`);
  if (verifyErrors) problems.push(`${verifyErrors} frames failed verification`);
  return {
    kind: server.kind, n, m,
    rate: lastAny > written.first ? (delivered / (lastAny - written.first)) * 1000 : Number.NaN,
    p50, p99,
    fullyDelivered: latencies.length, delivered, expected: clients * m, frames,
    sendSeconds: (written.last - written.first) / 1000,
    cpu: {
      server: cpuAfter.server - cpuBefore.server,
      receivers: cpuAfter.receivers - cpuBefore.receivers,
      writer: cpuAfter.writer - cpuBefore.writer,
    },
    problems, timedOut,
  };
}

/** CPU seconds (user + system) used so far by this process and by the load processes. */
async function cpuOf(peers: Peers): Promise<CpuSeconds> {
  const seconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
  const [writer, ...receivers] = await Promise.all([peers.writer, ...peers.receivers].map((c) => c.call<NodeJS.CpuUsage>({ cmd: CPU_COMMAND })));
  return {
    server: seconds(process.cpuUsage()),
    receivers: receivers.reduce((sum, u) => sum + seconds(u), 0),
    writer: seconds(writer!),
  };
}
