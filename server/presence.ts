// SPDX-License-Identifier: MIT
/**
 * @module presence
 * Who is here: each client may publish a small ephemeral JSON state (a name, a cursor, "typing")
 * for a store it reads, and every reader of that store sees the set of peers. Presence lives in
 * memory only — never in storage, never in the op log, never a version bump.
 *
 * - **Peers are keyed by the tab's presence key, not by client id.** A page keeps a random
 *   secret presence key in `sessionStorage` (it survives a reload, a new client id does not)
 *   and sends it with each publish; peers see only a hash of it (the peer id), so nobody can
 *   publish as someone else, and a reloaded page takes its old entry back instead of adding a
 *   second one. Keying by user (from `auth`) was not chosen: one user's tabs are several peers
 *   (two windows, two cursors), and pages without `auth` need presence too.
 * - **A peer leaves after a grace period** (`graceMs`, 10 s) once its connection closed: a
 *   reload or a short network loss shows no leave/join flicker. A crashed client's socket is
 *   closed by the heartbeat (no pong), then the grace runs. Unsubscribing leaves at once.
 * - **Coalesced**: changes of a store go out at most once per `intervalMs` (50 ms: 20 frames
 *   per second), as one message holding the changed entries, serialized once for every reader.
 * - **Bounded**: a state is at most 1 KB serialized and 8 levels deep (`src/protocol.ts`), a
 *   store holds at most `maxPeers` peers (local and other nodes' together); a publish past it
 *   is refused (`TWIN_ERR_OVERLOAD`). One entry per connection per store.
 * - **Across nodes** (`bus`, e.g. `createRedisPresenceBus`): each node sends its own peers'
 *   changes to the others and, every `graceMs / 2`, all of them (a refresh that repairs a
 *   missed message); a peer a node stopped refreshing (the node died) is dropped after three
 *   refresh periods. A publish is the newest word on a peer: the node that held it drops it
 *   silently when it was in its grace (a reload that landed on another node).
 */
import { createHash, randomUUID } from 'node:crypto';
import { debuglog } from 'node:util';
import { ErrorCode, TwinError } from '../src/errors.js';
import type { Json } from '../src/json.js';
import type { ServerMessage } from '../src/protocol.js';
import type { HubStore } from './hub-store.js';

const debug = debuglog('twin:server');

/** Defaults of {@link PresenceOptions}. */
export const DEFAULT_PRESENCE_GRACE_MS = 10_000;
const DEFAULT_INTERVAL_MS = 50;
const DEFAULT_MAX_PEERS = 2_000;
/** A peer another node has not refreshed for this many refresh periods is gone (its node died). */
const REMOTE_LIFETIMES = 3;

export interface PresenceOptions {
  /** How long a peer stays after its connection closed (ms). Default 10,000. */
  graceMs?: number;
  /** Shortest time between two presence frames of one store (ms). Default 50 (20 per second). */
  intervalMs?: number;
  /** Peers one store may hold. Default 2,000 (at 1 KB each at most, 2 MB). */
  maxPeers?: number;
  /** Carries presence between server nodes (`createRedisPresenceBus`). Default: none (one node). */
  bus?: PresenceBus;
}

/**
 * A channel every node of an app publishes to and hears (Redis pub/sub). Delivery may lose
 * messages: the periodic refresh repairs that.
 */
export interface PresenceBus {
  /** Sends `message` to every other node (and maybe back to this one: ignored by its node id). */
  publish(message: string): void;
  /** Hears messages of every node; returns the function that stops. */
  subscribe(listener: (message: string) => void): () => void;
}

/** What presence needs of a connection: to send to it. */
export interface PresenceConnection {
  send(message: ServerMessage): void;
  enqueue(message: Buffer): void;
}

/** One peer of a store, as serialized JSON text. */
interface Peer {
  text: string;
  /** Its connection on this node; undefined while in its grace, or when it is another node's. */
  conn: PresenceConnection | undefined;
  /** The node that owns it, when not this one. */
  node: string | undefined;
  grace: ReturnType<typeof setTimeout> | undefined;
  /** When its node last said it (other nodes' peers). */
  seen: number;
}

