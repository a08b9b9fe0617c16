// SPDX-License-Identifier: MIT
/**
 * @module runtime
 * Where a store's replica lives. On the server, `twin(app)` binds the app to its hub; anywhere
 * else an app uses the page runtime — the browser's connection to the server — of which there
 * is exactly one per page, shared through `globalThis` even when two bundles are loaded.
 */
import { DEV_MODE } from './dev.js';
import type { ActionDef, App, StoreDef } from './definitions.js';
import type { Json } from './json.js';
import type { Replica } from './replica.js';

/** What stores and actions need from the place they run in. @internal */
export interface Runtime {
  /** The replica of the store `name` (a family member's full name), created on first use. */
  replica(name: string, def?: StoreDef, id?: string): Replica;
  /** Runs (server) or sends (client) an action; resolves to its result. */
  call(action: ActionDef | string, args: Json[]): Promise<Json>;
  /** The user for whom the running action runs (server), if any. */
  caller?(): unknown;
}

const PAGE = Symbol.for('twin-state.runtime');
const globals = globalThis as { [PAGE]?: Runtime };
const bound = new WeakMap<App, Runtime>();
let createPageRuntime: (() => Runtime) | undefined;

/** Installs the factory of the page runtime (the client module does, when loaded). @internal */
export function setPageRuntimeFactory(factory: () => Runtime): void {
  createPageRuntime = factory;
}

/** The page's runtime, created on first use and shared by every twin-state copy on the page. @internal */
export function pageRuntime(): Runtime {
  if (!globals[PAGE]) {
    if (!createPageRuntime) throw new Error(DEV_MODE ? 'twin-state: no page runtime is available (import "twin-state" first).' : 'twin-state: no runtime');
    globals[PAGE] = createPageRuntime();
  }
  return globals[PAGE];
}

/** The runtime `app` runs in: the server hub it is bound to, or the page runtime. @internal */
export function runtimeOf(app: App): Runtime {
  return bound.get(app) ?? pageRuntime();
}

/** Binds `app` to a server hub (or unbinds it with `undefined`). @internal */
export function bindRuntime(app: App, runtime: Runtime | undefined): void {
  if (runtime && bound.has(app) && bound.get(app) !== runtime) {
    throw new Error(DEV_MODE ? 'twin-state: this app is already served by another hub; close that hub first.' : 'twin-state: hub');
  }
  if (runtime) bound.set(app, runtime);
  else bound.delete(app);
}
