// SPDX-License-Identifier: MIT
/**
 * @module link
 * A client's WebSocket to the hub, kept open: it reconnects with capped, jittered exponential
 * backoff (waiting for the server's `retry=` hint after a restart or overload, and not at all
 * while the tab is hidden or the browser offline), notices a dead link with a heartbeat, and
 * tells a refusal (Origin, `auth`: close 4403/4401) from a network failure — it stops then,
 * until `connect()` is called again.
 *
 * What it sends obeys the limits the server stated in `welcome`: messages are split into
 * frames within `maxMessages` and `maxFrameBytes`, and paced within `rate` and `burst`.
 */
import { CloseCode, parseCloseReason } from './close-codes.js';
import { DEV_MODE } from './dev.js';
import { ErrorCode, TwinError } from './errors.js';
import { DEFAULT_LIMITS, readServerFrame } from './protocol.js';
import type { ClientMessage, ServerMessage, StatedLimits } from './protocol.js';
import { state } from './signals.js';

/** The state of a client's connection. `refused`: the server will not take this page (Origin, auth). */
export type ConnectionState = 'connecting' | 'online' | 'offline' | 'refused';

/** The WebSocket class to use (the browser's by default; pass `ws`'s in Node). */
export type WebSocketClass = new (url: string) => WebSocket;

/** Limits assumed until the server states its own. */
export const ASSUMED_LIMITS: Readonly<StatedLimits> = Object.freeze({ ...DEFAULT_LIMITS, rate: 200, burst: 400 });

const MIN_DELAY = 250;
const MAX_DELAY = 5000;
const HEARTBEAT = 15_000;
/** Share of the stated rate and burst the client uses: arrivals bunch up on the way. */
const PACE = 0.8;
/** `WebSocket.OPEN`. */
const OPEN = 1;

export interface LinkOptions {
  url?: string | undefined;
  WebSocket?: WebSocketClass | undefined;
  minDelay?: number | undefined;
  maxDelay?: number | undefined;
  heartbeat?: number | undefined;
}

/** What the link tells its owner. */
export interface LinkEvents {
  /** The socket opened: say hello (with {@link Link.sendNow}). */
  opened(): void;
  /** A message from the server. */
  message(message: ServerMessage): void;
  /** The connection state changed. */
  changed(next: ConnectionState): void;
  /** The server refused this page for good (until `connect()`): why. */
  refused(error: TwinError): void;
}

export interface Link {
  readonly state: ReturnType<typeof state<ConnectionState>>;
  /** The limits the server stated (or assumed ones before it did). */
  limits: StatedLimits;
  /** Queues messages to send as soon as pacing allows; nothing goes before {@link ready}. */
  send(message: ClientMessage): void;
  /** Sends at once, ahead of the queue (hello). */
  sendNow(message: ClientMessage): void;
  /** The server welcomed us: `online`, start sending. */
  ready(limits: StatedLimits | undefined): void;
  /** Opens the connection if nothing else will. */
  wake(): void;
  connect(url: string | undefined): void;
  close(): void;
  /** Whether the owner asked for the link to stay closed. */
  readonly closed: boolean;
  /** Why the server refused this page (until `connect()` is called again). */
  readonly refusal: TwinError | undefined;
}

