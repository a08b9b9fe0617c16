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
import { proxyOf } from './proxy.js';
import type { Replica } from './replica.js';
import { runtimeOf } from './runtime.js';
import type { ActionDef, ActionOptions, App, AppDefs, StoreDef } from './definitions.js';

export type { Action, ActionDef, ActionOptions, App, LocalOptions, ReadRequest, SharedOptions, StoreDef, WriteRequest } from './definitions.js';

const DEFS = Symbol.for('twin-state.defs');
const ACTION = Symbol.for('twin-state.action');

/** Names of stores and actions: letters, digits, `_`, `-` and `.`, starting with a letter or `_`. */
const NAME = /^[A-Za-z_][\w.-]{0,127}$/;
/** Ids of family members. */
const FAMILY_ID = /^[\w.-]{1,64}$/;

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
