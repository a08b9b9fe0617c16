// SPDX-License-Identifier: MIT
/**
 * @module twin
 * `twin(app, options)`: the server of an app. It owns the hub (the stores' authority), the
 * WebSocket endpoint on `/_twin/ws` (attached to Koa's http.Server, with the Origin, the
 * address's limits and `auth` checked before a connection is made), and the Koa middleware that
 * serves the client bundles, the health check, the metrics and server-rendered pages.
 *
 * A refused upgrade is accepted and closed at once with a close code and a coded reason
 * (`4403 TWIN_ERR_ORIGIN: …`, `4401 TWIN_ERR_AUTH: …`, `1013 TWIN_ERR_OVERLOAD retry=…: …`):
 * browsers hide the HTTP status of a failed upgrade, so an HTTP 403 would look to the page like
 * a network failure and it would retry for ever. `close()` drains: it refuses newcomers with
 * 1012, lets commits in flight finish and reach their clients, then closes every socket with
 * 1012 and a retry hint.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { CloseCode, formatCloseReason } from '../src/close-codes.js';
import type { App } from '../src/define.js';
import { definitionsOf } from '../src/define.js';
import { ErrorCode, TwinError } from '../src/errors.js';
import { WS_PATH } from '../src/protocol.js';
import { AddressLimits, clientAddress, isLoopbackAddress } from './address-limits.js';
import { Connection } from './connection.js';
import { FrameCache } from './frames.js';
import type { ConnectionOwner } from './connection.js';
import { Hub } from './hub.js';
import { RateLimitedLogger } from './logger.js';
import { TwinMetrics } from './metrics.js';
import { twinMiddleware } from './middleware.js';
import { originPolicy } from './origins.js';
import { ServerPresence } from './presence.js';
import type { OriginPolicy } from './origins.js';
import { createMemoryStorage } from './storage-memory.js';
import { DEFAULT_SERVER_LIMITS, deflateOptions, requestInfo } from './twin-options.js';
import type { ClientEvent, RequestInfo, TwinLimits, TwinOptions } from './twin-options.js';

export { DEFAULT_SERVER_LIMITS };
export type { ClientEvent, RequestInfo, TwinLimits, TwinOptions };

const HEARTBEAT = 30_000;
/**
 * Room above maxFrameBytes before ws itself closes the connection (1009). ws buffers a frame
 * until it is whole, so this bounds what an unfinished frame can hold: just above the limit,
 * where a frame a little too big still gets a coded TWIN_ERR_TOO_BIG and the connection lives.
 */
const HARD_CAP_MARGIN = 64 << 10;
/** The retry hint sent with 1012 when the server shuts down. */
export const RESTART_RETRY_MS = 2_000;
/** The retry hint sent with 1013 when the server is over a connection limit. */
export const OVERLOAD_RETRY_MS = 10_000;
/** How long a closing handshake may take before the socket is cut. */
const CLOSE_TIMEOUT_MS = 5_000;
/** How long `close()` waits for clients to answer its close frames. */
const DRAIN_CLOSE_MS = 2_000;

import type { ServerStatus } from './operations.js';

export type { ServerStatus };

/**
 * The server of an app. Create it with {@link twin}.
 *
 * ```ts
 * const server = twin(app, { storage });
 * koa.use(server.middleware());
 * server.attach(koa.listen(3000));
 * ```
 */
