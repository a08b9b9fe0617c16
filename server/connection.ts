// SPDX-License-Identifier: MIT
/**
 * @module connection
 * One client's WebSocket as the hub sees it. Every frame is checked (size, structure, depth,
 * rate) before it touches any state; a bad one gets a coded `reject` (naming each batch or
 * call it refuses) or `error` and changes nothing. Messages of one connection are handled
 * in order — consecutive batches to one store go on without waiting for each other's commit
 * (`op-flow.ts`), the store commits them in that order — and a batch refused for now (a
 * retryable code) holds back the client's later batches until it is sent again, so the
 * server never commits a client's batches out of order. Everything bound for the client within a tick leaves as one frame; a client whose
 * unsent data grows past a bound is dropped, to resync when it reconnects. The stores it
 * follows, and what it is sent when it subscribes, are `subscriptions.ts`'s.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { debuglog } from 'node:util';
import type { WebSocket } from 'ws';
import { CloseCode, formatCloseReason } from '../src/close-codes.js';
import { definitionsOf } from '../src/define.js';
import { ErrorCode, RETRYABLE, TwinError } from '../src/errors.js';
import { PROTOCOL_VERSION, readClientFrame } from '../src/protocol.js';
import type { ClientClaim, ClientMessage, ServerMessage } from '../src/protocol.js';
import type { Json } from '../src/json.js';
import { asTwinError } from './hub.js';
import type { Hub, Subscriber } from './hub.js';
import { FrameCache } from './frames.js';
import { ClientIds } from './client-ids.js';
import { OpFlow } from './op-flow.js';
import type { ServerPresence } from './presence.js';
import { TokenBucket } from './token-bucket.js';
import type { ServerLimits } from './twin-options.js';
import type { RateBucket } from './token-bucket.js';
import { Subscriptions } from './subscriptions.js';

const debug = debuglog('twin:server');

/** What a connection needs from the server that owns it. */
export interface ConnectionOwner {
  readonly hub: Hub;
  readonly limits: ServerLimits;
  /**
   * Claims `client` for `connection`, closing whichever connection held it before. `adopted`:
   * a closed page's id, claimed by the page after it to send its outbox (no `connect` event).
   */
  claim(client: string, connection: Connection, adopted?: boolean): void;
  /** Marks `connection` as having something to send this tick. */
  dirty(connection: Connection): void;
  /** The connection closed. */
  closed(connection: Connection): void;
  /** Who is here, per store (`presence.ts`); none: presence messages are refused. */
  readonly presence?: ServerPresence;
}

/** Codes that are the server's trouble or a consequence of one: they never count as the client's strikes. */
const NOT_THE_CLIENTS_FAULT: ReadonlySet<string> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL, ErrorCode.ORDER, ErrorCode.OVERLOAD]);
/** A connection's batches on their way to storage at once; past it, it reads no more until one lands. */
const MAX_OPS_ON_THE_WAY = 64;
/** Longest a `hello` runs before it lets other work in (ms). */
const SLICE_MS = 4;

export class Connection implements Subscriber {
  readonly user: unknown;
  private readonly socket: WebSocket;
  private readonly owner: ConnectionOwner;
  /** The stores it follows. */
  private readonly subs: Subscriptions;
  private readonly bucket: RateBucket;
  private readonly creations: TokenBucket;
  private outbox: Buffer[] = [];
  private chain: Promise<void> = Promise.resolve();
  private strikes = 0;
  /** Frames received, and the last one that earned a strike: a frame earns one at most. */
  private frames = 0;
  private struckFrame = 0;
  /** The ids it speaks for, and their batches refused for now. */
  private readonly ids: ClientIds;
  /** Batches on their way to one store (committed back to back). */
  private readonly flow = new OpFlow(MAX_OPS_ON_THE_WAY);
  private isClosed = false;
  alive = true;

