// SPDX-License-Identifier: MIT
/**
 * @module definitions
 * The types of an app's definitions: its stores (shared and local, with their options) and its
 * actions. Types only, so the runtime that holds the stores and the code that defines them
 * both use them without depending on each other.
 */
import type { Op } from './ops.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** Who asks, and for what: passed to a shared store's `authorize` hook. */
export interface WriteRequest {
  /** What the server's `auth` hook returned for this connection (undefined without one). */
  readonly user: unknown;
  /** The store's full name (`room/general` for a family member). */
  readonly store: string;
  readonly ops: readonly Op[];
}

/** Passed to a shared store's `canRead` hook. */
export interface ReadRequest {
  readonly user: unknown;
  readonly store: string;
}

/** Options of a shared store. */
export interface SharedOptions {
  /** A Standard Schema (zod, valibot, arktype...) every committed state must satisfy. */
  schema?: StandardSchemaV1;
  /** Who may write: return false to refuse a batch (`TWIN_ERR_FORBIDDEN`). Default: everyone. */
  authorize?: (request: WriteRequest) => boolean | Promise<boolean>;
  /** Who may read: a client refused here never receives the store. Default: everyone. */
  canRead?: (request: ReadRequest) => boolean | Promise<boolean>;
  /**
   * A prefix for the store's key in storage (`'app1:'` keeps `chat_room` under
   * `app1:chat_room`, and `room/general` under `app1:room/general`), or false to keep the store
   * in memory only. Default: no prefix, the key is the store's name.
   */
  persist?: string | false;
  /** A store per id (`room/general`), created from `init(id)` on first use. */
  family?: boolean;
  /**
   * For a family: which ids exist. A member is created (and stored) only for an id this
   * accepts; others get `TWIN_ERR_STORE` and create nothing. Default: every valid id (1 to 64
   * letters, digits, `_`, `-`, `.`), with creation rate-limited per connection.
   */
  exists?: (id: string, request: { readonly user: unknown }) => boolean | Promise<boolean>;
  /**
   * Whether clients may write this store with ops (`s.score = 1`). With false, clients change
   * it only through actions, whose code holds the app's rules; a client op gets
   * `TWIN_ERR_ACTIONS_ONLY`. Server code and actions always write. Default true.
   */
  clientWrites?: boolean;
  /**
   * The version of this store's shape. Raise it when a change of the schema or of the data's
   * meaning makes old writes wrong: a write a closed page left in its outbox, made against
   * another version, is handed back as stale (`client.staleWrites`) instead of being sent.
   */
  version?: number;
}

/** Options of a local store. */
export interface LocalOptions {
  /** Keep the value across reloads in `localStorage` ('local') or `sessionStorage` ('session'). */
  persist?: 'local' | 'session' | false;
  /**
   * With `persist: 'local'`: also mirror the value to a cookie (`twin.<store>`, path `/`,
   * SameSite=Lax), so the server renders it in the page's first paint instead of the default
   * (a theme that never flashes). The server checks the cookie as untrusted input (JSON, depth,
   * `schema`) and renders the default if it fails. A value over 3,000 bytes URI-encoded is not
   * mirrored (a `TWIN_ERR_TOO_BIG` console error); it stays in `localStorage`. Default false.
   */
  cookie?: boolean;
  /** A Standard Schema the stored value must satisfy when restored (and when read from its cookie on the server). */
  schema?: StandardSchemaV1;
}

/** @internal */
export interface StoreDef {
  readonly app: App;
  readonly name: string;
  readonly kind: 'shared' | 'local';
  readonly init: (id?: string) => unknown;
  readonly options: SharedOptions & LocalOptions;
}

/** Options of an action. */
export interface ActionOptions {
  /**
   * Also run the action at once in the browser, against the optimistic view, so its writes
   * show before the server answers (the server's run replaces them). Only for a synchronous
   * action: a run that returns a promise is not used (its writes are dropped, with a warning
   * in development), so the action never runs twice. Default false.
   */
  optimistic?: boolean;
}

/** @internal */
export interface ActionDef {
  readonly app: App;
  readonly name: string;
  readonly run: (...args: never[]) => unknown;
  readonly options: ActionOptions;
}

/** An action as callers see it: runs on the server, resolves to what the action returned. */
export type Action<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & { readonly actionName: string };

/** A set of store and action definitions: one per app, imported by server and browser alike. */
export interface App {
  /**
   * Defines a shared store: held by the server, synced to every subscribed client. Its name is
   * `init`'s function name, or `name`. The store is typed as what `init` returns, or as the
   * schema's output type with `{ schema }`.
   *
   * ```ts
   * export const chatRoom = app.shared(function chat_room() {
   *   return { messages: [] as Message[], active_users: 0 };
   * });
   * chatRoom.messages.push({ text: 'hi' });   // one op, synced everywhere
   * ```
   */
  shared<S extends StandardSchemaV1<object, object>>(name: string, init: () => NoInfer<StandardSchemaV1.InferInput<S>>, options: SharedOptions & { schema: S; family?: false }): StandardSchemaV1.InferOutput<S>;
  shared<S extends StandardSchemaV1<object, object>>(init: () => NoInfer<StandardSchemaV1.InferInput<S>>, options: SharedOptions & { schema: S; family?: false }): StandardSchemaV1.InferOutput<S>;
  shared<T extends object>(name: string, init: (id: string) => T, options: SharedOptions & { family: true; schema?: never }): (id: string) => T;
  shared<T extends object>(name: string, init: () => T, options?: SharedOptions & { family?: false; schema?: never }): T;
  shared<T extends object>(init: () => T, options?: SharedOptions & { family?: false; schema?: never }): T;

  /**
   * Defines a local store: one per browser tab, its initial value computed by `init` (on the
   * server, for hydration), optionally persisted in `localStorage`/`sessionStorage`.
   */
  local<S extends StandardSchemaV1<object, object>>(name: string, init: () => NoInfer<StandardSchemaV1.InferInput<S>>, options: LocalOptions & { schema: S }): StandardSchemaV1.InferOutput<S>;
  local<T extends object>(name: string, init: () => T, options?: LocalOptions & { schema?: never }): T;
  local<T extends object>(init: () => T, options?: LocalOptions & { schema?: never }): T;

  /**
   * Defines an action: a named mutation the server runs against the authoritative stores, its
   * writes committed as one batch. Calling it anywhere sends it to the server and resolves to
   * its return value; with `{ optimistic: true }` a built app also runs it at once.
   */
  action<A extends unknown[], R>(name: string, run: (...args: A) => R, options?: ActionOptions): Action<A, R>;
  action<A extends unknown[], R>(run: (...args: A) => R, options?: ActionOptions): Action<A, R>;
}

/** What an app holds: its definitions by name. @internal */
export interface AppDefs {
  readonly stores: Map<string, StoreDef>;
  readonly actions: Map<string, ActionDef>;
}
