// SPDX-License-Identifier: MIT
/**
 * @module client-core
 * The state of a client: its replicas and its connection to the hub. Writes show at once and
 * queue as pending batches; the server's syncs rebase them; a reject rolls back that batch
 * alone and is announced (a `reject` event, and `status()`). Once welcomed, the client
 * subscribes with the versions it already has (from hydration, or from before a disconnect),
 * so it receives only what it missed, and re-sends unconfirmed batches and calls in order,
 * which the server applies once. Every batch ends confirmed or refused: a refusal for now
 * (`retry`) is sent again with backoff; a final one rolls back; a write too large to ever pass
 * is refused here at once (the limits, and the order messages go in, are `outgoing.ts`'s). The
 * socket itself (reconnects, pacing, limits) is the link's (`link.ts`); keeping writes across
 * reloads is `kept-writes.ts`'s.
 *
 * The state lives in closures, not in class members: the public `Client` only forwards to
 * them, so a user subclass cannot clash with it, and the browser bundle stays small.
 */
import type { ClientOptions, RejectDetail, StaleWrite } from './client-options.js';
import { initialValue } from './define.js';
import { DEV_MODE } from './dev.js';
import { ErrorCode, TwinError } from './errors.js';
import type { Json } from './json.js';
import { createKeptWrites } from './kept-writes.js';
import { backoffDelay, createLink } from './link.js';
import type { ConnectionState, Link } from './link.js';
import { createLocalStores } from './local-stores.js';
import { inSendOrder, oversized } from './outgoing.js';
import { defaultUrl, readHydration } from './page-defaults.js';
import { createPresence, registerPresence } from './presence.js';
import { PROTOCOL_VERSION } from './protocol.js';
import type { Call, OpMessage, ServerMessage } from './protocol.js';
import { Replica } from './replica.js';
import { createSnapshotAssembly } from './snapshot-assembly.js';
import type { Batch, ReplicaHost } from './replica.js';
import type { StoreStatus } from './store-status.js';
import type { Runtime } from './runtime.js';
import { state } from './signals.js';
import { keepHistory } from './undo.js';

/** First and longest pause before re-sending batches refused for now (doubling, with jitter). */
const RETRY_MIN_DELAY = 250;
const RETRY_MAX_DELAY = 5000;
/** A store is unsubscribed this long after it loses its last watcher (a re-render must not churn). */
const UNSUB_GRACE = 1000;
/** Stores named in a hello (well below any server's `maxSubs`); the rest are subscribed after the welcome. */
const HELLO_SUBS = 64;

/** Who the core works for: the client's id, its key, and where its events go. */
export interface CoreOwner extends EventTarget {
  readonly clientId: string;
  readonly clientKey: string;
}

