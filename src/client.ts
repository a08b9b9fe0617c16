// SPDX-License-Identifier: MIT
/**
 * @module client
 * The browser side of twin-state: the replicas of a page and its connection to the hub.
 * Writes show at once and queue as pending batches; the server's syncs rebase them; a
 * reject rolls back that batch alone and is announced (a `reject` event, and `status()`).
 * The connection says `hello` with the versions it already has (from hydration, or from before
 * a disconnect), so it receives only what it missed; it reconnects with capped, jittered
 * exponential backoff, notices a dead link with a heartbeat, and re-sends unconfirmed batches,
 * which the server applies once. Local stores live here too, persisted when asked.
 */
import type { ActionDef, StoreDef } from './define.js';
import { handleFor, initialValue } from './define.js';
import { ErrorCode, TwinError } from './errors.js';
import { deepFreeze, isPlainObject } from './json.js';
import type { Json } from './json.js';
import { PROTOCOL_VERSION, readServerFrame, WS_PATH } from './protocol.js';
import type { ClientMessage, ServerMessage } from './protocol.js';
import { Replica } from './replica.js';
import type { Batch, ReplicaHost } from './replica.js';
import type { Runtime, StoreStatus } from './runtime.js';
import { pageRuntime, setPageRuntimeFactory } from './runtime.js';
import { state } from './signals.js';

/** The state of a client's connection. */
export type ConnectionState = 'connecting' | 'online' | 'offline';

/** The WebSocket class to use (the browser's by default; pass `ws`'s in Node). */
export type WebSocketClass = new (url: string) => WebSocket;

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
}

/** The data the server renders into a page so the client starts where the page is. */
export interface Hydration {
  shared?: Record<string, { value: Json; v: number }>;
  local?: Record<string, { value: Json; persist?: 'local' | 'session' }>;
}

/** Details of a `reject` event. */
export interface RejectDetail {
  readonly store: string | undefined;
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

const MIN_DELAY = 250;
const MAX_DELAY = 5000;
const HEARTBEAT = 15_000;
/** A store is unsubscribed this long after it loses its last watcher (a re-render must not churn). */
const UNSUB_GRACE = 1000;
const PERSIST_PREFIX = 'twin:';

interface PendingCall {
  readonly id: string;
  readonly action: string;
  readonly args: Json[];
  readonly resolve: (value: Json) => void;
  readonly reject: (error: TwinError) => void;
}

/**
 * A page's runtime: its replicas and its connection. Pages get one automatically; create more
 * (`createClient`) to act as several users, in tests for instance.
 *
 * @fires reject - a batch or call was refused; `detail` is a {@link RejectDetail}
 * @fires status - the connection state changed
 */
export class Client extends EventTarget implements Runtime {
  /** A secret: batch ids carry it, and only their sender ever sees them. */
  readonly clientId: string = randomId();
  private seq = 0;
  private url: string | undefined;
  private readonly options: ClientOptions;
  private readonly replicas = new Map<string, Replica>();
  private readonly subscribed = new Set<Replica>();
  private readonly calls = new Map<string, PendingCall>();
  private readonly hydration: Hydration;
  private readonly connection = state<ConnectionState>('offline');
  private socket: WebSocket | undefined;
  private outbox: ClientMessage[] = [];
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heard = 0;
  private helloSent = false;
  private closed = false;
  private activeCall: { id: string; batches: Map<Replica, Batch> } | undefined;
  private readonly unsubTimers = new Map<Replica, ReturnType<typeof setTimeout>>();
  private readonly host: ReplicaHost;

  constructor(options: ClientOptions = {}) {
    super();
    this.options = options;
    this.url = options.url;
    this.hydration = options.hydration ?? readHydration();
    this.host = {
      nextBatchId: () => `${this.clientId}:${++this.seq}`,
      batchFor: (replica) => {
        const call = this.activeCall;
        if (!call) return undefined;
        let batch = call.batches.get(replica);
        if (!batch) call.batches.set(replica, (batch = replica.openBatch(call.id, 'call')));
        return batch;
      },
      flush: (replica, batch) => {
        if (replica.local) this.persist(replica);
        else this.send({ t: 'op', id: batch.id, store: replica.name, ops: batch.ops });
      },
      watched: (replica, watched) => this.onWatched(replica, watched),
      status: (replica) => this.status(replica),
    };
  }