export class TwinServer implements ConnectionOwner {
  readonly hub: Hub;
  readonly limits: TwinLimits;
  /** Resolves once every shared store (families aside) is loaded and usable by server code. */
  readonly ready: Promise<void>;
  /** The Prometheus metrics, with `metrics` on. */
  readonly metrics: TwinMetrics | undefined;
  /** Who is here, per store: ephemeral, in memory, never stored. */
  readonly presence: ServerPresence;
  /** Rate-limited logging, by message key. @internal */
  readonly log: RateLimitedLogger;
  private readonly options: TwinOptions;
  private readonly origins: OriginPolicy;
  private readonly addresses: AddressLimits;
  private _status: ServerStatus = 'starting';
  private closing: Promise<void> | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 0, closeTimeout: CLOSE_TIMEOUT_MS } as ConstructorParameters<typeof WebSocketServer>[0]);
  private readonly connections = new Set<Connection>();
  private readonly byClient = new Map<string, Connection>();
  private readonly dirtyConnections = new Set<Connection>();
  private flushScheduled = false;
  private readonly heartbeatTimer: ReturnType<typeof setInterval>;
  private readonly servers: { server: Server; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }[] = [];
  private ownsStorage: boolean;

  constructor(app: App, options: TwinOptions = {}) {
    this.origins = originPolicy(options.origins, options.publicUrl);
    if (options.metrics !== undefined && typeof options.metrics !== 'boolean' && typeof options.metrics !== 'function') {
      throw new TypeError('The "metrics" option must be true, false or a function of the request.');
    }
    if (options.trustProxy !== undefined && typeof options.trustProxy !== 'boolean' && !(Number.isInteger(options.trustProxy) && options.trustProxy > 0)) {
      throw new TypeError('The "trustProxy" option must be true, false or the number of proxies in front (1 or more).');
    }
    this.options = options;
    this.log = new RateLimitedLogger(options.logger ?? console);
    const given = options.limits ?? {};
    // An app that lifts the per-connection rate means its clients to have it, one address or not.
    const addressRate = Math.max(DEFAULT_SERVER_LIMITS.addressRate, given.rate ?? 0);
    const addressBurst = Math.max(DEFAULT_SERVER_LIMITS.addressBurst, given.burst ?? 0);
    this.limits = { ...DEFAULT_SERVER_LIMITS, addressRate, addressBurst, ...given };
    this.addresses = new AddressLimits(this.limits);
    // Frames over maxFrameBytes get a coded error from us and the connection stays up; ws
    // enforces a hard cap just above (close 1009), which is also all an unfinished frame holds.
    (this.wss.options as { maxPayload: number }).maxPayload = this.limits.maxFrameBytes + HARD_CAP_MARGIN;
    (this.wss.options as { perMessageDeflate: unknown }).perMessageDeflate = deflateOptions(options.compression);
    this.ownsStorage = !options.storage;
    this.hub = new Hub(app, { storage: options.storage ?? createMemoryStorage(), ...(options.logSize ? { logSize: options.logSize } : {}), maxDepth: this.limits.maxDepth, logger: this.log });
    this.metrics = options.metrics ? new TwinMetrics(this) : undefined;
    this.presence = new ServerPresence(options.presence);
    this.ready = Promise.all([...definitionsOf(app).stores.values()]
      .filter((d) => d.kind === 'shared' && !d.options.family)
      .map((d) => this.hub.load(d.name))).then(() => undefined);
    this.ready.then(
      () => void (this._status === 'starting' && (this._status = 'ready')),
      () => void (this._status === 'starting' && (this._status = 'failed')),
    ); // the rejection itself is surfaced to whoever awaits `ready`
    this.heartbeatTimer = setInterval(() => {
      for (const connection of this.connections) connection.heartbeat();
    }, options.heartbeat ?? HEARTBEAT);
    this.heartbeatTimer.unref();
  }

  /** Koa middleware: `/_twin/*` assets, `/_twin/health`, and pages rendered with current values. */
  middleware(): Middleware {
    return twinMiddleware(this, this.options.pages);
  }

  /** Serves the WebSocket endpoint `/_twin/ws` on `server` (Koa's `app.listen()` result). */
  attach(server: Server): this {
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== WS_PATH) return; // someone else's
      void this.upgrade(req, socket, head);
    };
    server.on('upgrade', listener);
    this.servers.push({ server, listener });
    return this;
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** What `/_twin/health` says: `ready` once {@link ready} resolved, `draining` once `close()` began. */
  get status(): ServerStatus {
    return this._status;
  }

  private get draining(): boolean {
    return this._status === 'draining';
  }

  /** Whether `request` may read `/_twin/metrics` (the `metrics` option). @internal */
  metricsAllowed(request: IncomingMessage): boolean {
    const option = this.options.metrics;
    if (typeof option !== 'function') return option === true;
    try {
      return Boolean(option(request));
    } catch (err) {
      this.log.error('metrics-hook', 'The "metrics" function threw; the metrics were refused:', err);
      return false;
    }
  }

  /**
   * Listens to client events: `connect`, `disconnect`, `subscribe`, `unsubscribe`. An error
   * `listener` throws is logged (`console.error`, as Koa logs an app's errors) and stops
   * nothing: not the other listeners, nor the connection the event is about.
   */
  on(event: 'connect' | 'disconnect' | 'subscribe' | 'unsubscribe', listener: (info: ClientEvent) => void): this;
  /**
   * `error`: what went wrong that no client's answer carries — a write by server code that was
   * refused (a `TwinError` with its code), or storage failing (the error storage threw). These
   * are also logged (`logger`, rate-limited); a listener is for an app that reports them.
   */
  on(event: 'error', listener: (error: unknown) => void): this;
  on(event: string, listener: (info: ClientEvent) => void): this {
    this.hub.on(event, (info: ClientEvent) => {
      try {
        listener(info);
      } catch (err) {
        console.error(`[twin-state] A ${event} listener threw:`, err);
      }
    });
    return this;
  }

  /**
   * Shuts down gracefully (call it on SIGTERM): `/_twin/health` says `draining` and new
   * connections are closed with 1012; clients' messages are no longer read; commits in flight
   * finish and their confirmations and broadcasts are sent; then every socket is closed with
   * 1012 and a retry hint (`TWIN_ERR_UNAVAILABLE retry=2000: …`), and storage the server
   * created is closed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  //#region ConnectionOwner

  /** @internal */
  claim(client: string, connection: Connection, adopted = false): void {
    const previous = this.byClient.get(client);
    if (previous && previous !== connection) {
      // The newcomer proved it owns the id (its key, see ClientRecords.claim), so it is the same
      // client back (its old socket may be half-open): it takes over, and the old one is closed.
      previous.fail(new TwinError(ErrorCode.REPLACED, 'This client connected again elsewhere.'), CloseCode.REPLACED);
    }
    this.byClient.set(client, connection);
    if (!adopted) this.hub.emit('connect', { client, user: connection.user });
  }

  /** @internal */
  dirty(connection: Connection): void {
    this.dirtyConnections.add(connection);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything bound for a client within this tick leaves as one frame.
    setImmediate(() => this.flush());
  }

  /** @internal */
  closed(connection: Connection): void {
    this.connections.delete(connection);
    this.dirtyConnections.delete(connection);
    for (const client of connection.clients()) {
      if (this.byClient.get(client) !== connection) continue;
      this.byClient.delete(client);
      if (client === connection.client) this.hub.emit('disconnect', { client, user: connection.user });
    }
  }

  //#endregion ConnectionOwner

  private flush(): void {
    this.flushScheduled = false;
    const dirty = [...this.dirtyConnections];
    this.dirtyConnections.clear();
    const frames = new FrameCache();
    for (const connection of dirty) connection.flush(frames);
  }

  private async drain(): Promise<void> {
    this._status = 'draining';
    clearInterval(this.heartbeatTimer);
    this.presence.close();
    // Read no more: what clients send now would land after the last commit we wait for.
    for (const ws of this.wss.clients) ws.pause();
    // Messages read already are on their way to the hub's queue within this turn of the loop.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await this.hub.close(); // waits for the commits in flight
    } finally {
      // Even if the hub failed to close, the sockets are closed and the failure is the caller's.
      this.flush(); // confirmations and broadcasts leave before the close frames
      const reason = formatCloseReason(ErrorCode.UNAVAILABLE, 'The server is restarting; reconnect shortly.', RESTART_RETRY_MS);
      const sockets = [...this.wss.clients];
      for (const ws of sockets) {
        ws.close(CloseCode.RESTART, reason);
        ws.resume(); // to read the client's answering close frame
      }
      await closedWithin(sockets, DRAIN_CLOSE_MS);
      for (const { server, listener } of this.servers) server.off('upgrade', listener);
      this.wss.close();
    }
    if (this.ownsStorage) await this.hub.storage.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.draining) {
      this.refuse(req, socket, head, CloseCode.RESTART, ErrorCode.UNAVAILABLE, 'The server is restarting; reconnect shortly.', RESTART_RETRY_MS);
      return;
    }
    const address = clientAddress(req, this.options.trustProxy);
    const bucket = this.addresses.open(address);
    if (!bucket) {
      const proxied = !this.options.trustProxy && isLoopbackAddress(address)
        ? ' If a proxy on this machine forwards your users, set "trustProxy" so each is counted by their own address.'
        : '';
      this.log.warn('overload-address', `Refused a WebSocket from ${address}: it holds its limit of ${this.limits.maxConnectionsPerAddress} connections (limits.maxConnectionsPerAddress).${proxied}`);
      this.refuse(req, socket, head, CloseCode.TRY_LATER, ErrorCode.OVERLOAD, 'Too many connections from your address; try again later.', OVERLOAD_RETRY_MS);
      return;
    }
    // Counted from now until the socket closes, however it ends (refused, upgraded, or a
    // handshake ws itself rejects), so refused and half-done upgrades count against the cap too.
    socket.once('close', () => this.addresses.close(address));
    const origin = req.headers.origin;
    if (origin !== undefined && !this.origins.allows(origin)) {
      this.log.warn('origin', `Refused a WebSocket from the page origin ${JSON.stringify(origin.slice(0, 200))}: ${this.origins.configured
        ? 'it is not among the allowed origins (the "publicUrl" and "origins" options).'
        : 'with neither "publicUrl" nor "origins" set, only loopback pages (localhost, 127.0.0.1, [::1]) may connect. Set "publicUrl" to the address users type (PUBLIC_URL for the CLI; behind a proxy, the proxy\'s public URL), or list the allowed pages in "origins".'}`);
      this.refuse(req, socket, head, CloseCode.ORIGIN_REFUSED, ErrorCode.ORIGIN, `Pages from ${origin} may not connect to this server.`);
      return;
    }
    if (this.connections.size >= this.limits.maxConnections) {
      this.log.warn('overload-total', `Refused a WebSocket: the server holds its limit of ${this.limits.maxConnections} connections (limits.maxConnections).`);
      this.refuse(req, socket, head, CloseCode.TRY_LATER, ErrorCode.OVERLOAD, 'The server is busy; try again later.', OVERLOAD_RETRY_MS);
      return;
    }
    const user = await this.authenticate(req);
    if (user === false) {
      this.log.warn('auth', 'Refused a WebSocket: the "auth" hook refused it.');
      this.refuse(req, socket, head, CloseCode.AUTH_REFUSED, ErrorCode.AUTH, 'The server refused this connection; sign in and reload.');
      return;
    }
    if (this.draining) {
      this.refuse(req, socket, head, CloseCode.RESTART, ErrorCode.UNAVAILABLE, 'The server is restarting; reconnect shortly.', RESTART_RETRY_MS);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.metrics?.track(socket as Socket);
      this.connections.add(new Connection(ws, user, this, bucket));
    });
  }

  /**
   * Refuses an upgrade so that a browser page can tell why: accepts it and closes at once with
   * `closeCode` and the coded reason (an HTTP status would reach the page as a mere failure).
   */
  private refuse(req: IncomingMessage, socket: Duplex, head: Buffer, closeCode: CloseCode, code: ErrorCode, message: string, retryMs?: number): void {
    this.metrics?.refusal(code);
    const reason = formatCloseReason(code, message, retryMs);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined); // a client gone before our close frame: nothing to do
      ws.close(closeCode, reason);
    });
  }

  /** The user of a request as the `auth` hook says, or false if it refuses. @internal */
  async authenticate(req: IncomingMessage): Promise<unknown> {
    try {
      return this.options.auth ? await this.options.auth(requestInfo(req)) : undefined;
    } catch (err) {
      this.log.error('auth-threw', 'The "auth" hook threw; the request was refused:', err);
      return false;
    }
  }
}

/**
 * Creates the server of `app`: the hub of its shared stores, a WebSocket endpoint to
 * attach to an http.Server, and Koa middleware. Binds the app to this server, so server code
 * that writes `chatRoom.messages.push(...)` commits and broadcasts like a client.
 */
export function twin(app: App, options: TwinOptions = {}): TwinServer {
  return new TwinServer(app, options);
}

/** Resolves once every socket in `sockets` has closed, cutting off those still open after `ms`. */
async function closedWithin(sockets: WebSocket[], ms: number): Promise<void> {
  const open = sockets.filter((ws) => ws.readyState !== ws.CLOSED);
  if (open.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(open.map((ws) => new Promise((resolve) => ws.once('close', resolve)))),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
  for (const ws of open) if (ws.readyState !== ws.CLOSED) ws.terminate();
}
