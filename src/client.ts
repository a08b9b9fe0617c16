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
 *
 * The state of a client lives in closures made by {@link createCore}, not in class members:
 * the public class only forwards to them, so a user subclass cannot clash with it, and the
 * browser bundle stays small.
 */
import type { ActionDef, StoreDef } from './define.js';
import { handleFor, initialValue } from './define.js';
import { DEV_MODE } from './dev.js';
import { ErrorCode, TwinError } from './errors.js';
import { deepFreeze, isPlainObject } from './json.js';
import type { Json } from './json.js';
import { PROTOCOL_VERSION, readServerFrame, WS_PATH } from './protocol.js';
import type { Call, ClientMessage, OpMessage, ServerMessage } from './protocol.js';
import { deepCopy, Replica } from './replica.js';
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
/** `WebSocket.OPEN`. */
const OPEN = 1;

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

  /** @internal */
  status(replica: Replica): StoreStatus {
    return this.__core.status(replica);
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

  /** Closes the connection for good; writes keep queueing until `connect()` is called again. */
  close(): void {
    this.__core.close();
  }

  /** A handle on the store `name`, for code that has no definition of it (plain pages). */
  store<T extends object = Record<string, Json>>(name: string): T {
    return handleFor(() => this.replica(name)) as T;
  }
}

/** What a {@link Client} forwards to. */
interface Core extends Runtime {
  readonly state: ReturnType<typeof state<ConnectionState>>;
  wake(): void;
  connect(url: string | undefined): void;
  close(): void;
}

/** An action call sent and not yet answered. */
interface PendingCall {
  readonly message: Call;
  readonly resolve: (value: Json) => void;
  readonly reject: (error: TwinError) => void;
}