  //#region Runtime

  /** @internal */
  replica(name: string, def?: StoreDef, id?: string): Replica {
    let replica = this.replicas.get(name);
    if (replica) return replica;
    const local = def ? def.kind === 'local' : this.hydration.local?.[name] !== undefined;
    if (local) {
      replica = new Replica(name, this.restore(name, def), 0, this.host, { local: true });
    } else {
      const hydrated = this.hydration.shared?.[name];
      const value = hydrated?.value ?? (def ? initialValue(def, id) : {});
      replica = new Replica(name, value, hydrated?.v ?? 0, this.host);
      this.subscribe(replica);
    }
    this.replicas.set(name, replica);
    return replica;
  }

  /** @internal */
  call(action: ActionDef | string, args: Json[]): Promise<Json> {
    const name = typeof action === 'string' ? action : action.name;
    const id = this.host.nextBatchId();
    const run = typeof action === 'string' ? undefined : action.run;
    // Run a synchronous action at once against the view; an async one waits for the server.
    if (run && run.constructor.name !== 'AsyncFunction') this.runOptimistically(id, run, args);
    return new Promise<Json>((resolve, reject) => {
      this.calls.set(id, { id, action: name, args, resolve, reject });
      this.send({ t: 'call', id, action: name, args });
    });
  }

  /** @internal */
  status(replica: Replica): StoreStatus {
    replica.trackAll();
    const error = replica.lastError && { code: replica.lastError.code, message: replica.lastError.message };
    return {
      connection: replica.local ? 'local' : this.connection.get(),
      v: replica.v,
      pending: replica.pending.length,
      error,
    };
  }

  //#endregion Runtime
  //#region connection

  /** The state of the connection (tracked when read in a signal consumer). */
  get state(): ConnectionState {
    return this.connection.get();
  }

  /** Connects to `url` (or the default), or reconnects at once if already connected. */
  connect(url?: string): this {
    if (url) this.url = url;
    this.url ??= defaultUrl();
    if (!this.url) throw new TypeError('twin-state: no server URL: call connect("wss://host/_twin/ws").');
    this.closed = false;
    this.socket?.close();
    this.open();
    return this;
  }

  /** Closes the connection for good; writes keep queueing until `connect()` is called again. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    this.socket?.close();
    this.socket = undefined;
    this.helloSent = false;
    this.setState('offline');
  }

  /** A handle on the store `name`, for code that has no definition of it (plain pages). */
  store<T extends object = Record<string, Json>>(name: string): T {
    return handleFor(() => this.replica(name)) as T;
  }

  private open(): void {
    const WS = this.options.WebSocket ?? (globalThis.WebSocket as WebSocketClass | undefined);
    if (!WS) throw new TypeError('twin-state: no WebSocket class here; pass { WebSocket } from the "ws" package.');
    clearTimeout(this.reconnectTimer);
    this.setState('connecting');
    const socket = new WS(this.url!);
    this.socket = socket;
    socket.onopen = () => {
      this.heard = Date.now();
      this.startHeartbeat();
      this.sendHello();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (socket !== this.socket) return;
      this.heard = Date.now();
      let messages: ServerMessage[];
      try {
        messages = readServerFrame(String(event.data));
      } catch {
        socket.close();
        return;
      }
      for (const message of messages) this.receive(message);
    };
    socket.onclose = () => this.lost(socket);
    socket.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
  }

  /** `socket` closed, or went silent: go offline and, unless closed on purpose, reconnect. */
  private lost(socket: WebSocket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.helloSent = false;
    clearInterval(this.heartbeatTimer);
    this.setState('offline');
    if (!this.closed) this.scheduleReconnect();
  }