/** Creates the link; it opens when first woken. */
export function createLink(options: LinkOptions, defaultUrl: () => string | undefined, events: LinkEvents): Link {
  const connection = state<ConnectionState>('offline');
  let url = options.url;
  let socket: WebSocket | undefined;
  let online = false;
  let closed = false;
  let refusal: TwinError | undefined;
  let attempts = 0;
  let heard = 0;
  let tokens = 0;
  let refilled = 0;
  let outbox: ClientMessage[] = [];
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  let paceTimer: ReturnType<typeof setTimeout> | undefined;
  let flushQueued = false;

  const setState = (next: ConnectionState) => {
    if (connection.get() === next) return;
    connection.set(next);
    events.changed(next);
  };

  const open = () => {
    const WS = options.WebSocket ?? (globalThis.WebSocket as WebSocketClass | undefined);
    if (!WS) throw new TypeError(DEV_MODE ? 'twin-state: no WebSocket class here; pass { WebSocket } from the "ws" package.' : 'twin-state: no WebSocket');
    clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    setState('connecting');
    const ws = (socket = new WS(url!));
    ws.onopen = () => {
      heard = Date.now();
      const period = options.heartbeat ?? HEARTBEAT;
      clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(() => {
        // Nothing heard for two periods: the link is dead even if the socket does not know it.
        if (Date.now() - heard <= 2 * period) link.send({ t: 'ping' });
        else if (ws === socket) {
          lost(ws);
          ws.close();
        }
      }, period);
      events.opened();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws !== socket) return;
      heard = Date.now();
      try {
        for (const message of readServerFrame(String(event.data))) events.message(message);
      } catch (err) {
        // Not what a twin server sends (a broken proxy, say): drop the link. The next one
        // starts over from the versions held here, and the server sends what they lack.
        if (DEV_MODE) console.warn('[twin-state] Malformed message from the server; reconnecting.', err);
        lost(ws);
        ws.close();
      }
    };
    ws.onclose = (event: CloseEvent) => lost(ws, event?.code, event?.reason);
    // Without a listener, Node's `ws` throws on errors; onclose follows and reconnects.
    ws.onerror = () => {};
  };

  /** Forgets the socket: offline until the next one is welcomed. */
  const drop = () => {
    socket = undefined;
    online = false;
    outbox = [];
    clearInterval(heartbeatTimer);
    clearTimeout(paceTimer);
    paceTimer = undefined;
  };

  /** `ws` closed, or went silent: go offline and, unless told otherwise, reconnect. */
  const lost = (ws: WebSocket, code?: number, reason = '') => {
    if (ws !== socket) return;
    drop();
    const why = parseCloseReason(reason);
    if (code === CloseCode.AUTH_REFUSED || code === CloseCode.ORIGIN_REFUSED || code === CloseCode.REPLACED) {
      // Retrying cannot help: say why, and wait for connect().
      closed = true;
      setState(code === CloseCode.REPLACED ? 'offline' : 'refused');
      refusal = new TwinError(why.code ?? (code === CloseCode.AUTH_REFUSED ? ErrorCode.AUTH : code === CloseCode.ORIGIN_REFUSED ? ErrorCode.ORIGIN : ErrorCode.REPLACED), why.message || reason);
      events.refused(refusal);
      return;
    }
    setState('offline');
    if (!closed) reconnectLater(why.retry);
  };

  const reconnectLater = (hint?: number) => {
    if (paused()) return; // resumed by the `visibilitychange` / `online` listeners
    const backoff = backoffDelay(attempts++, options.minDelay ?? MIN_DELAY, options.maxDelay ?? MAX_DELAY);
    const delay = Math.max(backoff, hint ?? 0);
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(open, delay * (0.5 + Math.random()));
  };

  /** Hidden tabs and offline browsers do not reconnect: nobody sees it, or it cannot work. */
  const paused = () => globalThis.document?.visibilityState === 'hidden' || globalThis.navigator?.onLine === false;
  const resume = () => {
    if (!socket && !closed && !paused() && url) {
      attempts = 0;
      open();
    }
  };
  globalThis.addEventListener?.('online', resume);
  globalThis.document?.addEventListener('visibilitychange', resume);

  /** Takes up to `want` tokens of the pacing bucket; returns how many it took. */
  const take = (want: number) => {
    const now = Date.now();
    tokens = Math.min(link.limits.burst * PACE, tokens + ((now - refilled) / 1000) * link.limits.rate * PACE);
    refilled = now;
    const got = Math.min(want, Math.floor(tokens));
    tokens -= got;
    return got;
  };

  /** Sends the queue as frames within the limits, as fast as the pace allows. */
  const flush = () => {
    flushQueued = false;
    paceTimer = undefined;
    while (online && socket?.readyState === OPEN && outbox.length) {
      const { maxMessages, maxFrameBytes } = link.limits;
      const texts: string[] = [];
      let bytes = 2;
      for (const message of outbox) {
        if (texts.length >= maxMessages) break;
        const text = JSON.stringify(message);
        const size = utf8Length(text) + 1;
        if (texts.length && bytes + size > maxFrameBytes) break;
        texts.push(text);
        bytes += size;
      }
      const count = take(texts.length);
      if (count === 0) {
        paceTimer = setTimeout(flush, Math.ceil(1000 / (link.limits.rate * PACE)));
        return;
      }
      outbox = outbox.slice(count);
      socket.send(count === 1 ? texts[0]! : `[${texts.slice(0, count).join(',')}]`);
    }
  };

  const link: Link = {
    state: connection,
    limits: ASSUMED_LIMITS,
    get closed() {
      return closed;
    },
    get refusal() {
      return refusal;
    },
    send(message) {
      // The first message to send opens the connection.
      link.wake();
      // Before welcome, nothing goes out: the owner re-sends whatever is still unconfirmed.
      if (!online) return;
      outbox.push(message);
      if (!flushQueued && !paceTimer) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    },
    sendNow(message) {
      if (socket?.readyState === OPEN) socket.send(JSON.stringify(message));
    },
    ready(limits) {
      link.limits = limits ?? ASSUMED_LIMITS;
      tokens = link.limits.burst * PACE;
      refilled = Date.now();
      attempts = 0;
      online = true;
      setState('online');
      flush();
    },
    wake() {
      // (Not while the browser is offline: the `online` listener opens it then.)
      if (!socket && !closed && !reconnectTimer && globalThis.navigator?.onLine !== false && (url ??= defaultUrl())) open();
    },
    connect(next) {
      if (next) url = next;
      url ??= defaultUrl();
      if (!url) throw new TypeError(DEV_MODE ? 'twin-state: no server URL: call connect("wss://host/_twin/ws").' : 'twin-state: no URL');
      closed = false;
      refusal = undefined;
      attempts = 0;
      const old = socket;
      drop();
      old?.close();
      open();
    },
    close() {
      closed = true;
      clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      const old = socket;
      drop();
      old?.close();
      setState('offline');
    },
  };
  return link;
}

/** The pause before try `attempt` (0, 1, …): doubling from `min`, capped at `max`; callers add jitter. */
export function backoffDelay(attempt: number, min: number, max: number): number {
  return Math.min(max, min * 2 ** attempt);
}

/** Bytes of `text` in UTF-8. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // 2 bytes below 0x800, 3 for the rest of the BMP, 4 for a surrogate pair (2 units).
    if (c >= 0x80) bytes += c < 0x800 ? 1 : c >= 0xd800 && c < 0xdc00 ? (i++, 2) : 2;
  }
  return bytes;
}