  /** @param bucket the client's rate limit (shared by its address's connections); default one of its own. */
  constructor(socket: WebSocket, user: unknown, owner: ConnectionOwner, bucket?: RateBucket) {
    this.socket = socket;
    this.user = user;
    this.owner = owner;
    const { rate, burst, createRate } = owner.limits;
    this.bucket = bucket ?? new TokenBucket(rate, burst);
    this.creations = new TokenBucket(createRate, 10 * createRate);
    this.ids = new ClientIds(owner.hub.records, owner.hub.logger);
    this.subs = new Subscriptions(owner.hub, this, () => this.creations.take(1), () => this.isClosed);
    socket.on('message', (data, isBinary) => this.onFrame(isBinary ? '' : data.toString()));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => this.onClose());
    socket.on('error', (err) => debug('socket error: %o', err));
  }

  /** Its own client id ('' before its hello). */
  get client(): string {
    return this.ids.own;
  }

  /** Whether batches of `client` come through this connection (its own id, or an adopted one). */
  owns(client: string): boolean {
    return this.ids.owns(client);
  }

  /** The ids this connection holds: its own and the adopted ones. */
  clients(): string[] {
    return this.ids.all();
  }

  //#region sending

  enqueue(message: Buffer): void {
    if (this.outbox.push(message) === 1) this.owner.dirty(this);
  }

  /** Sends a message to this client only (serialized here: it is not a broadcast). */
  send(message: ServerMessage): void {
    this.enqueue(Buffer.from(JSON.stringify(message)));
  }

  /**
   * Sends what this tick queued, as one frame. Called by the owner once per tick, with the
   * tick's `frames`: subscribers that queued the same messages share one frame.
   */
  flush(frames: FrameCache): void {
    const queued = this.outbox;
    if (queued.length === 0) return;
    this.outbox = [];
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.owner.limits.maxBuffer) {
      // The client does not keep up: drop it rather than buffer without bound. It resyncs
      // from its last version when it reconnects.
      // It does not read, so it would not answer a closing handshake either: cut it off.
      debug('dropping slow client %s (%d bytes buffered)', this.client, this.socket.bufferedAmount);
      this.socket.terminate();
      return;
    }
    for (const frame of frames.framesOf(queued)) this.socket.send(frame, { binary: false });
  }

  //#endregion sending
  //#region receiving

  private onFrame(text: string): void {
    let messages: ClientMessage[];
    const frame = ++this.frames;
    try {
      messages = readClientFrame(text, this.owner.limits, (error, id) => {
        this.bucket.take(1);
        if (!id) return this.refuse(error, frame);
        // A batch or call that is not well-formed is refused by its id (finally): the client
        // (one whose stored outbox was edited, say) learns its fate; the frame's others go on.
        this.send({ t: 'reject', id, code: error.code, message: error.message });
        this.strike(frame);
      });
    } catch (err) {
      this.bucket.take(1);
      this.refuse(asTwinError(err), frame);
      return;
    }
    if (!this.bucket.take(messages.length)) {
      // Every batch and call in the frame is refused by id, for now: the client sends them again.
      const error = new TwinError(ErrorCode.RATE, `You are sending too fast (${messages.length} messages in one frame); slow down.`);
      for (const message of messages) this.answer(message, error, frame);
      return;
    }
    for (const message of messages) {
      this.chain = this.chain.then(() => this.handle(message, frame)).catch((err) => this.answer(message, asTwinError(err), frame));
    }
  }

  private async handle(message: ClientMessage, frame: number): Promise<void> {
    const hub = this.owner.hub;
    await this.flow.before(message.t === 'op' ? message.store : undefined);
    switch (message.t) {
      case 'ping':
        this.send({ t: 'pong' });
        return;
      case 'hello':
        await this.hello(message.client, message.key, message.subs);
        // (Not for a hello refused: nothing is claimed for a connection that is closing.)
        if (message.adopt && this.client && !this.isClosed) await this.adopt(message.adopt);
        for (const store of this.subs) this.owner.presence?.subscribed(store, this);
        return;
    }
    if (!this.client) throw new TwinError(ErrorCode.ID, 'Say hello first.');
    switch (message.t) {
      case 'sub':
        await this.subs.subscribe(message.store, message.v);
        for (const store of this.subs) if (store.name === message.store) this.owner.presence?.subscribed(store, this);
        return;
      case 'unsub':
        this.subs.unsubscribe(message.store);
        this.owner.presence?.unsubscribed(message.store, this);
        return;
      case 'presence':
        await this.publishPresence(message.store, message.key, message.state);
        return;
      case 'adopt':
        await this.adopt(message.claims);
        return;
      case 'op': {
        const { client, seq } = this.ids.admit(message.id);
        const store = await this.subs.readable(message.store);
        const { committed } = await hub.submitClientBatch(store, message.id, message.ops, { user: this.user, client, seq });
        // Answered when committed; the client's next batch to this store goes on meanwhile.
        this.flow.add(committed.then((applied) => {
          // A re-sent batch that was applied before: confirm it without repeating it.
          if (!applied) this.send({ t: 'sync', store: store.name, v: store.v, ops: [], id: message.id });
        }, (err) => this.answer(message, asTwinError(err), frame)));
        return;
      }
      case 'call': {
        const { client, seq } = this.ids.admit(message.id);
        const def = definitionsOf(hub.app).actions.get(message.action);
        if (!def) throw new TwinError(ErrorCode.ACTION, `There is no action ${JSON.stringify(message.action)}.`);
        // A call re-sent after a reconnect that was committed already is answered by the hub.
        const { value } = await hub.runAction(def, message.args, { user: this.user, client, seq }, message.id);
        this.send({ t: 'result', id: message.id, value });
        return;
      }
    }
  }

  private async hello(client: string, key: string | undefined, subs: Record<string, number>): Promise<void> {
    // One connection is one client: a second hello may only repeat the first (to subscribe again).
    if (this.client && client !== this.client) throw new TwinError(ErrorCode.ID, 'This connection is another client already; open another connection to be this one.');
    const owned = await this.claim(client, key);
    if (owned === undefined) return;
    if (!owned) {
      // Whoever knows an id must not take it over: only the key it was first claimed with may use it.
      this.fail(new TwinError(ErrorCode.ID, 'This client id belongs to another client.'), CloseCode.POLICY);
      return;
    }
    if (this.isClosed) return;
    if (!this.client) {
      this.ids.own = client;
      this.owner.claim(client, this);
    }
    const { maxFrameBytes, maxMessages, maxOps, rate, burst, maxSubs } = this.owner.limits;
    const { versions } = this.owner.hub;
    this.send({ t: 'welcome', proto: PROTOCOL_VERSION, limits: { maxFrameBytes, maxMessages, maxOps, rate, burst }, ...(versions && { versions }) });
    const names = Object.keys(subs);
    if (names.length > maxSubs) {
      this.send({ t: 'error', code: ErrorCode.FRAME, message: `A hello may name at most ${maxSubs} stores; ${names.length - maxSubs} were left out (subscribe to them with sub).` });
    }
    let slice = performance.now();
    let refused = 0;
    for (const name of names.slice(0, maxSubs)) {
      // Each store on its own: one unknown or forbidden store does not stop the others (and a
      // hello earns one strike at most, or a page that outlived a deploy would be cut off).
      await this.subs.subscribe(name, subs[name]!).catch((err) => this.answer({ t: 'sub', store: name, v: 0 }, asTwinError(err), refused++ === 0 ? 0 : false));
      if (this.isClosed) return;
      if (performance.now() - slice > SLICE_MS) {
        await nextTurn();
        slice = performance.now();
      }
    }
  }

  /** Adopts closed pages' ids (their outboxes: `Hello.adopt`), each claimed with its key. */
  private async adopt(claims: readonly ClientClaim[]): Promise<void> {
    const refused = (message: string) => this.send({ t: 'error', code: ErrorCode.ID, message });
    try {
      for (const client of await this.ids.adopt(claims, () => !this.isClosed, refused)) this.owner.claim(client, this, true);
    } catch (err) {
      // Storage could not say: not the claim's fault; the page keeps its writes and comes back.
      this.fail(asTwinError(err), CloseCode.TRY_LATER);
    }
  }

  /** Whether `key` owns `client`; undefined when storage could not say (the connection is closed, asking to come back later). */
  private async claim(client: string, key: string | undefined): Promise<boolean | undefined> {
    try {
      return await this.ids.claim(client, key);
    } catch (err) {
      this.fail(asTwinError(err), CloseCode.TRY_LATER);
      return undefined;
    }
  }

  /** Tells the client why `message` was refused: a `reject` for a batch or call, else an `error`. */
  /** `frame`: the frame it came in (a frame earns one strike at most), or false: no strike. */
  private answer(message: ClientMessage, error: TwinError, frame: number | false): void {
    if (!error.expose) debug('internal error handling %s: %o', message.t, error);
    const text = error.expose ? error.message : 'The server failed to handle this message.';
    const code = error.expose ? error.code : ErrorCode.INTERNAL;
    const retry = RETRYABLE.has(code);
    this.owner.hub.emit('refusal', { code });
    if (message.t === 'op' || message.t === 'call') {
      if (retry) {
        // (Ours re-sends them after a pause; one that never does is closed.)
        if (!this.ids.hold(message.id)) {
          this.fail(new TwinError(ErrorCode.ORDER, 'Too many batches refused for now and never sent again; disconnecting.'), CloseCode.POLICY);
        }
      }
      this.send({ t: 'reject', id: message.id, code, message: text, ...(message.t === 'op' ? { store: message.store } : {}), ...(retry ? { retry } : {}) });
    } else {
      this.send({ t: 'error', code, message: text, ...('store' in message ? { store: message.store } : {}) });
    }
    if (frame !== false && !NOT_THE_CLIENTS_FAULT.has(code)) this.strike(frame);
  }

  //#endregion receiving
  //#region presence

  /**
   * Publishes this client's presence in `name`: only a reader subscribed to it may (the peer
   * id comes from the connection's key, never from the message). Unknown or unreadable store:
   * the coded error `readable` gives; readable but not subscribed: `TWIN_ERR_FORBIDDEN`.
   */
  private async publishPresence(name: string, key: string, state: Json | null): Promise<void> {
    const presence = this.owner.presence;
    if (!presence) throw new TwinError(ErrorCode.FORBIDDEN, 'This server does not keep presence.');
    for (const store of this.subs) if (store.name === name) return presence.publish(store, this, key, state);
    await this.subs.readable(name);
    throw new TwinError(ErrorCode.FORBIDDEN, `Subscribe to store ${JSON.stringify(name)} before publishing presence in it.`);
  }

  //#endregion presence
  //#region abuse

  /** Refuses a message that names no batch (an `error`), counting against the client once per frame. */
  private refuse(error: TwinError, frame: number): void {
    this.send({ t: 'error', code: error.code, message: error.message });
    this.strike(frame);
  }

  /**
   * Counts a refusal against the client, once per frame (`frame`; 0 for one outside a frame):
   * a page sending back a long outbox its server now refuses is one offence per frame, not one
   * per batch. A client that keeps earning them is disconnected.
   */
  private strike(frame = 0): void {
    if (frame) {
      if (frame === this.struckFrame) return;
      this.struckFrame = frame;
    }
    if (++this.strikes > this.owner.limits.strikes) {
      this.fail(new TwinError(ErrorCode.RATE, 'Too many refused messages; disconnecting.'), CloseCode.POLICY);
    }
  }

  /** Sends `error` right away (not at the tick's end) and closes. */
  fail(error: TwinError, code: number): void {
    if (this.socket.readyState === this.socket.OPEN) {
      // What was answered already (refusals by id among them) leaves first: nothing the client
      // waits for is left unanswered by the close.
      this.flush(new FrameCache());
      this.socket.send(JSON.stringify({ t: 'error', code: error.code, message: error.message }));
      this.socket.close(code, formatCloseReason(error.code, error.message));
    }
  }

  //#endregion abuse

  /** Pings the client; a client that did not answer the previous ping is gone. */
  heartbeat(): void {
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  private onClose(): void {
    this.isClosed = true;
    this.subs.clear();
    this.outbox = [];
    this.owner.presence?.closed(this);
    this.owner.closed(this);
  }
}