/** The presence of one store on this node. */
class StorePresence {
  readonly peers = new Map<string, Peer>();
  /** Changed since the last frame, for this node's readers (null: left). */
  readonly changed = new Map<string, string | null>();
  /** Changes of this node's own peers, for the other nodes. */
  readonly outgoing = new Map<string, string | null>();
  timer: ReturnType<typeof setTimeout> | undefined;
  last = 0;
  hubStore: HubStore | undefined;
  constructor(readonly name: string) {}
}

/** The presence of every store on this node. */
export class ServerPresence {
  readonly graceMs: number;
  private readonly intervalMs: number;
  private readonly maxPeers: number;
  private readonly bus: PresenceBus | undefined;
  private readonly node = randomUUID().slice(0, 8);
  private readonly stores = new Map<string, StorePresence>();
  /** Per connection, the peer id it holds in each store. */
  private readonly held = new Map<PresenceConnection, Map<string, string>>();
  private readonly refreshTimer: ReturnType<typeof setInterval> | undefined;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(options: PresenceOptions = {}) {
    this.graceMs = options.graceMs ?? DEFAULT_PRESENCE_GRACE_MS;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.bus = options.bus;
    if (this.bus) {
      this.unsubscribe = this.bus.subscribe((message) => this.heard(message));
      this.refreshTimer = setInterval(() => this.refresh(), this.refreshMs);
      this.refreshTimer.unref();
    }
  }

  private get refreshMs(): number {
    return Math.max(20, this.graceMs / 2);
  }

  /**
   * `conn` publishes `state` (null: withdraws) in `store`, which it reads and is subscribed to
   * (the connection checked that). `key` is its tab's secret presence key. Throws a coded error.
   */
  publish(store: HubStore, conn: PresenceConnection, key: string, state: Json | null): void {
    const sp = this.of(store);
    const id = peerId(key);
    const mine = this.held.get(conn) ?? new Map<string, string>();
    const before = mine.get(store.name);
    if (before !== undefined && before !== id) {
      // A new key for this connection (it was told to rekey): its old entry goes.
      mine.delete(store.name);
      if (sp.peers.get(before)?.conn === conn) this.remove(sp, before, true);
    }
    if (state === null) {
      if (before === id) mine.delete(store.name);
      // Only its own entry: one another page took over (same key) stays.
      if (sp.peers.get(id)?.conn === conn) this.remove(sp, id, true);
      return;
    }
    let peer = sp.peers.get(id);
    if (!peer && sp.peers.size >= this.maxPeers) {
      throw new TwinError(ErrorCode.OVERLOAD, `Store ${JSON.stringify(store.name)} holds its limit of ${this.maxPeers} peers; try again later.`);
    }
    const text = JSON.stringify(state);
    const isNew = !peer;
    if (!peer) sp.peers.set(id, (peer = { text, conn, node: undefined, grace: undefined, seen: 0 }));
    else this.takeOver(sp, peer, conn);
    if (mine.get(store.name) !== id) {
      mine.set(store.name, id);
      this.held.set(conn, mine);
      conn.send({ t: 'presence', store: store.name, peers: {}, self: id });
    }
    // The same state again (a re-publish after a reconnect or a reload) is no news to readers;
    // other nodes still hear it, as the word that this node holds the peer now.
    if (isNew || peer.text !== text) sp.changed.set(id, text);
    peer.text = text;
    if (this.bus) sp.outgoing.set(id, text);
    this.schedule(sp);
  }

  /** A new reader of `store`: it gets every peer at once (the frames after carry changes only). */
  subscribed(store: HubStore, conn: PresenceConnection): void {
    const sp = this.stores.get(store.name) ?? (this.bus ? this.of(store) : undefined);
    if (!sp) return;
    sp.hubStore = store;
    if (sp.peers.size) conn.enqueue(Buffer.from(frame(sp.name, [...sp.peers].map(([id, peer]) => [id, peer.text]))));
  }

