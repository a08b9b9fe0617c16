// SPDX-License-Identifier: MIT
/**
 * @module presence
 * Who is here, as the page sees it: `presence(store)` is the list of peers of a shared store
 * (a signal: tracked when read in a computed, an effect or a Lit render), `setPresence(store,
 * state)` publishes this page's own entry. Presence is ephemeral (the server keeps it in memory
 * only, `server/presence.ts`) and coalesced: whatever a page sets within 50 ms leaves as one
 * message per store. The local entry shows at once (marked `self`), before the server heard it,
 * and is published again after a reconnect.
 *
 * Presence travels with the store's subscription (the server sends peers to its subscribers and
 * takes publishes from them only), and a client lets go of a store nobody watches: so a
 * consumer of `presence(store)` watches the store too, and while this page's own state is set
 * there, an effect of presence's does, to keep it subscribed.
 *
 * The page is one peer per tab: it names itself by a random secret presence key kept in
 * `sessionStorage`, which a reload keeps (a new client id does not), so a reloaded page takes
 * its entry back instead of showing as someone new. Peers see only a hash of the key.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import { cloneJson, deepFreeze } from './json.js';
import type { Json } from './json.js';
import { utf8Length } from './link.js';
import { PRESENCE_MAX_BYTES, PRESENCE_MAX_DEPTH } from './protocol.js';
import type { PresencePeers, PresenceSet } from './protocol.js';
import { nodeOf } from './proxy.js';
import type { Replica } from './replica.js';
import { effect, state } from './signals.js';

/** One peer of a store: its public id, its state, and whether it is this page. */
export interface Peer {
  readonly id: string;
  readonly state: Json;
  readonly self: boolean;
}

/** A page's presence in every store it used it in. @internal */
export interface PresenceCore {
  list(store: Replica): readonly Peer[];
  set(store: Replica, state: Json | undefined): void;
  receive(message: PresencePeers): void;
  /** The connection (re)opened: peers are told again by the server, the own entries re-published. */
  welcome(): void;
}

/** At most one presence message per store per this many ms (the server's own pace). */
const INTERVAL_MS = 50;
const KEY_ITEM = 'twin.presence';

interface Slot {
  readonly peers: Map<string, Peer>;
  self: string | undefined;
  local: Json | undefined;
  dirty: boolean;
  readonly list: ReturnType<typeof state<readonly Peer[]>>;
  /** Ends the effect that keeps the store watched while this page's state is set there. */
  _release?: (() => void) | undefined;
}

const cores = new WeakMap<object, PresenceCore>();

/** Ties a runtime's replica host to its presence. @internal */
export function registerPresence(host: object, core: PresenceCore): void {
  cores.set(host, core);
}

function coreOf(store: object, what: string): { core: PresenceCore | undefined; replica: Replica } {
  const ref = nodeOf(store);
  if (!ref) throw new TypeError(DEV_MODE ? `${what}() needs a shared store, not ${String(store)}.` : what);
  return { core: cores.get(ref.replica.host), replica: ref.replica };
}

/**
 * The peers of `store` (this page included, first, once it set a state), each `{ id, state,
 * self }`. Tracked when read in a signal consumer: a Lit `SignalWatcher` render, `computed`,
 * `effect`. Empty on the server.
 *
 * ```ts
 * html`${presence($chatRoom).map((p) => html`<li>${p.state.name}${p.self ? ' (you)' : ''}</li>`)}`
 * ```
 */
export function presence(store: object): readonly Peer[] {
  const { core, replica } = coreOf(store, 'presence');
  return core ? core.list(replica) : [];
}

/**
 * Publishes this page's presence in `store`: any JSON value up to 1 KB serialized and 8 levels
 * deep (else throws `TWIN_ERR_TOO_BIG`, `TWIN_ERR_DEPTH` or `TWIN_ERR_VALUE`, and nothing
 * changes); `undefined` withdraws it. Shows at once in {@link presence}; reaches the server
 * coalesced, at most 20 times a second.
 *
 * ```ts
 * setPresence($chatRoom, { name: player.name, typing: true });
 * ```
 */
