// SPDX-License-Identifier: MIT
/**
 * @module metrics
 * What a hub that runs for months lets Prometheus see (`metrics: true` serves it on
 * `/_twin/metrics`): open connections, loaded stores and their op logs' bytes, commits and
 * their latency per store family, refused connections and messages by code, bytes sent, and
 * the process's own figures (memory, event-loop lag). It uses `prom-client`, the Prometheus
 * client for Node that the ecosystem maintains, with a registry of its own per server, so
 * two servers in one process (tests, several apps) do not mix their figures.
 *
 * Commits and message refusals come from the hub's `commit` and `refusal` events; refused
 * upgrades are counted by the server itself.
 */
import type { Socket } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Hub } from './hub.js';

/** What the hub emits after each commit. */
export interface CommitEvent {
  /** The store's full name (`room/42`). */
  readonly store: string;
  /** The store's family (`room`), or its name for a store that is not a family member. */
  readonly family?: string;
  /** How long the commit took, from its turn in the queue to stored and broadcast. */
  readonly ms: number;
}

/** What the hub emits when it refuses a client's message or batch. */
export interface RefusalEvent {
  readonly code: string;
}

/** What the metrics read from the server they describe. */
export interface MetricsSource {
  readonly hub: Hub;
  readonly connectionCount: number;
}

/** Latency buckets, in seconds: 1 ms to 5 s (a slow async schema or storage shows at the top). */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** What a label may look like; anything else is counted as `other`, so labels stay few. */
const CODE_LABEL = /^TWIN_ERR_[A-Z_]{1,40}$/;
const FAMILY_LABEL_MAX = 100;

/**
 * The Prometheus metrics of one server. `text()` is the exposition to serve.
 *
 * ```ts
 * const server = twin(app, { metrics: true });  // GET /_twin/metrics
 * server.metrics?.registry;                      // to merge into an app's own registry
 * ```
 */
export class TwinMetrics {
  readonly registry: Registry = new Registry();
  private readonly refusals: Counter<'code'>;
  private readonly commits: Counter<'family'>;
  private readonly commitSeconds: Histogram<'family'>;
  private readonly sockets = new Set<Socket>();
  /** Bytes written by sockets that have closed. */
  private closedBytes = 0;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    const hub = source.hub;
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'twin_connections', help: 'Open client WebSocket connections.', registers,
      collect() {
        this.set(source.connectionCount);
      },
    });
    new Gauge({
      name: 'twin_stores_loaded', help: 'Shared stores loaded in memory.', registers,
      collect() {
        let count = 0;
        for (const _store of hub.loaded()) count++;
        this.set(count);
      },
    });
    new Gauge({
      name: 'twin_log_bytes', help: 'Bytes of the op logs kept in memory for catch-up, all stores.', registers,
      collect() {
        let bytes = 0;
        for (const store of hub.loaded()) for (const entry of store.log) bytes += entry.public.length + (entry.own?.length ?? 0);
        this.set(bytes);
      },
    });
    const sockets = this.sockets;
    let reported = 0;
    const self = this;
    new Counter({
      name: 'twin_bytes_out_total', help: 'Bytes sent to clients on the wire (WebSocket frames and handshakes).', registers,
      collect() {
        let total = self.closedBytes;
        for (const socket of sockets) total += socket.bytesWritten;
        // A counter only goes up: add what was sent since the last scrape.
        if (total > reported) this.inc(total - reported);
        reported = Math.max(reported, total);
      },
    });
    this.refusals = new Counter({ name: 'twin_refusals_total', help: 'Refused connections and messages, by error code.', labelNames: ['code'], registers });
    this.commits = new Counter({ name: 'twin_commits_total', help: 'Committed batches, by store family.', labelNames: ['family'], registers });
    this.commitSeconds = new Histogram({
      name: 'twin_commit_duration_seconds', help: 'Time from a commit\'s turn to stored and broadcast, by store family.',
      labelNames: ['family'], buckets: COMMIT_BUCKETS, registers,
    });
    hub.on('commit', (event: CommitEvent) => this.commit(event));
    hub.on('refusal', (event: RefusalEvent) => this.refusal(event.code));
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The metrics in Prometheus's text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts a refusal with `code` (refused upgrades; the hub's come as `refusal` events). */
  refusal(code: string): void {
    this.refusals.inc({ code: CODE_LABEL.test(code) ? code : 'other' });
  }

  /** Counts the bytes `socket` sends until it closes. */
  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.closedBytes += socket.bytesWritten;
    });
  }

  private commit(event: CommitEvent): void {
    const family = String(event.family ?? familyOf(String(event.store))).slice(0, FAMILY_LABEL_MAX);
    this.commits.inc({ family });
    if (Number.isFinite(event.ms) && event.ms >= 0) this.commitSeconds.observe({ family }, event.ms / 1000);
  }
}

/** `room` for `room/42`; the name itself for a store that is not a family member. */
function familyOf(store: string): string {
  const slash = store.indexOf('/');
  return slash < 0 ? store : store.slice(0, slash);
}