  /** `conn` stopped reading `store`: its entry there leaves now (no grace: it meant to go). */
  unsubscribed(name: string, conn: PresenceConnection): void {
    const mine = this.held.get(conn);
    const id = mine?.get(name);
    const sp = this.stores.get(name);
    if (id === undefined || !sp) return;
    mine!.delete(name);
    if (sp.peers.get(id)?.conn === conn) this.remove(sp, id, true);
  }

  /** `conn` closed: each of its entries leaves after the grace, unless its tab comes back first. */
  closed(conn: PresenceConnection): void {
    const mine = this.held.get(conn);
    this.held.delete(conn);
    if (!mine) return;
    for (const [name, id] of mine) {
      const sp = this.stores.get(name);
      const peer = sp?.peers.get(id);
      if (!sp || !peer || peer.conn !== conn) continue;
      peer.conn = undefined;
      peer.grace = setTimeout(() => {
        if (sp.peers.get(id) === peer && !peer.conn && !peer.node) this.remove(sp, id, true);
      }, this.graceMs);
      peer.grace.unref?.();
    }
  }

  /** The peers of `name` on this node (ids and states): for tests and tools. */
  peers(name: string): Record<string, Json> {
    const out: Record<string, Json> = {};
    for (const [id, peer] of this.stores.get(name)?.peers ?? []) out[id] = JSON.parse(peer.text) as Json;
    return out;
  }

  /** Stops timers and the bus listener (the bus itself is its creator's to close). */
  close(): void {
    clearInterval(this.refreshTimer);
    this.unsubscribe?.();
    for (const sp of this.stores.values()) {
      clearTimeout(sp.timer);
      for (const peer of sp.peers.values()) clearTimeout(peer.grace);
    }
    this.stores.clear();
    this.held.clear();
  }

  //#region internals

  private of(store: HubStore): StorePresence {
    let sp = this.stores.get(store.name);
    if (!sp) {
      this.stores.set(store.name, (sp = new StorePresence(store.name)));
      // Another node may hold peers of it already: ask for them rather than wait for a refresh.
      this.bus?.publish(JSON.stringify({ n: this.node, s: store.name, ask: 1 }));
    }
    sp.hubStore = store;
    return sp;
  }

  /** `conn` (or another node, `conn` undefined) is now the one that speaks for `peer`. */
  private takeOver(sp: StorePresence, peer: Peer, conn: PresenceConnection | undefined, node?: string): void {
    clearTimeout(peer.grace);
    peer.grace = undefined;
    const previous = peer.conn;
    if (previous && previous !== conn) {
      // Another live page published with this key (a duplicated tab copies sessionStorage):
      // the newest wins, and the other is told to pick a key of its own and publish again.
      this.held.get(previous)?.delete(sp.name);
      previous.send({ t: 'presence', store: sp.name, peers: {}, rekey: true });
    }
    peer.conn = conn;
    peer.node = node;
  }

  private remove(sp: StorePresence, id: string, announce: boolean): void {
    const peer = sp.peers.get(id);
    if (!peer) return;
    clearTimeout(peer.grace);
    sp.peers.delete(id);
    sp.changed.set(id, null);
    if (announce && !peer.node) sp.outgoing.set(id, null);
    this.schedule(sp);
  }

  /** One frame per store per interval: the first change waits for the interval's end. */
  private schedule(sp: StorePresence): void {
    if (sp.timer) return;
    sp.timer = setTimeout(() => this.flush(sp), Math.max(0, sp.last + this.intervalMs - Date.now()));
  }