export function setPresence(store: object, value: Json | undefined): void {
  const { core, replica } = coreOf(store, 'setPresence');
  core?.set(replica, value);
}

/** The presence of one client; `send` goes through its link, `session` keeps the tab's key. @internal */
export function createPresence(send: (message: PresenceSet) => void, session: Storage | undefined): PresenceCore {
  const slots = new Map<string, Slot>();
  let key = read(session) ?? newKey(session);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;

  const slot = (name: string): Slot => {
    let s = slots.get(name);
    if (!s) slots.set(name, (s = { peers: new Map(), self: undefined, local: undefined, dirty: false, list: state<readonly Peer[]>([]) }));
    return s;
  };

  const show = (s: Slot) => {
    const list: Peer[] = [];
    if (s.local !== undefined) list.push({ id: s.self ?? '', state: s.local, self: true });
    for (const peer of s.peers.values()) if (peer.id !== s.self) list.push(peer);
    s.list.set(list);
  };

  const flush = () => {
    timer = undefined;
    last = Date.now();
    for (const [name, s] of slots) {
      if (!s.dirty) continue;
      s.dirty = false;
      send({ t: 'presence', store: name, key, state: s.local ?? null });
    }
  };

  const schedule = () => {
    timer ??= setTimeout(flush, Math.max(0, last + INTERVAL_MS - Date.now()));
  };

  const republish = () => {
    for (const s of slots.values()) if (s.local !== undefined) s.dirty = true;
    schedule();
  };

  return {
    list(replica) {
      const s = slot(replica.name);
      // A watcher of the peers watches the store (the slot: a node of the view no write bumps).
      replica.track(s as never);
      return s.list.get();
    },
    set(replica, value) {
      const s = slot(replica.name);
      s.local = value === undefined ? undefined : deepFreeze(checked(value));
      if (s.local === undefined) {
        s._release?.();
        s._release = undefined;
      } else {
        s._release ??= effect(() => replica.trackAll());
      }
      s.dirty = true;
      show(s);
      schedule();
    },
    receive(message) {
      const s = slot(message.store);
      if (message.rekey) {
        // A duplicated tab shared this key (sessionStorage is copied): pick one of our own.
        key = newKey(session);
        republish();
      }
      if (message.self !== undefined) s.self = message.self;
      for (const [id, st] of Object.entries(message.peers)) {
        if (st === null) s.peers.delete(id);
        else s.peers.set(id, { id, state: deepFreeze(st), self: false });
      }
      show(s);
    },
    welcome() {
      // The server sends each store's peers again with the subscription: start from those.
      for (const s of slots.values()) {
        s.peers.clear();
        show(s);
      }
      republish();
    },
  };
}

/** The server's checks (`readPresenceState`), made here so a bad state fails where it is set. */
function checked(value: Json): Json {
  const copy = cloneJson(value, PRESENCE_MAX_DEPTH);
  const bytes = utf8Length(JSON.stringify(copy));
  if (bytes > PRESENCE_MAX_BYTES) throw twinError(ErrorCode.TOO_BIG, DEV_MODE && `A presence state may take at most ${PRESENCE_MAX_BYTES} bytes; this one takes ${bytes}.`);
  return copy;
}

function read(session: Storage | undefined): string | undefined {
  try {
    return session?.getItem(KEY_ITEM) ?? undefined;
  } catch {
    return undefined;
  }
}

function newKey(session: Storage | undefined): string {
  const key = Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => (b | 256).toString(16).slice(1)).join('');
  try {
    session?.setItem(KEY_ITEM, key);
  } catch {
    // (No storage: the key lasts as long as the page.)
  }
  return key;
}
