// SPDX-License-Identifier: MIT
/**
 * @module errors
 * The one error class of twin-state and its fixed, machine-readable codes. Every refusal —
 * a bad path, a bad frame, an unauthorized write — is a `TwinError` with one of these codes,
 * so clients and tests can branch on `err.code` instead of parsing messages.
 */

/** Every error code twin-state produces. The strings are part of the wire protocol. */
export const ErrorCode = {
  /** A path names a forbidden key, a missing container or the wrong container type. */
  PATH: 'TWIN_ERR_PATH',
  /** A value is not JSON data (a function, a Date, NaN, a cycle...). */
  VALUE: 'TWIN_ERR_VALUE',
  /** A value or path is nested deeper than the limit. */
  DEPTH: 'TWIN_ERR_DEPTH',
  /** An op is malformed or of an unknown kind. */
  OP: 'TWIN_ERR_OP',
  /** A frame is not valid JSON or not a known message. */
  FRAME: 'TWIN_ERR_FRAME',
  /** A frame is larger than the limit. */
  TOO_BIG: 'TWIN_ERR_TOO_BIG',
  /** The client speaks another protocol version. */
  PROTO: 'TWIN_ERR_PROTO',
  /** No store with this name (or the family id is invalid). */
  STORE: 'TWIN_ERR_STORE',
  /** No action with this name. */
  ACTION: 'TWIN_ERR_ACTION',
  /** The action threw; the message is the action's own when it is marked safe to expose. */
  ACTION_FAILED: 'TWIN_ERR_ACTION_FAILED',
  /** The new state breaks the store's schema. */
  SCHEMA: 'TWIN_ERR_SCHEMA',
  /** `authorize` or `canRead` refused. */
  FORBIDDEN: 'TWIN_ERR_FORBIDDEN',
  /** The client sends faster than its rate limit. */
  RATE: 'TWIN_ERR_RATE',
  /** A batch id does not belong to the connection that sent it, or a message came before `hello`. */
  ID: 'TWIN_ERR_ID',
  /** The connection was replaced by a newer one with the same client id. */
  REPLACED: 'TWIN_ERR_REPLACED',
  /** The Origin of a WebSocket upgrade is not allowed. */
  ORIGIN: 'TWIN_ERR_ORIGIN',
  /** The `auth` hook refused the connection. */
  AUTH: 'TWIN_ERR_AUTH',
  /** Storage refused an append because another node wrote that version first. */
  CONFLICT: 'TWIN_ERR_CONFLICT',
  /** A write to a store that cannot be written here (a local store on the server, a detached object). */
  READONLY: 'TWIN_ERR_READONLY',
  /** The definition is invalid (a duplicate name, a bad option). */
  DEFINE: 'TWIN_ERR_DEFINE',
  /** Something failed on the server that is not the client's fault. */
  INTERNAL: 'TWIN_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An error with a fixed `code`. `expose` marks errors whose message may be sent to a client;
 * the server replaces the message of any other error with a generic one and logs the original.
 */
export class TwinError extends Error {
  override name = 'TwinError';
  readonly code: ErrorCode;
  /** True when the message is safe to show to clients. Errors we raise on bad input are. */
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; expose?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.expose = options?.expose ?? true;
  }
}

/** Whether `err` is a {@link TwinError}, even one thrown by another copy of twin-state. */
export function isTwinError(err: unknown): err is TwinError {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('TWIN_ERR_');
}
