// SPDX-License-Identifier: MIT
/**
 * @module twin
 * `twin(app, options)`: the server of an app. It owns the hub (the stores' authority), the
 * WebSocket endpoint on `/_twin/ws` (attached to Koa's http.Server, with Origin and `auth`
 * checked before the upgrade happens), and the Koa middleware that serves the client bundles,
 * the health check and server-rendered pages.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { WebSocketServer } from 'ws';
import type { App } from '../src/define.js';
import { definitionsOf } from '../src/define.js';
import { ErrorCode, TwinError } from '../src/errors.js';
import { DEFAULT_LIMITS, WS_PATH } from '../src/protocol.js';
import { CloseCode, Connection } from './connection.js';
import type { ConnectionOwner, ServerLimits } from './connection.js';
import { Hub } from './hub.js';
import { twinMiddleware } from './middleware.js';
import type { StorageAdapter } from './storage.js';
import { createMemoryStorage } from './storage-memory.js';

/** What the `auth` hook sees of a request (the WebSocket upgrade, or a page request for SSR). */
export interface RequestInfo {
  readonly request: IncomingMessage;
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  /** The request's cookies, parsed. */
  readonly cookies: Readonly<Record<string, string>>;
}

export interface TwinOptions {
  /** Where shared stores are kept. Default: in memory (`createMemoryStorage()`). */
  storage?: StorageAdapter;
  /**
   * Origins allowed to open a WebSocket: a list (`['https://app.example']`), `'*'`, or a
   * predicate. Default: only the server's own origin (the Origin's host equals the Host
   * header); clients without an Origin header (not browsers) are allowed.
   */
  origins?: readonly string[] | '*' | ((origin: string) => boolean);
  /**
   * Who is connecting: return a user (any value) or `false` (or throw) to refuse the
   * connection with 401 before it is upgraded. Default: everyone, as `undefined`.
   */
  auth?: (request: RequestInfo) => unknown;
  /** Limits on what clients may send and buffer; see {@link ServerLimits} for the defaults. */
  limits?: Partial<ServerLimits>;
  /** Folder of HTML pages (and their assets) to serve, rendered with current values. */
  pages?: string;
  /** Ping period in ms; a client that misses a pong is dropped. Default 30,000. */
  heartbeat?: number;
  /** Batches kept in memory per store for catch-up. Default 1,000. */
  logSize?: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  rate: 200,
  burst: 400,
  strikes: 50,
  maxBuffer: 8 << 20,
});

const HEARTBEAT = 30_000;
/** Room above maxFrameBytes before ws itself closes the connection (1009). */
const HARD_CAP_MARGIN = 64 << 10;