  private sendHello(): void {
    const subs: Record<string, number> = {};
    for (const replica of this.subscribed) subs[replica.name] = replica.v;
    const resend: (ClientMessage & { id: string })[] = [];
    for (const replica of this.replicas.values()) {
      for (const batch of replica.pending) {
        // A turn batch still being collected is sent when its turn ends.
        if (batch.kind === 'ops' && batch.id) resend.push({ t: 'op', id: batch.id, store: replica.name, ops: batch.ops });
      }
    }
    for (const call of this.calls.values()) resend.push({ t: 'call', id: call.id, action: call.action, args: call.args });
    // The server drops a batch whose seq is not above the last it applied: keep seq order.
    resend.sort((a, b) => seqOf(a.id) - seqOf(b.id));
    this.outbox = [{ t: 'hello', proto: PROTOCOL_VERSION, client: this.clientId, subs }, ...resend];
    this.helloSent = true;
    this.flushOutbox();
  }

  private scheduleReconnect(): void {
    const min = this.options.minDelay ?? MIN_DELAY;
    const max = this.options.maxDelay ?? MAX_DELAY;
    const delay = Math.min(max, min * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private startHeartbeat(): void {
    const period = this.options.heartbeat ?? HEARTBEAT;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.heard > 2 * period) {
        // Nothing heard for two periods: the link is dead even if the socket does not know it.
        const socket = this.socket;
        if (socket) {
          this.lost(socket);
          socket.close();
        }
        return;
      }
      this.send({ t: 'ping' });
    }, period);
  }

  private setState(next: ConnectionState): void {
    if (this.connection.get() === next) return;
    this.connection.set(next);
    this.dispatchEvent(new CustomEvent('status', { detail: next }));
  }

  /** Queues a message; everything queued in one turn goes out as one frame. */
  private send(message: ClientMessage): void {
    if (!this.socket && !this.closed && this.replicas.size && !this.reconnectTimer) this.autoConnect();
    // Before hello, nothing goes out: hello re-sends whatever is still unconfirmed.
    if (!this.helloSent) return;
    if (this.outbox.push(message) === 1) queueMicrotask(() => this.flushOutbox());
  }

