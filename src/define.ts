// SPDX-License-Identifier: MIT
/**
 * @module define
 * `defineApp()` and what hangs off it: shared stores, local stores and actions. A definition is
 * only a name, an initial value and options; the objects it returns are handles that find
 * their live replica in whatever runtime the app runs in — the page's connection in a browser,
 * the hub on the server — so one module of definitions serves both sides.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, TwinError, twinError } from './errors.js';
import { cloneJson, isPlainObject } from './json.js';
import type { Json } from './json.js';
import type { Op } from './ops.js';
import { proxyOf } from './proxy.js';
import type { Replica } from './replica.js';
import { runtimeOf } from './runtime.js';
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

const DEFS = Symbol.for('twin-state.defs');
const ACTION = Symbol.for('twin-state.action');

/** Names of stores and actions: letters, digits, `_`, `-` and `.`, starting with a letter or `_`. */
const NAME = /^[A-Za-z_][\w.-]{0,127}$/;
/** Ids of family members. */
const FAMILY_ID = /^[\w.-]{1,64}$/;

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

interface AppDefs {
  readonly stores: Map<string, StoreDef>;
  readonly actions: Map<string, ActionDef>;
}

/**
 * Creates an app: the place its stores and actions are defined.
 *
 * ```ts
 * export const app = defineApp();
 * export const game = app.shared(function game_state() { return { score: 0 }; });
 * ```
 */
export function defineApp(): App {
  const defs: AppDefs = { stores: new Map(), actions: new Map() };
  const app = {
    [DEFS]: defs,
    shared(...args: unknown[]) {
      const def = define(app, 'shared', args);
      if (!def.options.family) return storeHandle(def);
      const members = new Map<string, object>();
      return (id: string) => {
        if (typeof id !== 'string' || !FAMILY_ID.test(id)) {
          throw twinError(ErrorCode.STORE, DEV_MODE && `Invalid id ${JSON.stringify(id)} for store family ${JSON.stringify(def.name)}: use 1 to 64 letters, digits, "_", "-" or ".".`, String(id));
        }
        let member = members.get(id);
        if (!member) members.set(id, (member = storeHandle(def, id)));
        return member;
      };
    },
    local(...args: unknown[]) {
      return storeHandle(define(app, 'local', args));
    },
    action(...args: unknown[]) {
      const [name, run, options = {}] = nameAndFunction(args, 'action');
      const def: ActionDef = { app, name, run: run as ActionDef['run'], options: options as ActionOptions };
      if (DEV_MODE) claim(defs, name, 'action');
      defs.actions.set(name, def);
      const call = (...callArgs: unknown[]) => runtimeOf(app).call(def, callArgs as Json[]);
      Object.defineProperty(call, 'actionName', { value: name });
      Object.defineProperty(call, ACTION, { value: def });
      return call;
    },
  } as unknown as App;
  return app;
}

/** The stores and actions defined on `app`. @internal */
export function definitionsOf(app: App): AppDefs {
  return (app as unknown as { [DEFS]: AppDefs })[DEFS];
}

/** The store definition of a family member's full name (`room/general` → `room`), and its id. @internal */
export function resolveStore(app: App, fullName: string): { def: StoreDef; id?: string } | undefined {
  const { stores } = definitionsOf(app);
  const slash = fullName.indexOf('/');
  if (slash === -1) {
    const def = stores.get(fullName);
    return def && !def.options.family ? { def } : undefined;
  }
  const def = stores.get(fullName.slice(0, slash));
  const id = fullName.slice(slash + 1);
  return def?.options.family && FAMILY_ID.test(id) ? { def, id } : undefined;
}

/**
 * The initial value of a store (or family member), copied as plain JSON; in dev mode (the
 * server, tests), checked to be a plain object. @internal
 */
export function initialValue(def: StoreDef, id?: string): Json {
  const value = def.init(id);
  if (DEV_MODE && !isPlainObject(value)) {
    throw twinError(ErrorCode.DEFINE, DEV_MODE && `The init function of store ${JSON.stringify(def.name)} must return a plain object.`, def.name);
  }
  return cloneJson(value);
}

