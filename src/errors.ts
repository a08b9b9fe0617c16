// SPDX-License-Identifier: MIT
/**
 * @module errors
 * The one error class of twin-state and its fixed, machine-readable codes. Every refusal —
 * a bad path, a bad frame, an unauthorized write — is a `TwinError` with one of these codes,
 * so clients and tests can branch on `err.code` instead of parsing messages.
 *
 * Messages are full sentences in dev mode (the server, tests). The production bundles keep
 * only the code and what it is about (`TWIN_ERR_PATH set messages.3.text`): see {@link twinError}.
 */
import { DEV_MODE } from './dev.js';

/** The error codes, by name: `ErrorCode.PATH` is `'TWIN_ERR_PATH'`. */
export interface ErrorCodes {
  /** A path names a forbidden key, a missing container or the wrong container type. */
  readonly PATH: 'TWIN_ERR_PATH';
  /** A value is not JSON data (a function, a Date, NaN, a cycle...). */
  readonly VALUE: 'TWIN_ERR_VALUE';
  /** A value or path is nested deeper than the limit. */
  readonly DEPTH: 'TWIN_ERR_DEPTH';
  /** An op is malformed or of an unknown kind. */
  readonly OP: 'TWIN_ERR_OP';
  /** A frame is not valid JSON or not a known message. */
  readonly FRAME: 'TWIN_ERR_FRAME';
  /** A frame is larger than the limit. */
  readonly TOO_BIG: 'TWIN_ERR_TOO_BIG';
  /** The client speaks another protocol version. */
  readonly PROTO: 'TWIN_ERR_PROTO';
  /** No store with this name (or the family id is invalid). */
  readonly STORE: 'TWIN_ERR_STORE';
  /** No action with this name. */
  readonly ACTION: 'TWIN_ERR_ACTION';
  /** The action threw; the message is the action's own when it is marked safe to expose. */
  readonly ACTION_FAILED: 'TWIN_ERR_ACTION_FAILED';
  /** The new state breaks the store's schema. */
  readonly SCHEMA: 'TWIN_ERR_SCHEMA';
  /** `authorize` or `canRead` refused. */
  readonly FORBIDDEN: 'TWIN_ERR_FORBIDDEN';
  /** The client sends faster than its rate limit. */
  readonly RATE: 'TWIN_ERR_RATE';
  /** A batch id does not belong to the connection that sent it, or a message came before `hello`. */
  readonly ID: 'TWIN_ERR_ID';
  /** The connection was replaced by a newer one with the same client id. */
  readonly REPLACED: 'TWIN_ERR_REPLACED';
  /** The Origin of a WebSocket upgrade is not allowed. */
  readonly ORIGIN: 'TWIN_ERR_ORIGIN';
  /** The `auth` hook refused the connection. */
  readonly AUTH: 'TWIN_ERR_AUTH';
  /** Storage refused an append because another node wrote that version first. */
  readonly CONFLICT: 'TWIN_ERR_CONFLICT';
  /** A write to a store that cannot be written here (a local store on the server, a detached object). */
  readonly READONLY: 'TWIN_ERR_READONLY';
  /** The definition is invalid (a duplicate name, a bad option). */
  readonly DEFINE: 'TWIN_ERR_DEFINE';
  /** Something failed on the server that is not the client's fault. */
  readonly INTERNAL: 'TWIN_ERR_INTERNAL';
  /** Storage says this client's batch (or call) was committed before; nothing was written again. */
  readonly DUPLICATE: 'TWIN_ERR_DUPLICATE';
  /** An earlier batch of this client was refused for now (a retryable code): send that one first. Retryable. */
  readonly ORDER: 'TWIN_ERR_ORDER';
  /** The server cannot commit right now (storage down or slow); nothing was written. Retryable. */
  readonly UNAVAILABLE: 'TWIN_ERR_UNAVAILABLE';
  /** The server is over its limits (connections, queue); try again later. Retryable. */
  readonly OVERLOAD: 'TWIN_ERR_OVERLOAD';
  /** A binding would have written something that can run script (an `on*` attribute, a `javascript:` URL). */
  readonly UNSAFE: 'TWIN_ERR_UNSAFE';
  /** The store takes writes only through its actions (`clientWrites: false`). */
  readonly ACTIONS_ONLY: 'TWIN_ERR_ACTIONS_ONLY';
  /** A write kept in the outbox is older than its `maxAge`, or was made against another `version` of its store: not sent blindly. */
  readonly STALE: 'TWIN_ERR_STALE';
  /** The browser's storage refused or garbled what twin-state keeps there (full, forbidden, edited by hand). */
  readonly STORAGE: 'TWIN_ERR_STORAGE';
  /**
   * A `test` op found another value at its path: someone changed what the batch relies on since
   * (an undo or redo refused rather than overwrite another's write). Final.
   */
  readonly CHANGED: 'TWIN_ERR_CHANGED';
  /** `undo()` or `redo()` with nothing to undo or redo in that store's history. */
  readonly HISTORY: 'TWIN_ERR_HISTORY';
}

const CODE_NAMES = 'PATH VALUE DEPTH OP FRAME TOO_BIG PROTO STORE ACTION ACTION_FAILED SCHEMA FORBIDDEN RATE ID REPLACED ORIGIN AUTH CONFLICT READONLY DEFINE INTERNAL DUPLICATE ORDER UNAVAILABLE OVERLOAD UNSAFE ACTIONS_ONLY STALE STORAGE CHANGED HISTORY';
type Words<S extends string> = S extends `${infer Head} ${infer Tail}` ? Head | Words<Tail> : S;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time check that CODE_NAMES lists exactly the codes of ErrorCodes.
true satisfies Same<Words<typeof CODE_NAMES>, keyof ErrorCodes>;

/**
 * Every error code twin-state produces. The strings are part of the wire protocol. Each is
 * `TWIN_ERR_` and its name, so the object is built from the names (a smaller bundle).
 */
export const ErrorCode: ErrorCodes = Object.fromEntries(
  CODE_NAMES.split(' ').map((name) => [name, `TWIN_ERR_${name}`]),
) as unknown as ErrorCodes;

export type ErrorCode = ErrorCodes[keyof ErrorCodes];

/**
 * Codes of refusals that are not the refused batch's fault — a limit, the order of batches, the
 * server's own trouble — so sending it again later can succeed. Every other code is final.
 */
// Literal codes (typed, so a misspelt one fails to compile): `ErrorCode.RATE`... are property
// reads, which a bundler must keep even where the set itself is unused (the browser bundle).
export const RETRYABLE: ReadonlySet<string> = new Set<ErrorCode>(['TWIN_ERR_RATE', 'TWIN_ERR_ORDER', 'TWIN_ERR_UNAVAILABLE', 'TWIN_ERR_OVERLOAD']);

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
    // Error takes `cause` from the options and ignores the rest.
    super(message, options);
    this.code = code;
    this.expose = options?.expose ?? true;
  }
}

/** Whether `err` is a {@link TwinError}, even one thrown by another copy of twin-state. */
export function isTwinError(err: unknown): err is TwinError {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('TWIN_ERR_');
}

/**
 * A {@link TwinError} whose message is `message` in dev mode and, in production bundles, the
 * code followed by `detail` (`TWIN_ERR_PATH set messages.3.text`: paths as dotted keys).
 * Pass the sentence as `DEV_MODE && \`…\``, so the minifier drops it from prod builds.
 * @internal
 */
export function twinError(code: ErrorCode, message: string | false, detail?: string): TwinError {
  return new TwinError(code, (DEV_MODE && message) || (detail === undefined ? code : `${code} ${detail}`));
}