/** Information passed to `connect`/`disconnect`/`subscribe`/`unsubscribe` listeners. */
export interface ClientEvent {
  readonly client: string;
  readonly user: unknown;
  readonly store?: string;
}

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
  readonly limits: ServerLimits;
  /** Resolves once every shared store (families aside) is loaded and usable by server code. */
  readonly ready: Promise<void>;
  private readonly options: TwinOptions;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 0 });
  private readonly connections = new Set<Connection>();
  private readonly byClient = new Map<string, Connection>();
  private readonly dirtyConnections = new Set<Connection>();
  private flushScheduled = false;
  private readonly heartbeatTimer: ReturnType<typeof setInterval>;
  private readonly servers: { server: Server; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }[] = [];
  private ownsStorage: boolean;

  constructor(app: App, options: TwinOptions = {}) {
    if (options.origins !== undefined && options.origins !== '*' && typeof options.origins !== 'function' && !Array.isArray(options.origins)) {
      throw new TypeError('The "origins" option must be a list of origins, "*" or a function.');
    }
    this.options = options;
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    // Frames over maxFrameBytes get a coded error from us and the connection stays up; ws
    // enforces a looser hard cap itself (close 1009) so a huge frame is never buffered whole.
    (this.wss.options as { maxPayload: number }).maxPayload = Math.max(4 * this.limits.maxFrameBytes, this.limits.maxFrameBytes + HARD_CAP_MARGIN);
    this.ownsStorage = !options.storage;
    this.hub = new Hub(app, { storage: options.storage ?? createMemoryStorage(), ...(options.logSize ? { logSize: options.logSize } : {}), maxDepth: this.limits.maxDepth });
    this.ready = Promise.all([...definitionsOf(app).stores.values()]
      .filter((d) => d.kind === 'shared' && !d.options.family)
      .map((d) => this.hub.load(d.name))).then(() => undefined);
    this.ready.catch(() => undefined); // surfaced to whoever awaits it
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

  /**
   * Listens to client events: `connect`, `disconnect`, `subscribe`, `unsubscribe`. An error
   * `listener` throws is logged (`console.error`, as Koa logs an app's errors) and stops
   * nothing: not the other listeners, nor the connection the event is about.
   */
  on(event: 'connect' | 'disconnect' | 'subscribe' | 'unsubscribe', listener: (info: ClientEvent) => void): this {
    this.hub.on(event, (info: ClientEvent) => {
      try {
        listener(info);
      } catch (err) {
        console.error(`[twin-state] A ${event} listener threw:`, err);
      }
    });
    return this;
  }

  /** Stops accepting connections, closes every client, waits for commits in flight, releases storage it created. */
  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    for (const { server, listener } of this.servers) server.off('upgrade', listener);
    this.flush();
    for (const connection of this.connections) connection.terminate(CloseCode.GOING_AWAY);
    this.wss.close();
    await this.hub.close();
    if (this.ownsStorage) await this.hub.storage.close();
  }

  //#region ConnectionOwner

  /** @internal */
  claim(client: string, connection: Connection): void {
    const previous = this.byClient.get(client);
    if (previous && previous !== connection) {
      // Client ids are secrets, so the newcomer is the same client back (its old socket may
      // be half-open): it takes over, and the old connection is told and closed.
      previous.fail(new TwinError(ErrorCode.REPLACED, 'This client connected again elsewhere.'), CloseCode.REPLACED);
    }
    this.byClient.set(client, connection);
    this.hub.emit('connect', { client, user: connection.user });
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
    if (connection.client && this.byClient.get(connection.client) === connection) {
      this.byClient.delete(connection.client);
      this.hub.emit('disconnect', { client: connection.client, user: connection.user });
    }
  }

  //#endregion ConnectionOwner

  private flush(): void {
    this.flushScheduled = false;
    const dirty = [...this.dirtyConnections];
    this.dirtyConnections.clear();
    for (const connection of dirty) connection.flush();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) {
      refuse(socket, 403, `${ErrorCode.ORIGIN}: WebSocket connections from ${origin} are not allowed.`);
      return;
    }
    const user = await this.authenticate(req);
    if (user === false) {
      refuse(socket, 401, `${ErrorCode.AUTH}: not allowed to connect.`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.connections.add(new Connection(ws, user, this));
    });
  }

  /** The user of a request as the `auth` hook says, or false if it refuses. @internal */
  async authenticate(req: IncomingMessage): Promise<unknown> {
    try {
      return this.options.auth ? await this.options.auth(requestInfo(req)) : undefined;
    } catch {
      return false;
    }
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
    const allowed = this.options.origins;
    try {
      if (allowed === '*') return true;
      if (typeof allowed === 'function') return allowed(origin);
      if (allowed) return allowed.includes(origin);
      return new URL(origin).host === host;
    } catch {
      // An Origin that is not a URL, or an `origins` function that throws: refuse, as `auth` does.
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

/** What `auth` sees of an HTTP request. */
function requestInfo(request: IncomingMessage): RequestInfo {
  const cookies: Record<string, string> = {};
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      const value = part.slice(eq + 1).trim();
      try {
        cookies[part.slice(0, eq).trim()] = decodeURIComponent(value);
      } catch {
        cookies[part.slice(0, eq).trim()] = value;
      }
    }
  }
  return { request, url: new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`), headers: request.headers, cookies };
}

/** Answers an upgrade request with an HTTP error and closes the socket (no WebSocket is made). */
function refuse(socket: Duplex, status: number, message: string): void {
  const reason = status === 403 ? 'Forbidden' : 'Unauthorized';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
}
