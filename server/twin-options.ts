// SPDX-License-Identifier: MIT
/**
 * @module twin-options
 * What `twin(app, options)` takes, and the limits it applies when none are given: the
 * options users read and the defaults they can rely on, apart from the server that uses them.
 */
import type { IncomingMessage } from 'node:http';
import { DEFAULT_LIMITS } from '../src/protocol.js';
import type { Limits } from '../src/protocol.js';
import type { Logger } from './logger.js';
import type { PresenceOptions } from './presence.js';
import type { OriginsOption } from './origins.js';
import type { StorageAdapter } from './storage.js';

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
   * The app's public address(es), as users type them (`'https://chat.example'`): pages from
   * these origins may connect. Behind a proxy this is the proxy's public URL, not the address
   * Node listens on. The CLI reads it from `PUBLIC_URL`.
   */
  publicUrl?: string | readonly string[];
  /**
   * Further origins allowed to open a WebSocket: a list (`['https://admin.example']`, compared
   * exactly: scheme, host and port), `'*'` for any, or a predicate of the Origin header.
   * With neither this nor `publicUrl`, only loopback pages (`localhost`, `127.0.0.1`, `[::1]`,
   * any port) may connect. Never inferred from the request's Host header (DNS rebinding).
   * Clients without an Origin header (not browsers) are allowed; `auth` is their gate.
   */
  origins?: OriginsOption;
  /**
   * Who is connecting: return a user (any value) or `false` (or throw) to refuse the
   * connection: it is closed at once with code 4401 and `TWIN_ERR_AUTH`. Default: everyone,
   * as `undefined`.
   */
  auth?: (request: RequestInfo) => unknown;
  /** Limits on what clients may send and buffer; see {@link TwinLimits} for the defaults. */
  limits?: Partial<TwinLimits>;
  /**
   * Take the client's address from `X-Forwarded-For` (for the per-address limits): `true` for
   * the first address (a proxy that sets the header), a number `n` for the n-th from the right
   * (`n` proxies that each append to it). Only set it behind a proxy: otherwise any client can
   * name any address. Default: the socket's peer address.
   */
  trustProxy?: boolean | number;
  /**
   * Serve Prometheus metrics on `/_twin/metrics`: `true`, or a predicate of the request that
   * says who may read them (the endpoint answers 403 to the others). Default: off.
   */
  metrics?: boolean | ((request: IncomingMessage) => boolean);
  /**
   * Where the server logs what an operator must know (refused connections, by reason, at most
   * once a minute each). Default: `console`.
   */
  logger?: Logger;
  /** Folder of HTML pages (and their assets) to serve, rendered with current values. */
  pages?: string;
  /**
   * Compress what the server sends with permessage-deflate, which browsers offer by themselves:
   * `true` for frames of at least 1,024 bytes, or `{ threshold, windowBits }` (`threshold` in
   * bytes, `0`: every frame). It trades server CPU for bytes on the wire (`bench/wire.ts` prints
   * both). Each compressing connection keeps a deflate context of 2^(windowBits+2) + 64 KiB
   * (about 80 KiB with the default `windowBits: 12`, a 4 KiB window; 192 KiB with 15, a 32 KiB
   * window that finds repeats further back) and an inflate context of about 2^windowBits + 7 KiB
   * for what the browser compresses (it is asked to use the same window). Default: off.
   */
  compression?: boolean | { threshold?: number; windowBits?: number };
  /** Ping period in ms; a client that misses a pong is dropped. Default 30,000. */
  heartbeat?: number;
  /** Batches kept in memory per store for catch-up. Default 1,000. */
  logSize?: number;
  /**
   * Who is here (`presence.ts`): the grace before a closed connection's peer leaves (`graceMs`,
   * 10 s), the frame interval per store (`intervalMs`, 50 ms), peers per store (`maxPeers`,
   * 2,000), and the `bus` that carries presence between nodes (`createRedisPresenceBus`).
   */
  presence?: PresenceOptions;
}

/** Limits of the server on top of the protocol's. */
export interface ServerLimits extends Limits {
  /** Messages a client may send per second, on average. Default 200. */
  rate: number;
  /** Messages a client may send in a burst (keep it ≥ maxMessages, or full frames never pass). Default 400. */
  burst: number;
  /** Refusals (bad frames, rate) a client may earn before it is disconnected. Default 50. */
  strikes: number;
  /** Bytes waiting to be sent to one client before it is dropped as too slow. Default 8 MiB. */
  maxBuffer: number;
  /** Stores one `hello` may subscribe to; `sub` messages bring more. Default 256. */
  maxSubs: number;
  /** Family members one connection may create per second, on average (burst: 10×). Default 5. */
  createRate: number;
}

/** Limits of a server: per connection ({@link ServerLimits}), per address and in all. */
export interface TwinLimits extends ServerLimits {
  /** Open connections in all; past it, newcomers are closed with 1013 `TWIN_ERR_OVERLOAD`. Default 10,000. */
  maxConnections: number;
  /** Open connections from one address; past it, 1013 `TWIN_ERR_OVERLOAD`. Default 64. */
  maxConnectionsPerAddress: number;
  /**
   * Messages per second, on average, for all connections of one address together, so
   * reconnecting, or opening more connections, buys at most this much. It is a multiple of
   * `rate` so a few honest clients behind one NAT, each pacing itself within `rate`, fit;
   * raise it for many users behind one NAT. Default 1,000, or `rate` if that is higher.
   */
  addressRate: number;
  /** Messages in a burst for all connections of one address. Default 2,000, or `burst` if that is higher. */
  addressBurst: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<TwinLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  rate: 200,
  burst: 400,
  strikes: 50,
  maxBuffer: 8 << 20,
  maxSubs: 256,
  createRate: 5,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 64,
  addressRate: 1_000,
  addressBurst: 2_000,
});

/** Information passed to `connect`/`disconnect`/`subscribe`/`unsubscribe` listeners. */
export interface ClientEvent {
  readonly client: string;
  readonly user: unknown;
  readonly store?: string;
}

/** What `auth` sees of an HTTP request. */
export function requestInfo(request: IncomingMessage): RequestInfo {
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

/**
 * `ws`'s permessage-deflate settings for the `compression` option, or false. By default a 4 KB
 * window and memLevel 7 bound each connection's deflate context (about 80 KB) while keeping
 * most of the gain on small, repetitive frames; the context is kept between frames (what makes
 * `sync` frames, alike from one to the next, small).
 */
export function deflateOptions(compression: TwinOptions['compression']): false | object {
  if (!compression) return false;
  const { threshold = 1024, windowBits = 12 } = compression === true ? {} : compression;
  if (!Number.isInteger(threshold) || threshold < 0) throw new TypeError('The "compression" threshold must be a whole number of bytes (0 or more).');
  if (!Number.isInteger(windowBits) || windowBits < 9 || windowBits > 15) throw new TypeError('The "compression" windowBits must be a whole number from 9 to 15.');
  // (The client's frames are inflated with a window as small: the memory stated holds both ways.)
  return { threshold, serverMaxWindowBits: windowBits, clientMaxWindowBits: windowBits, zlibDeflateOptions: { memLevel: 7 } };
}
