// SPDX-License-Identifier: MIT
/**
 * @module client
 * The browser side of twin-state as the page sees it: the page's own `Client` (its replicas and
 * its connection to the hub, `client-core.ts`), more clients for tests and tools, and the
 * functions a plain page calls (`connect`, `call`). The page's client keeps its unconfirmed
 * writes in `localStorage` across reloads (`kept-writes.ts`).
 */
import type { ClientOptions, StaleWrite } from './client-options.js';
import { createCore } from './client-core.js';
import type { Core } from './client-core.js';
import type { ActionDef, StoreDef } from './define.js';
import { handleFor } from './define.js';
import type { Json } from './json.js';
import type { ConnectionState } from './link.js';
import type { Replica } from './replica.js';
import type { Runtime } from './runtime.js';
import { pageRuntime, setPageRuntimeFactory } from './runtime.js';

export type { ClientOptions, ConnectionState, Hydration, RejectDetail, StaleWrite, WebSocketClass } from './client-options.js';

/**
 * A page's runtime: its replicas and its connection. Pages get one automatically; create more
 * (`createClient`) to act as several users, in tests for instance.
 *
 * @fires reject - a batch or call was refused; `detail` is a {@link RejectDetail}
 * @fires status - the connection state changed
 */
export class Client extends EventTarget implements Runtime {
  /** Names this client in batch ids; the server binds it to {@link clientKey}. */
  readonly clientId: string = randomId();
  /** The secret proving this client owns its id: only the hello carries it. @internal */
  readonly clientKey: string = randomId();
  private readonly __core: Core;

  constructor(options: ClientOptions = {}) {
    super();
    this.__core = createCore(this, options);
  }

  /** @internal */
  replica(name: string, def?: StoreDef, id?: string): Replica {
    return this.__core.replica(name, def, id);
  }

  /** @internal */
  call(action: ActionDef | string, args: Json[]): Promise<Json> {
    return this.__core.call(action, args);
  }

  /**
   * The state of the connection (tracked when read in a signal consumer). The connection opens
   * when first needed (a shared store used, an action called), or when `<twin-status>` asks.
   */
  get state(): ConnectionState {
    return this.__core.state.get();
  }

  /** Opens the connection now unless it is open, opening, waiting to reconnect or closed. @internal */
  wake(): void {
    this.__core.wake();
  }

  /** Connects to `url` (or the default), or reconnects at once if already connected. */
  connect(url?: string): this {
    this.__core.connect(url);
    return this;
  }

  /**
   * How many writes (batches) and action calls wait for the server's answer: sent, or queued
   * while offline (those a closed page left included). Tracked when read in a signal consumer.
   */
  get pending(): number {
    return this.__core.unanswered.get();
  }

  /** Stored writes of gone pages that were not sent: stale (tracked when read in a signal consumer). */
  get staleWrites(): readonly StaleWrite[] {
    return this.__core.stale.get();
  }

  /** Closes the connection for good; writes keep queueing until `connect()` is called again. */
  close(): void {
    this.__core.close();
  }

  /** A handle on the store `name`, for code that has no definition of it (plain pages). */
  store<T extends object = Record<string, Json>>(name: string): T {
    return handleFor(() => this.replica(name)) as T;
  }
}

/** Creates a runtime of its own (another user, for tests and tools). The page has one already. */
export function createClient(options: ClientOptions = {}): Client {
  return new Client(options);
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join('');
}

// The page's own client keeps its unconfirmed writes across reloads, and says so before it
// unloads when it could not.
setPageRuntimeFactory(() => new Client({ outbox: pageStorage('localStorage'), guardUnload: true, presenceStorage: pageStorage('sessionStorage') }));

/** The page's `localStorage` or `sessionStorage`, if it has one it may use (a sandboxed frame may not). */
function pageStorage(name: 'localStorage' | 'sessionStorage'): Storage | undefined {
  try {
    return globalThis[name];
  } catch {
    return undefined;
  }
}

/** The page's own client: the runtime every store without a server binding uses. */
export function pageClient(): Client {
  return pageRuntime() as Client;
}

/**
 * Connects the page to a twin server. Pages served by one connect by themselves; call this
 * for a script loaded from a CDN (`connect('wss://example.com/_twin/ws')`).
 */
export function connect(url?: string): Client {
  return pageClient().connect(url);
}

/** Calls the server action `name` with `args` from the page, by name (plain pages, elements). */
export function call(name: string, ...args: Json[]): Promise<Json> {
  return pageClient().call(name, args);
}
