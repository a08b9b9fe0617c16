// SPDX-License-Identifier: MIT
/**
 * @module close-codes
 * How the server ends a WebSocket, and why, in a form both sides read. Browsers hide the HTTP
 * status of a refused upgrade (the page only sees a failed connection), so the server refuses
 * by accepting the upgrade and closing at once with an application close code and a reason:
 * `TWIN_ERR_AUTH: …`, `TWIN_ERR_ORIGIN: …`. Shutdown and overload are announced the same
 * way (1012, 1013) with a retry hint, `TWIN_ERR_UNAVAILABLE retry=2000: …`.
 *
 * The reason grammar: `CODE[ retry=MS][: message]`, at most {@link MAX_CLOSE_REASON_BYTES}
 * bytes of UTF-8 (RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of which
 * carry the code).
 */
import type { ErrorCode } from './errors.js';

/** WebSocket close codes twin-state uses, server and client alike. */
export const CloseCode = {
  /** The server shuts down for good (or the page goes away). */
  GOING_AWAY: 1001,
  /** Too many bad messages: the client broke the protocol's rules. */
  POLICY: 1008,
  /** The server restarts: reconnect after the reason's `retry=` hint, with jitter. */
  RESTART: 1012,
  /** The server is over a limit (connections, queue): reconnect later, after the `retry=` hint. */
  TRY_LATER: 1013,
  /** Another connection took over this client id. */
  REPLACED: 4009,
  /** The `auth` hook refused the connection: retrying will not help until something changes. */
  AUTH_REFUSED: 4401,
  /** The page's Origin is not allowed: retrying will not help. */
  ORIGIN_REFUSED: 4403,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The longest close reason, in bytes of UTF-8 (RFC 6455 §5.5: 125 bytes less the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A close reason as {@link parseCloseReason} reads it. */
export interface CloseReason {
  /** The twin error code (`TWIN_ERR_AUTH`...), or undefined if the reason is not one of ours. */
  readonly code: ErrorCode | undefined;
  /** What follows the code, or the whole reason if it is not one of ours. */
  readonly message: string;
  /** The server's hint of how long to wait before reconnecting, in ms. */
  readonly retry?: number;
}

const REASON = /^(TWIN_ERR_[A-Z_]+)(?: retry=(\d+))?(?:: ?([^]*))?$/;

/**
 * Reads a close reason written by {@link formatCloseReason}.
 *
 * ```ts
 * parseCloseReason('TWIN_ERR_UNAVAILABLE retry=2000: The server is restarting.');
 * // { code: 'TWIN_ERR_UNAVAILABLE', message: 'The server is restarting.', retry: 2000 }
 * ```
 */
export function parseCloseReason(reason: string): CloseReason {
  const match = REASON.exec(reason);
  // `retry` only when the reason has one (group 2 is digits, never empty).
  return match ? { code: match[1] as ErrorCode, message: match[3] ?? '', ...(match[2] && { retry: +match[2] }) } : { code: undefined, message: reason };
}

/**
 * A close reason `CODE[ retry=MS]: message`, cut (at a character, with `…`) to fit
 * {@link MAX_CLOSE_REASON_BYTES}, since `ws` throws on a longer one.
 */
export function formatCloseReason(code: ErrorCode, message: string, retryMs?: number): string {
  const head = retryMs === undefined ? code : `${code} retry=${Math.round(retryMs)}`;
  let reason = `${head}: ${message}`;
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= MAX_CLOSE_REASON_BYTES) return reason;
  // Cut by code points (never half a surrogate pair) until it fits with the ellipsis; a code
  // point is at least one byte, so start from the first MAX of them (an Origin may be long).
  const chars = [...reason].slice(0, MAX_CLOSE_REASON_BYTES);
  do {
    chars.pop();
    reason = `${chars.join('')}…`;
  } while (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES);
  return reason;
}
