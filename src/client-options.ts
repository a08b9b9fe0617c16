// SPDX-License-Identifier: MIT
/**
 * @module client-options
 * What a client is made with, and the shapes it hands to the page: the hydration data, the
 * details of a refusal, a stale write.
 */
import type { Json } from './json.js';
import type { WebSocketClass } from './link.js';

export interface ClientOptions {
  /** The hub's WebSocket URL. Default: `/_twin/ws` on the server this script came from. */
  url?: string;
  /** Default `globalThis.WebSocket`. */
  WebSocket?: WebSocketClass;
  /** First reconnect delay in ms; doubles per failure up to {@link maxDelay}, with jitter. Default 250. */
  minDelay?: number;
  /** Longest reconnect delay in ms. Default 5,000. */
  maxDelay?: number;
  /** Heartbeat period in ms; a link silent for two periods is closed and reopened. Default 15,000. */
  heartbeat?: number;
  /** The hydration data rendered by the server (default: read from the page's `#twin-hydration`). */
  hydration?: Hydration;
  /** Where persisted local stores go; default the page's `localStorage`/`sessionStorage`. */
  storage?: { local?: Storage | undefined; session?: Storage | undefined };
  /**
   * Where unconfirmed writes and calls wait, so a reload or a closed tab does not lose them
   * (see `outbox.ts`). The page's own client uses `localStorage`; other clients keep them in
   * memory unless given one.
   */
  outbox?: Storage | undefined;
  /**
   * Where the tab's presence key is kept, so a reload stays the same peer (see `presence.ts`).
   * The page's own client uses `sessionStorage`; other clients get a new key each.
   */
  presenceStorage?: Storage | undefined;
  /** Age in ms past which a write found in the outbox is stale: handed back, not sent. Default 24 h. */
  outboxMaxAge?: number;
  /** Warn before the page unloads while a write is pending that the outbox could not keep. */
  guardUnload?: boolean;
}

/** The data the server renders into a page so the client starts where the page is. */
export interface Hydration {
  shared?: Record<string, { value: Json; v: number }>;
  local?: Record<string, { value: Json; persist?: 'local' | 'session' }>;
}

/**
 * A write a gone page left in the outbox that was not sent: older than `outboxMaxAge`, or made
 * against another `version` of its store. The app decides: send it after all, or drop it.
 */
export interface StaleWrite {
  /** Its batch id. */
  readonly id: string;
  /** The store it writes to (undefined for an action call). */
  readonly store: string | undefined;
  /** When it was made (ms since the epoch). */
  readonly made: number;
  readonly code: string;
  readonly message: string;
  /**
   * Makes it again as a new write (or call) of this page, and sends that: under its old id the
   * server would take it for applied once a later write of the same page was.
   */
  retry(): void;
  /** Forgets it. */
  discard(): void;
}

/** Details of a `reject` event. */
export interface RejectDetail {
  readonly store: string | undefined;
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

export type { ConnectionState, WebSocketClass } from './link.js';