/** The replicas and the connection of `client`. */
function createCore(client: Client, options: ClientOptions): Core {
  const replicas = new Map<string, Replica>();
  const subscribed = new Set<Replica>();
  const calls = new Map<string, PendingCall>();
  const unsubTimers = new Map<Replica, ReturnType<typeof setTimeout>>();
  /** Where each local store persists (undefined: nowhere). */
  const areas = new Map<string, Storage | undefined>();
  const hydration = options.hydration ?? readHydration();
  const connection = state<ConnectionState>('offline');
  let url = options.url;
  let seq = 0;
  let attempts = 0;
  let heard = 0;
  let socket: WebSocket | undefined;
  let outbox: ClientMessage[] = [];
  let helloSent = false;
  let closed = false;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** The optimistic run of an action in progress: its id and the batch it opened per replica. */
  let activeCall: { id: string; batches: Map<Replica, Batch> } | undefined;

  const nextBatchId = () => `${client.clientId}:${++seq}`;

  const host: ReplicaHost = {
    nextBatchId,
    batchFor: (replica) => {
      const call = activeCall;
      let batch = call?.batches.get(replica);
      if (call && !batch) call.batches.set(replica, (batch = replica.openBatch(call.id, 'call')));
      return batch;
    },
    flush: (replica, batch) => {
      if (!replica.local) send({ t: 'op', id: batch.id, store: replica.name, ops: batch.ops });
      else {
        try {
          areas.get(replica.name)?.setItem(PERSIST_PREFIX + replica.name, JSON.stringify(replica.root));
        } catch (err) {
          // A full or forbidden storage must not break the page: say so once, and keep the
          // store in memory from now on (instead of failing, and warning, at every write).
          areas.set(replica.name, undefined);
          console.warn(DEV_MODE ? `[twin-state] Could not persist local store ${JSON.stringify(replica.name)}; it is kept in memory only:` : `[twin-state] ${replica.name}`, err);
        }
      }
    },
    watched: (replica, watched) => {
      if (replica.local) return;
      clearTimeout(unsubTimers.get(replica));
      if (watched) {
        if (!subscribed.has(replica)) subscribe(replica);
        return;
      }
      // Unwatched: let go of the server subscription, unless writes still wait for confirmation.
      unsubTimers.set(replica, setTimeout(() => {
        if (replica.watcherCount || replica.pending.length || !subscribed.delete(replica)) return;
        send({ t: 'unsub', store: replica.name });
      }, UNSUB_GRACE));
    },
    status: (replica) => status(replica),
  };

  //#region connection

  const setState = (next: ConnectionState) => {
    if (connection.get() === next) return;
    connection.set(next);
    client.dispatchEvent(new CustomEvent('status', { detail: next }));
  };

  /** Forgets the socket: offline until the next one says hello. */
  const drop = () => {
    socket = undefined;
    helloSent = false;
    clearInterval(heartbeatTimer);
    setState('offline');
  };

  const open = () => {
    const WS = options.WebSocket ?? (globalThis.WebSocket as WebSocketClass | undefined);
    if (!WS) throw new TypeError(DEV_MODE ? 'twin-state: no WebSocket class here; pass { WebSocket } from the "ws" package.' : 'twin-state: no WebSocket');
    clearTimeout(reconnectTimer);
    setState('connecting');
    const ws = (socket = new WS(url!));
    ws.onopen = () => {
      heard = Date.now();
      const period = options.heartbeat ?? HEARTBEAT;
      clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(() => {
        // Nothing heard for two periods: the link is dead even if the socket does not know it.
        if (Date.now() - heard <= 2 * period) send({ t: 'ping' });
        else if (ws === socket) {
          lost(ws);
          ws.close();
        }
      }, period);
      sendHello();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws !== socket) return;
      heard = Date.now();
      try {
        for (const message of readServerFrame(String(event.data))) receive(message);
      } catch (err) {
        // Not what a twin server sends (a broken proxy, say): drop the link. The next one
        // starts over from the versions held here, and the server sends what they lack.
        if (DEV_MODE) console.warn('[twin-state] Malformed message from the server; reconnecting.', err);
        lost(ws);
        ws.close();
      }
    };
    ws.onclose = () => lost(ws);
    // Without a listener, Node's `ws` throws on errors; onclose follows and reconnects.
    ws.onerror = () => {};
  };

  /** `ws` closed, or went silent: go offline and, unless closed on purpose, reconnect. */
  const lost = (ws: WebSocket) => {
    if (ws !== socket) return;
    drop();
    if (closed) return;
    const delay = Math.min(options.maxDelay ?? MAX_DELAY, (options.minDelay ?? MIN_DELAY) * 2 ** attempts++);
    reconnectTimer = setTimeout(open, delay * (0.5 + Math.random() / 2));
  };

  const sendHello = () => {
    const subs: Record<string, number> = {};
    for (const replica of subscribed) subs[replica.name] = replica.v;
    const resend: (OpMessage | Call)[] = [];
    for (const replica of replicas.values()) {
      for (const batch of replica.pending) {
        // A turn batch still being collected is sent when its turn ends.
        if (batch.kind === 'ops' && batch.id) resend.push({ t: 'op', id: batch.id, store: replica.name, ops: batch.ops });
      }
    }
    for (const call of calls.values()) resend.push(call.message);
    // The server drops a batch whose seq is not above the last it applied: keep seq order.
    resend.sort((a, b) => seqOf(a.id) - seqOf(b.id));
    outbox = [{ t: 'hello', proto: PROTOCOL_VERSION, client: client.clientId, subs }, ...resend];
    helloSent = true;
    flush();
  };

  /**
   * Opens the connection if nothing else will: not open or opening, not waiting to reconnect,
   * not closed by the page, and with a URL to go to (the default one, when there is one).
   */
  const wake = () => {
    if (!socket && !closed && !reconnectTimer && (url ??= defaultUrl())) open();
  };

  /** Queues a message; everything queued in one turn goes out as one frame. */
  const send = (message: ClientMessage) => {
    // The first message to send opens the connection.
    wake();
    // Before hello, nothing goes out: hello re-sends whatever is still unconfirmed.
    if (helloSent && outbox.push(message) === 1) queueMicrotask(flush);
  };

  const flush = () => {
    const frame = outbox;
    if (socket?.readyState !== OPEN || !frame.length) return;
    outbox = [];
    socket.send(JSON.stringify(frame.length === 1 ? frame[0] : frame));
  };

  //#endregion connection

  const subscribe = (replica: Replica) => {
    subscribed.add(replica);
    send({ t: 'sub', store: replica.name, v: replica.v });
  };

  /** Takes the call `id` out of the pending ones. */
  const settle = (id: string) => {
    const call = calls.get(id);
    calls.delete(id);
    return call;
  };

  const receive = (message: ServerMessage) => {
    switch (message.t) {
      case 'welcome':
        attempts = 0;
        setState('online');
        flush();
        return;
      case 'snapshot':
        replicas.get(message.store)?.reset(message.value, message.v);
        return;
      case 'sync': {
        const replica = replicas.get(message.store);
        // A gap (a message we never got): ask again from the version we have.
        if (replica && !replica.receive(message.v, message.ops, message.id)) subscribe(replica);
        return;
      }
      case 'result':
        // Optimistic writes the server's run did not repeat are dropped now.
        for (const replica of replicas.values()) replica.drop(message.id);
        settle(message.id)?.resolve(message.value);
        return;
      case 'reject':
      case 'error': {
        const { store, code } = message;
        const id = message.t === 'reject' ? message.id : '';
        const error = new TwinError(code as ErrorCode, message.message);
        if (message.t === 'reject') {
          for (const replica of replicas.values()) {
            if (replica.pending.some((b) => b.id === id)) replica.reject(id, error);
          }
          settle(id)?.reject(error);
        } else {
          if (code === ErrorCode.REPLACED) closed = true;
          if (store) replicas.get(store)?.reject('', error);
        }
        client.dispatchEvent(new CustomEvent<RejectDetail>('reject', { detail: { store, id, code, message: message.message } }));
      }
    }
  };

  /** The first value of the local store `name`: what was persisted, else hydrated, else `init`. */
  const restore = (name: string, def: StoreDef | undefined): Json => {
    const hydrated = hydration.local?.[name];
    const fallback = hydrated?.value ?? (def ? initialValue(def) : {});
    const persist = def ? def.options.persist : hydrated?.persist;
    let area: Storage | undefined;
    try {
      area = persist === 'local' ? options.storage?.local ?? localStorage : persist === 'session' ? options.storage?.session ?? sessionStorage : undefined;
    } catch {
      // Storage access can throw (sandboxed frames, disabled cookies): keep it in memory.
    }
    areas.set(name, area);
    const text = area?.getItem(PERSIST_PREFIX + name);
    if (text == null) return fallback;
    /** Forgets the stored value, once found corrupted or refused by the store's schema. */
    const discard = () => {
      console.warn(DEV_MODE ? `[twin-state] The stored value of local store ${JSON.stringify(name)} is corrupted or fails its schema; using its default.` : `[twin-state] corrupted ${name}`);
      area!.removeItem(PERSIST_PREFIX + name);
    };
    try {
      const value = JSON.parse(text) as Json;
      if (isPlainObject(value)) {
        const checked = def?.options.schema?.['~standard'].validate(value);
        if (checked instanceof Promise) {
          // An async schema answers later: show the stored value meanwhile, the default if refused.
          void checked.then((result) => {
            if (!result.issues) return;
            discard();
            replicas.get(name)?.reset(deepCopy(fallback), 0);
          });
          return value;
        }
        if (!checked?.issues) return value;
      }
    } catch {
      // Not JSON: discarded below.
    }
    discard();
    return fallback;
  };

  const status = (replica: Replica): StoreStatus => {
    replica.trackAll();
    const error = replica.lastError;
    return {
      connection: replica.local ? 'local' : connection.get(),
      v: replica.v,
      pending: replica.pending.length,
      error: error && { code: error.code, message: error.message },
    };
  };

  return {
    state: connection,
    status,
    wake,
    replica(name, def, id) {
      let replica = replicas.get(name);
      if (replica) return replica;
      if (def ? def.kind === 'local' : hydration.local?.[name] !== undefined) {
        replica = new Replica(name, restore(name, def), 0, host, { local: true });
        replicas.set(name, replica);
      } else {
        const hydrated = hydration.shared?.[name];
        replica = new Replica(name, hydrated?.value ?? (def ? initialValue(def, id) : {}), hydrated?.v ?? 0, host);
        replicas.set(name, replica);
        subscribe(replica);
      }
      return replica;
    },
    call(action, args) {
      const def = typeof action === 'string' ? undefined : action;
      const id = nextBatchId();
      // Run a synchronous action at once against the view; an async one waits for the server.
      if (def && def.run.constructor.name !== 'AsyncFunction') {
        const batches = new Map<Replica, Batch>();
        activeCall = { id, batches };
        try {
          def.run(...(args as never[]));
        } catch {
          // The server runs it for real and answers; drop what the local run wrote.
          for (const replica of batches.keys()) replica.drop(id);
        } finally {
          activeCall = undefined;
        }
      }
      return new Promise<Json>((resolve, reject) => {
        const message: Call = { t: 'call', id, action: def ? def.name : (action as string), args };
        calls.set(id, { message, resolve, reject });
        send(message);
      });
    },
    connect(next) {
      if (next) url = next;
      url ??= defaultUrl();
      if (!url) throw new TypeError(DEV_MODE ? 'twin-state: no server URL: call connect("wss://host/_twin/ws").' : 'twin-state: no URL');
      closed = false;
      socket?.close();
      open();
    },
    close() {
      closed = true;
      clearTimeout(reconnectTimer);
      socket?.close();
      drop();
    },
  };
}

/** Creates a runtime of its own (another user, for tests and tools). The page has one already. */
export function createClient(options: ClientOptions = {}): Client {
  return new Client(options);
}

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf(':') + 1));
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join('');
}

function readHydration(): Hydration {
  const text = globalThis.document?.getElementById('twin-hydration')?.textContent;
  try {
    return text ? deepFreeze(JSON.parse(text) as Hydration) : {};
  } catch {
    console.warn(DEV_MODE ? '[twin-state] The hydration data of this page is not valid JSON; starting without it.' : '[twin-state] bad hydration');
    return {};
  }
}

/**
 * `/_twin/ws` on the server this script came from (the hub serves it at `/_twin/*.js`), or on
 * the page's own origin for an app bundle served there; none for a script from a CDN.
 */
function defaultUrl(): string | undefined {
  const script = new URL(import.meta.url);
  const location = globalThis.location;
  if (location && (script.pathname.startsWith('/_twin/') || script.origin === location.origin)) {
    return new URL(WS_PATH, script).href.replace(/^http/, 'ws');
  }
  return undefined;
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