  private flushOutbox(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1 || this.outbox.length === 0) return;
    const frame = this.outbox.length === 1 ? this.outbox[0] : this.outbox;
    this.outbox = [];
    socket.send(JSON.stringify(frame));
  }

  /** Opens the default connection the first time a shared store needs it. */
  private autoConnect(): void {
    if (this.url === undefined) this.url = defaultUrl();
    if (this.url !== undefined && !this.socket) this.open();
  }

  //#endregion connection
  //#region receiving

  private receive(message: ServerMessage): void {
    switch (message.t) {
      case 'welcome':
        this.attempts = 0;
        this.setState('online');
        this.flushOutbox();
        return;
      case 'snapshot':
        this.replicas.get(message.store)?.reset(message.value, message.v);
        return;
      case 'sync': {
        const replica = this.replicas.get(message.store);
        if (replica && !replica.receive(message.v, message.ops, message.id)) {
          // A gap (a message we never got): ask again from the version we have.
          this.send({ t: 'sub', store: replica.name, v: replica.v });
        }
        return;
      }
      case 'reject': {
        const error = new TwinError(message.code as ErrorCode, message.message);
        for (const replica of this.replicas.values()) {
          if (replica.pending.some((b) => b.id === message.id)) replica.reject(message.id, error);
        }
        const call = this.calls.get(message.id);
        this.calls.delete(message.id);
        call?.reject(error);
        this.dispatchEvent(new CustomEvent<RejectDetail>('reject', {
          detail: { store: message.store, id: message.id, code: message.code, message: message.message },
        }));
        return;
      }
      case 'result': {
        const call = this.calls.get(message.id);
        this.calls.delete(message.id);
        // Optimistic writes the server's run did not repeat are dropped now.
        for (const replica of this.replicas.values()) replica.drop(message.id);
        call?.resolve(message.value);
        return;
      }
      case 'error':
        if (message.code === ErrorCode.REPLACED) this.closed = true;
        if (message.store) this.replicas.get(message.store)?.reject('', new TwinError(message.code as ErrorCode, message.message));
        this.dispatchEvent(new CustomEvent<RejectDetail>('reject', {
          detail: { store: message.store, id: '', code: message.code, message: message.message },
        }));
        return;
      case 'pong':
        return;
    }
  }

  //#endregion receiving
  //#region subscriptions

  private subscribe(replica: Replica): void {
    this.subscribed.add(replica);
    this.send({ t: 'sub', store: replica.name, v: replica.v });
  }

  private onWatched(replica: Replica, watched: boolean): void {
    if (replica.local) return;
    clearTimeout(this.unsubTimers.get(replica));
    this.unsubTimers.delete(replica);
    if (watched) {
      if (!this.subscribed.has(replica)) this.subscribe(replica);
      return;
    }
    // Unwatched: let go of the server subscription, unless writes still wait for confirmation.
    this.unsubTimers.set(replica, setTimeout(() => {
      this.unsubTimers.delete(replica);
      if (replica.watcherCount > 0 || replica.pending.length > 0 || !this.subscribed.has(replica)) return;
      this.subscribed.delete(replica);
      this.send({ t: 'unsub', store: replica.name });
    }, UNSUB_GRACE));
  }

  //#endregion subscriptions
  //#region actions

  private runOptimistically(id: string, run: (...args: never[]) => unknown, args: Json[]): void {
    const call = { id, batches: new Map<Replica, Batch>() };
    this.activeCall = call;
    try {
      run(...(args as never[]));
    } catch {
      // The server runs it for real and answers; drop what the local run wrote.
      for (const replica of call.batches.keys()) replica.drop(id);
    } finally {
      this.activeCall = undefined;
    }
  }

  //#endregion actions
  //#region local stores

  private restore(name: string, def: StoreDef | undefined): Json {
    const hydrated = this.hydration.local?.[name];
    const fallback = hydrated?.value ?? (def ? initialValue(def) : {});
    const area = this.areaOf(name, def);
    const text = area?.getItem(PERSIST_PREFIX + name);
    if (text == null) return fallback;
    try {
      const value = JSON.parse(text) as unknown;
      if (!isPlainObject(value)) throw new TypeError('not an object');
      return value as Json;
    } catch {
      console.warn(`[twin-state] The stored value of local store ${JSON.stringify(name)} is corrupted; using its default.`);
      area?.removeItem(PERSIST_PREFIX + name);
      return fallback;
    }
  }

  private persist(replica: Replica): void {
    const area = this.areaOf(replica.name, undefined);
    try {
      area?.setItem(PERSIST_PREFIX + replica.name, JSON.stringify(replica.root));
    } catch (err) {
      // A full or forbidden storage must not break the page: keep working in memory.
      console.warn(`[twin-state] Could not persist local store ${JSON.stringify(replica.name)}:`, err);
    }
  }

  private readonly persistOf = new Map<string, 'local' | 'session' | false>();

  private areaOf(name: string, def: StoreDef | undefined): Storage | undefined {
    if (!this.persistOf.has(name)) {
      this.persistOf.set(name, def ? def.options.persist ?? false : this.hydration.local?.[name]?.persist ?? false);
    }
    const persist = this.persistOf.get(name);
    if (!persist) return undefined;
    const areas = this.options.storage ?? {};
    try {
      return persist === 'local' ? areas.local ?? globalThis.localStorage : areas.session ?? globalThis.sessionStorage;
    } catch {
      return undefined; // storage access can throw (sandboxed frames, disabled cookies)
    }
  }

  //#endregion local stores
}

/** Creates a runtime of its own (another user, for tests and tools). The page has one already. */
export function createClient(options: ClientOptions = {}): Client {
  return new Client(options);
}

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf(':') + 1));
}

function randomId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function readHydration(): Hydration {
  const element = globalThis.document?.getElementById('twin-hydration');
  if (!element?.textContent) return {};
  try {
    return deepFreeze(JSON.parse(element.textContent) as Hydration);
  } catch {
    console.warn('[twin-state] The hydration data of this page is not valid JSON; starting without it.');
    return {};
  }
}

/**
 * `/_twin/ws` on the server this script came from (the hub serves it at `/_twin/*.js`), or on
 * the page's own origin for an app bundle served there; none for a script from a CDN.
 */
function defaultUrl(): string | undefined {
  const location = globalThis.location;
  if (!location) return undefined;
  const script = new URL(import.meta.url);
  const base = script.pathname.startsWith('/_twin/') || script.origin === location.origin ? script : undefined;
  if (!base) return undefined;
  const url = new URL(WS_PATH, base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

setPageRuntimeFactory(() => new Client());

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