/**
 * Records a store definition. Its checks are dev-only (src/dev.ts; ARCHITECTURE.md rules): they catch
 * mistakes in the app's code, which the server, running that same code in dev mode, reports.
 */
function define(app: App, kind: StoreDef['kind'], args: unknown[]): StoreDef {
  const [name, init, options = {}] = nameAndFunction(args, `${kind} store`) as [string, StoreDef['init'], StoreDef['options']?];
  const defs = definitionsOf(app);
  if (DEV_MODE) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`The options of ${kind} store ${JSON.stringify(name)} must be an object.`);
    }
    if (kind === 'local' && options.persist !== undefined && !['local', 'session', false].includes(options.persist as never)) {
      throw new TypeError(`The persist option of local store ${JSON.stringify(name)} must be 'local', 'session' or false, not ${JSON.stringify(options.persist)}.`);
    }
    claim(defs, name, `${kind} store`);
  }
  const def: StoreDef = { app, name, kind, init, options };
  defs.stores.set(name, def);
  return def;
}

/** Reads `(name, fn, ...rest)` or `(fn, ...rest)`, taking the name from the function; checks both in dev mode. */
function nameAndFunction(args: unknown[], what: string): [string, ...unknown[]] {
  const [first] = args;
  const all = typeof first === 'function' ? [first.name, ...args] : args;
  const [name, fn] = all;
  if (DEV_MODE && typeof fn !== 'function') {
    throw new TypeError(`A ${what} needs a function: app.${what.split(' ')[1] === 'store' ? what.split(' ')[0] : 'action'}(function name() { ... }).`);
  }
  if (DEV_MODE && (typeof name !== 'string' || !NAME.test(name))) {
    throw new TwinError(ErrorCode.DEFINE, name
      ? `Invalid ${what} name ${JSON.stringify(name)}: use letters, digits, "_", "-" or ".", starting with a letter or "_".`
      : `A ${what} needs a name: use a named function, or pass the name first.`);
  }
  return all as [string, ...unknown[]];
}

function claim(defs: AppDefs, name: string, what: string): void {
  const store = defs.stores.get(name);
  const other = store ? `${store.kind} store` : defs.actions.has(name) ? 'action' : undefined;
  if (other) throw new TwinError(ErrorCode.DEFINE, `The name ${JSON.stringify(name)} is used twice: by ${article(other)} and by ${article(what)}.`);
}

function article(what: string): string {
  return `${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what}`;
}

/** The definition behind an action function, if it is one. @internal */
export function actionDefOf(value: unknown): ActionDef | undefined {
  return typeof value === 'function' ? (value as { [ACTION]?: ActionDef })[ACTION] : undefined;
}

/**
 * The object users hold for a store: forwards everything to the root of the store's replica
 * in the app's current runtime, found anew on each access (the runtime may change, e.g. when
 * a test starts a second server).
 */
function storeHandle(def: StoreDef, id?: string): object {
  const fullName = id === undefined ? def.name : `${def.name}/${id}`;
  const replica = (): Replica => runtimeOf(def.app).replica(fullName, def, id);
  return handleFor(replica);
}

/** What a store handle forwards: every operation on an object, read or write. */
const FORWARDED = ['get', 'set', 'has', 'deleteProperty', 'ownKeys', 'getOwnPropertyDescriptor', 'defineProperty'] as const;

/** A forwarding handle over the root of whatever replica `replica()` gives. @internal */
export function handleFor(replica: () => Replica): object {
  const handler: ProxyHandler<object> = {};
  for (const trap of FORWARDED) {
    handler[trap] = (_target: object, ...args: unknown[]) => {
      const r = replica();
      return (Reflect[trap] as (...args: unknown[]) => never)(proxyOf(r, r.root), ...args);
    };
  }
  return new Proxy({}, handler);
}