  private flush(sp: StorePresence): void {
    sp.timer = undefined;
    sp.last = Date.now();
    if (sp.changed.size) {
      const message = Buffer.from(frame(sp.name, sp.changed));
      sp.changed.clear();
      for (const subscriber of sp.hubStore?.subscribers ?? []) subscriber.enqueue(message);
    }
    if (sp.outgoing.size) {
      if (this.bus) this.bus.publish(busMessage(this.node, sp.name, sp.outgoing));
      sp.outgoing.clear();
    }
    // A store nobody here reads or is present in holds nothing.
    if (!sp.peers.size && !sp.hubStore?.subscribers.size) this.stores.delete(sp.name);
  }

  /** Every node says, now and then, all of its peers (the bus may lose a message). */
  private refresh(): void {
    const now = Date.now();
    for (const sp of this.stores.values()) {
      const own: [string, string][] = [];
      for (const [id, peer] of sp.peers) {
        if (!peer.node) own.push([id, peer.text]);
        else if (now - peer.seen > REMOTE_LIFETIMES * this.refreshMs) this.remove(sp, id, false);
      }
      if (own.length) this.bus!.publish(busMessage(this.node, sp.name, own, true));
      else if (!sp.peers.size && !sp.hubStore?.subscribers.size && !sp.timer) this.stores.delete(sp.name);
    }
  }

  /** Another node's message: its peers' changes, all of its peers (`f`), or a question (`ask`). */
  private heard(text: string): void {
    let m: { n: string; s: string; p?: Record<string, Json | null>; f?: 1; ask?: 1 };
    try {
      m = JSON.parse(text) as typeof m;
    } catch (err) {
      debug('presence: unreadable bus message: %o', err);
      return;
    }
    if (m.n === this.node) return;
    const sp = this.stores.get(m.s);
    // Peers of a store nobody here reads are not kept; a first reader asks for them.
    if (!sp) return;
    if (m.ask) {
      const own = [...sp.peers].filter(([, peer]) => !peer.node).map(([id, peer]): [string, string] => [id, peer.text]);
      if (own.length) this.bus!.publish(busMessage(this.node, sp.name, own, true));
      return;
    }
    const now = Date.now();
    const said = new Set<string>();
    for (const [id, state] of Object.entries(m.p ?? {})) {
      said.add(id);
      const peer = sp.peers.get(id);
      if (state === null) {
        if (peer?.node === m.n) this.remove(sp, id, false);
        continue;
      }
      // A refresh never takes a peer from this node (only a publish, the newest word, does).
      if (m.f && peer && !peer.node) continue;
      const text = JSON.stringify(state);
      if (!peer) {
        if (sp.peers.size >= this.maxPeers) continue;
        sp.peers.set(id, { text, conn: undefined, node: m.n, grace: undefined, seen: now });
      } else {
        if (!peer.node || peer.node !== m.n) this.takeOver(sp, peer, undefined, m.n);
        peer.seen = now;
        if (peer.text === text) continue;
        peer.text = text;
      }
      sp.changed.set(id, text);
      this.schedule(sp);
    }
    if (m.f) {
      // The node's whole list: its peers not in it left (a message of theirs was lost).
      for (const [id, peer] of sp.peers) if (peer.node === m.n && !said.has(id)) this.remove(sp, id, false);
    }
  }

  //#endregion internals
}

/** The public id of a presence key: a one-way hash, so seeing it does not let anyone publish as it. */
export function peerId(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 16);
}

/** A `presence` message from serialized states, built without parsing them again. */
function frame(store: string, peers: Iterable<[string, string | null]>): string {
  return `{"t":"presence","store":${JSON.stringify(store)},"peers":${entries(peers)}}`;
}

function busMessage(node: string, store: string, peers: Iterable<[string, string | null]>, full = false): string {
  return `{"n":${JSON.stringify(node)},"s":${JSON.stringify(store)}${full ? ',"f":1' : ''},"p":${entries(peers)}}`;
}

function entries(peers: Iterable<[string, string | null]>): string {
  const parts: string[] = [];
  for (const [id, text] of peers) parts.push(`${JSON.stringify(id)}:${text ?? 'null'}`);
  return `{${parts.join(',')}}`;
}