/** What a `Client` forwards to. */
export interface Core extends Runtime {
  readonly state: ReturnType<typeof state<ConnectionState>>;
  readonly stale: ReturnType<typeof state<readonly StaleWrite[]>>;
  readonly unanswered: ReturnType<typeof state<number>>;
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
export function createCore(client: CoreOwner, options: ClientOptions): Core {
  const replicas = new Map<string, Replica>();
  const subscribed = new Set<Replica>();
  const calls = new Map<string, PendingCall>();
  const unsubTimers = new Map<Replica, ReturnType<typeof setTimeout>>();
  const hydration = options.hydration ?? readHydration();
  /** Shared stores this page defines (dev mode: to name a minified store name the server lacks). */
  const defined = new Set<string>();
  /** Shared stores whose definition (and so `version`) this page has seen. */
  const versioned = new Set<string>();
  const locals = createLocalStores(hydration, options.storage, (name, value) => replicas.get(name)?.reset(value, 0));
  let seq = 0;
  /** Batches and calls refused for now, to send again (in seq order) when the timer fires. */
  const retries = new Set<string>();
  let retryAttempts = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The optimistic run of an action in progress: its id and the batch it opened per replica. */
  let activeCall: { id: string; batches: Map<Replica, Batch> } | undefined;

  const nextBatchId = () => `${client.clientId}:${++seq}`;

  const kept = createKeptWrites(options, client.clientId, client.clientKey, {
    resend: (message) => {
      if (message.t === 'op') core.replica(message.store).restorePending(message.id, message.ops, `${client.clientId}:`);
      else calls.set(message.id, { message, resolve: noop, reject: noop });
      link.send(message);
    },
    announce: (store, id, error) => announce(store, id, error),
    retry: (message) => {
      if (message.t === 'call') return void core.call(message.action, message.args).catch(noop);
      const fresh = { ...message, id: nextBatchId() };
      const replica = core.replica(message.store);
      replica.restorePending(fresh.id, fresh.ops);
      dispatch(replica, fresh, fresh.ops.length);
    },
    claim: (claim) => link.send({ t: 'adopt', claims: [claim] }),
  });
  /** The hellos started: one whose socket was replaced before it could be said is dropped. */
  let opens = 0;
  /** The stores the last hello named (it subscribes to them). */
  let helloSubs = new Set<Replica>();

  const link: Link = createLink(options, defaultUrl, {
    opened: () => {
      // After the outbox took over what gone pages left (their ids are claimed here too).
      const opening = ++opens;
      void kept.ready.then(() => {
        if (opening !== opens) return;
        // The first stores go in the hello (the server answers each with what it missed); any
        // more follow the welcome as `sub`s, paced within the limits the welcome states.
        const subs: Record<string, number> = {};
        helloSubs = new Set([...subscribed].slice(0, HELLO_SUBS));
        for (const replica of helloSubs) subs[replica.name] = replica.v;
        link.sendNow({ t: 'hello', proto: PROTOCOL_VERSION, client: client.clientId, key: client.clientKey, subs });
      });
    },
    message: (message) => receive(message),
    changed: (next) => client.dispatchEvent(new CustomEvent('status', { detail: next })),
    // The server will not take this page: nothing waiting can end otherwise, so it ends refused.
    refused: (error) => {
      const waiting: [Replica | undefined, string][] = [...calls.keys()].map((id) => [undefined, id]);
      for (const replica of replicas.values()) {
        // (An optimistic call's batches end with their call.)
        for (const batch of replica.pending) if (batch.kind === 'ops' && batch.id) waiting.push([replica, batch.id]);
      }
      for (const [replica, id] of waiting) refuse(replica, id, error);
      // Nothing was waiting: the page still hears why it is not connected (`<twin-error>`).
      if (!waiting.length) announce(undefined, '', error);
    },
  });

  const host: ReplicaHost = {
    nextBatchId,
    batchFor: (replica) => {
      const call = activeCall;
      let batch = call?.batches.get(replica);
      if (call && !batch) call.batches.set(replica, (batch = replica.openBatch(call.id, 'call')));
      return batch;
    },
    flush: (replica, batch) => {
      if (!replica.local) {
        dispatch(replica, { t: 'op', id: batch.id, store: replica.name, ops: batch.ops }, batch.ops.length);
        return;
      }
      locals.persist(replica);
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
        link.send({ t: 'unsub', store: replica.name });
      }, UNSUB_GRACE));
    },
    status: (replica) => status(replica),
  };
  const presence = createPresence((message) => link.send(message), options.presenceStorage);
  const snapshots = createSnapshotAssembly((store, value, v) => replicas.get(store)?.reset(value, v));
  registerPresence(host, presence);

  /**
   * Sends a batch or call, kept until it is answered. One the server would refuse whatever
   * happens is refused here, at once, alone (as is any while the server refuses this page).
   * Serialized once here, for its size and the outbox.
   */
  const dispatch = (replica: Replica | undefined, message: OpMessage | Call, ops: number) => {
    const text = JSON.stringify(message);
    const tooBig = link.refusal ?? oversized(text, ops, link.limits);
    if (tooBig) return queueMicrotask(() => refuse(replica, message.id, tooBig));
    kept.keep(message, text);
    link.send(message);
  };

  /** Every batch and call not yet answered, in seq order (the order the server must see them in). */
  const unconfirmed = (): (OpMessage | Call)[] => {
    const out: (OpMessage | Call)[] = [];
    for (const replica of replicas.values()) {
      for (const batch of replica.pending) {
        // A turn batch still being collected is sent when its turn ends.
        if (batch.kind === 'ops' && batch.id) out.push({ t: 'op', id: batch.id, store: replica.name, ops: batch.ops });
      }
    }
    for (const call of calls.values()) out.push(call.message);
    return inSendOrder(out, client.clientId);
  };

  /**
   * The server refused `id` for now: send it again after a pause, with the others refused by
   * then, in seq order. (Not the ones still on their way: each gets its own answer, and a copy
   * sent twice would be answered twice.)
   */
  const retryLater = (id: string) => {
    retries.add(id);
    if (retryTimer) return;
    const pause = backoffDelay(retryAttempts++, RETRY_MIN_DELAY, RETRY_MAX_DELAY);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      for (const message of unconfirmed()) if (retries.has(message.id)) link.send(message);
      retries.clear();
    }, pause * (0.5 + Math.random() / 2));
  };

  /** Ends batch or call `id` refused: rolled back, its promise rejected, the refusal announced. */
  const refuse = (replica: Replica | undefined, id: string, error: TwinError) => {
    kept.settle(id);
    replica?.reject(id, error);
    const call = calls.get(id);
    calls.delete(id);
    let stores = [replica?.name];
    if (call) {
      // An optimistic run's writes go with the call, and each store it wrote hears why
      // (`<twin-error store>`, `status().error`).
      const wrote = [...replicas.values()].filter((r) => r.pending.some((b) => b.id === id));
      for (const r of wrote) r.reject(id, error);
      if (wrote.length) stores = wrote.map((r) => r.name);
      call.reject(error);
    }
    for (const store of stores) announce(store, id, error);
  };

  const announce = (store: string | undefined, id: string, error: TwinError) => {
    client.dispatchEvent(new CustomEvent<RejectDetail>('reject', { detail: { store, id, code: error.code, message: error.message } }));
  };

  const subscribe = (replica: Replica) => {
    subscribed.add(replica);
    link.send({ t: 'sub', store: replica.name, v: replica.v });
  };

  const receive = (message: ServerMessage) => {
    switch (message.t) {
      case 'welcome':
        link.ready(message.limits);
        // Start over: everything this client holds, from the versions it has.
        clearTimeout(retryTimer);
        retryTimer = undefined;
        retries.clear();
        snapshots.clear();
        // (Those subscribed since the hello left too: a `sub` before the welcome is dropped.)
        for (const replica of subscribed) if (!helloSubs.has(replica)) link.send({ t: 'sub', store: replica.name, v: replica.v });
        // Gone pages' ids first: their messages are among those sent again.
        const claims = kept.claims();
        if (claims.length) link.send({ t: 'adopt', claims });
        for (const m of unconfirmed()) {
          const stale = kept.expire(m, message.versions ?? {});
          if (!stale) {
            link.send(m);
            continue;
          }
          // Kept past outboxMaxAge (a tab offline that long), or made against another version
          // of its store than the server's: handed back, not sent; the view and the caller let
          // it go, the outbox keeps it for the app to retry or discard.
          for (const replica of replicas.values()) replica.drop(m.id, stale);
          const call = calls.get(m.id);
          calls.delete(m.id);
          call?.reject(stale);
        }
        presence.welcome();
        return;
      case 'presence':
        presence.receive(message);
        return;
      case 'snapshot':
        snapshots.snapshot(message);
        return;
      case 'part':
        snapshots.part(message);
        return;
      case 'sync': {
        const replica = replicas.get(message.store);
        if (message.id) {
          retryAttempts = 0;
          kept.settle(message.id);
        }
        // A gap (a message we never got): ask again from the version we have.
        if (replica && !replica.receive(message.v, message.ops, message.id)) subscribe(replica);
        return;
      }
      case 'result': {
        retryAttempts = 0;
        kept.settle(message.id);
        // Optimistic writes the server's run did not repeat are dropped now.
        for (const replica of replicas.values()) replica.drop(message.id);
        const call = calls.get(message.id);
        calls.delete(message.id);
        call?.resolve(message.value);
        return;
      }
      case 'reject': {
        const error = new TwinError(message.code as ErrorCode, message.message);
        if (message.retry) {
          retryLater(message.id);
          return;
        }
        const replica = [...replicas.values()].find((r) => r.pending.some((b) => b.id === message.id));
        refuse(replica, message.id, error);
        return;
      }
      case 'error': {
        const { store, code } = message;
        const error = new TwinError(code as ErrorCode, message.message);
        if (store) replicas.get(store)?.reject('', error);
        if (DEV_MODE && code === ErrorCode.STORE && store && defined.has(store)) {
          // A store this bundle defines, unknown to the server: a minifier renamed its function.
          defined.delete(store);
          console.warn(`[twin-state] The server has no store ${JSON.stringify(store)}, which this page defines. If the page's bundle is minified, the store's name may come from a renamed function: name it explicitly, app.shared('name', () => ...), on both sides.`);
        }
        announce(store, '', error);
      }
    }
  };

  const status = (replica: Replica): StoreStatus => {
    replica.trackAll();
    const error = replica.lastError;
    return {
      connection: replica.local ? 'local' : link.state.get(),
      v: replica.v,
      pending: replica.pending.length,
      error: error && { code: error.code, message: error.message },
    };
  };

  const core: Core = {
    state: link.state,
    stale: kept.stale,
    unanswered: kept.unanswered,
    wake: link.wake,
    replica(name, def, id) {
      let replica = replicas.get(name);
      if (replica) {
        // A store reached by name first (a write taken back from an outbox) and only now by its
        // definition: its version counts from here.
        if (def && def.kind !== 'local' && !versioned.has(name)) {
          versioned.add(name);
          kept.define(name, def.options.version);
          if (DEV_MODE) defined.add(name);
        }
        return replica;
      }
      if (def ? def.kind === 'local' : hydration.local?.[name] !== undefined) {
        replica = new Replica(name, locals.restore(name, def), 0, host, { local: true });
        replicas.set(name, replica);
      } else {
        const hydrated = hydration.shared?.[name];
        if (DEV_MODE && def) defined.add(name);
        if (def) {
          versioned.add(name);
          kept.define(name, def.options.version);
        }
        replica = new Replica(name, hydrated?.value ?? (def ? initialValue(def, id) : {}), hydrated?.v ?? 0, host);
        keepHistory(replica);
        replicas.set(name, replica);
        subscribe(replica);
      }
      return replica;
    },
    call(action, args) {
      const def = typeof action === 'string' ? undefined : action;
      const id = nextBatchId();
      // An action declared optimistic runs at once against the view; the server's run replaces it.
      if (def?.options.optimistic) {
        const batches = new Map<Replica, Batch>();
        activeCall = { id, batches };
        try {
          const result = def.run(...(args as never[])) as { then?: unknown } | undefined;
          if (typeof result?.then === 'function') {
            // Writes after its first await would go out as plain batches and happen twice: not
            // optimistic then. (Those made before it are dropped here.)
            if (DEV_MODE) console.warn(`[twin-state] The optimistic action ${JSON.stringify(def.name)} returned a promise; only a synchronous action can run optimistically. Its local run is dropped.`);
            for (const replica of batches.keys()) replica.drop(id);
          }
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
        dispatch(undefined, message, 0);
      });
    },
    connect: link.connect,
    close: link.close,
  };
  return core;
}

function noop(): void {}
