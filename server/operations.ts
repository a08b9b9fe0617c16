// SPDX-License-Identifier: MIT
/**
 * @module operations
 * The endpoints an operator's tools read: `/_twin/health` for load balancers and orchestrators
 * (200 `ready` once the stores are loaded; 503 `starting`, `draining` while `close()` runs, or
 * `failed`), and `/_twin/metrics` for Prometheus when the `metrics` option is on.
 */
import type { Context } from 'koa';
import type { IncomingMessage } from 'node:http';

/** What `/_twin/health` says: starting (stores loading), ready, draining (closing), failed (stores did not load). */
export type ServerStatus = 'starting' | 'ready' | 'draining' | 'failed';

/** What the health and metrics endpoints read of the server (a `TwinServer`). */
export interface OperationsHost {
  readonly status: ServerStatus;
  readonly connectionCount: number;
  readonly metrics: { readonly contentType: string; text(): Promise<string> } | undefined;
  metricsAllowed(request: IncomingMessage): boolean;
}

const HEALTH_PATH = '/_twin/health';
const METRICS_PATH = '/_twin/metrics';
/** HTTP statuses of the health check: only a ready server takes traffic. */
const READY_STATUS = 200;
const NOT_READY_STATUS = 503;

/**
 * Answers `ctx` if it asks for the health check or the metrics; false (touching nothing) for
 * any other request. @internal
 */
export async function serveOperations(server: OperationsHost, ctx: Context): Promise<boolean> {
  if (ctx.path === HEALTH_PATH) {
    const status = server.status;
    ctx.set('Cache-Control', 'no-store');
    ctx.status = status === 'ready' ? READY_STATUS : NOT_READY_STATUS;
    ctx.body = { status, ok: status === 'ready', connections: server.connectionCount };
    return true;
  }
  if (ctx.path === METRICS_PATH && server.metrics) {
    ctx.set('Cache-Control', 'no-store');
    if (!server.metricsAllowed(ctx.req)) {
      ctx.status = 403;
      ctx.body = 'The metrics are not open to this request (the "metrics" option).';
      return true;
    }
    ctx.type = server.metrics.contentType;
    ctx.body = await server.metrics.text();
    return true;
  }
  return false;
}
