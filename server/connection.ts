// SPDX-License-Identifier: MIT
/**
 * @module connection
 * One client's WebSocket as the hub sees it. Every frame is checked (size, structure, depth,
 * rate) before it touches any state; a bad one gets a coded `reject` or `error` and changes
 * nothing. Messages of one connection are handled strictly in order. Everything bound for the
 * client within a tick leaves as one frame; a client whose unsent data grows past a bound is
 * dropped, to resync when it reconnects, instead of growing server memory.
 */
import { debuglog } from 'node:util';
import type { WebSocket } from 'ws';
import { definitionsOf } from '../src/define.js';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import { parseBatchId, PROTOCOL_VERSION, readClientFrame } from '../src/protocol.js';
import type { ClientMessage, Limits, ServerMessage } from '../src/protocol.js';
import type { Hub, HubStore, Subscriber } from './hub.js';

const debug = debuglog('twin:server');

/** Limits of the server on top of the protocol's. */
export interface ServerLimits extends Limits {
  /** Messages a client may send per second, on average. Default 200. */
  rate: number;
  /** Messages a client may send in a burst (keep it ≥ maxMessages, or full frames never pass). Default 400. */
  burst: number;
  /** Refusals (bad frames, rate) a client may earn before it is disconnected. Default 50. */
  strikes: number;
  /** Bytes waiting to be sent to one client before it is dropped as too slow. Default 8 MiB. */
  maxBuffer: number;
}

/** WebSocket close codes used by the hub. */
export const CloseCode = {
  /** Too many bad messages. */
  POLICY: 1008,
  /** Another connection took over this client id. */
  REPLACED: 4009,
  /** The server shuts down. */
  GOING_AWAY: 1001,
} as const;

/** What a connection needs from the server that owns it. */
export interface ConnectionOwner {
  readonly hub: Hub;
  readonly limits: ServerLimits;
  /** Claims `client` for `connection`, closing whichever connection held it before. */
  claim(client: string, connection: Connection): void;
  /** Marks `connection` as having something to send this tick. */
  dirty(connection: Connection): void;
  /** The connection closed. */
  closed(connection: Connection): void;
}

export class Connection implements Subscriber {
  client = '';
  readonly user: unknown;
  private readonly socket: WebSocket;
  private readonly owner: ConnectionOwner;
  private readonly subs = new Set<HubStore>();
  private outbox: Buffer[] = [];
  private chain: Promise<void> = Promise.resolve();
  private tokens: number;
  private lastRefill = Date.now();
  private strikes = 0;
  alive = true;

  constructor(socket: WebSocket, user: unknown, owner: ConnectionOwner) {
    this.socket = socket;
    this.user = user;
    this.owner = owner;
    this.tokens = owner.limits.burst;
    socket.on('message', (data, isBinary) => this.onFrame(isBinary ? '' : data.toString()));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => this.onClose());
    socket.on('error', (err) => debug('socket error: %o', err));
  }

  //#region sending

  enqueue(message: Buffer): void {
    if (this.outbox.push(message) === 1) this.owner.dirty(this);
  }

  /** Sends a message to this client only (serialized here: it is not a broadcast). */
  send(message: ServerMessage): void {
    this.enqueue(Buffer.from(JSON.stringify(message)));
  }

  /** Sends what this tick queued, as one frame. Called by the owner once per tick. */
  flush(): void {
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
    const frame = queued.length === 1 ? queued[0]! : joinFrames(queued);
    this.socket.send(frame, { binary: false });
  }

  //#endregion sending
  //#region receiving

  private onFrame(text: string): void {
    // One token before parsing, so a flood of junk is limited too; one more per further message.
    if (!this.spend(1)) {
      this.refuse(new TwinError(ErrorCode.RATE, 'You are sending too fast; slow down.'));
      return;
    }
    let messages: ClientMessage[];
    try {
      messages = readClientFrame(text, this.owner.limits);
    } catch (err) {
      this.refuse(asTwinError(err));
      return;
    }
    if (!this.spend(messages.length - 1)) {
      this.refuse(new TwinError(ErrorCode.RATE, `You are sending too fast (${messages.length} messages in one frame); slow down.`));
      return;
    }
    for (const message of messages) {
      this.chain = this.chain.then(() => this.handle(message)).catch((err) => this.answer(message, asTwinError(err)));
    }
  }

  private async handle(message: ClientMessage): Promise<void> {
    const hub = this.owner.hub;
    if (message.t === 'ping') {
      this.send({ t: 'pong' });
      return;
    }
    if (message.t === 'hello') {
      this.client = message.client;
      this.owner.claim(message.client, this);
      this.send({ t: 'welcome', proto: PROTOCOL_VERSION });
      for (const [name, v] of Object.entries(message.subs)) await this.subscribe(name, v);
      return;
    }
    if (!this.client) throw new TwinError(ErrorCode.ID, 'Say hello first.');
    switch (message.t) {
      case 'sub':
        await this.subscribe(message.store, message.v);
        return;
      case 'unsub':
        this.unsubscribe(message.store);
        return;
      case 'op': {
        this.checkId(message.id);
        const store = await this.readable(message.store);
        const applied = await hub.commitClientBatch(store, message.id, message.ops, { user: this.user, client: this.client });
        // A re-sent batch that was applied before: confirm it without repeating it.
        if (!applied) this.send({ t: 'sync', store: store.name, v: store.v, ops: [], id: message.id });
        return;
      }
      case 'call': {
        this.checkId(message.id);
        // A call re-sent after a reconnect that was committed already is answered by the hub.
        const def = definitionsOf(hub.app).actions.get(message.action);
        if (!def) throw new TwinError(ErrorCode.ACTION, `There is no action ${JSON.stringify(message.action)}.`);
        const { value } = await hub.runAction(def, message.args, { user: this.user, client: this.client }, message.id);
        this.send({ t: 'result', id: message.id, value });
        return;
      }
    }
  }

  /** Tells the client why `message` was refused: a `reject` for a batch or call, else an `error`. */
  private answer(message: ClientMessage, error: TwinError): void {
    if (!error.expose) {
      debug('internal error handling %s: %o', message.t, error);
    }
    const text = error.expose ? error.message : 'The server failed to handle this message.';
    const code = error.expose ? error.code : ErrorCode.INTERNAL;
    if (message.t === 'op' || message.t === 'call') {
      this.send({ t: 'reject', id: message.id, code, message: text, ...(message.t === 'op' ? { store: message.store } : {}) });
    } else {
      this.send({ t: 'error', code, message: text, ...('store' in message ? { store: message.store } : {}) });
    }
    this.strike();
  }

  //#endregion receiving
  //#region subscriptions

  private async subscribe(name: string, v: number): Promise<void> {
    const store = await this.readable(name);
    if (!this.subs.has(store)) {
      this.subs.add(store);
      store.subscribers.add(this);
      this.owner.hub.emit('subscribe', { store: store.name, client: this.client, user: this.user });
    }
    const missed = v > 0 ? store.since(v) : undefined;
    if (!missed) {
      this.enqueue(store.snapshot());
      return;
    }
    for (const entry of missed) {
      const mine = entry.own && entry.id && parseBatchId(entry.id).client === this.client;
      this.enqueue(mine ? entry.own! : entry.public);
    }
  }

  private unsubscribe(name: string): void {
    for (const store of this.subs) {
      if (store.name !== name) continue;
      this.subs.delete(store);
      store.subscribers.delete(this);
      this.owner.hub.emit('unsubscribe', { store: store.name, client: this.client, user: this.user });
    }
  }

  /** The store `name`, if it exists and this user may read it; a coded error otherwise. */
  private async readable(name: string): Promise<HubStore> {
    const store = await this.owner.hub.load(name);
    if (!store) throw new TwinError(ErrorCode.STORE, `There is no store ${JSON.stringify(name)}.`);
    const canRead = store.def.options.canRead;
    if (canRead && !(await canRead({ user: this.user, store: name }))) {
      throw new TwinError(ErrorCode.FORBIDDEN, `You may not read store ${JSON.stringify(name)}.`);
    }
    return store;
  }

  //#endregion subscriptions
  //#region abuse

  private checkId(id: string): void {
    if (parseBatchId(id).client !== this.client) {
      throw new TwinError(ErrorCode.ID, 'A batch id must start with your own client id.');
    }
  }

  /** Takes `count` messages' worth from the client's token bucket; false (taking nothing) if it lacks them. */
  private spend(count: number): boolean {
    const { rate, burst } = this.owner.limits;
    const now = Date.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  private refuse(error: TwinError): void {
    this.send({ t: 'error', code: error.code, message: error.message });
    this.strike();
  }

  /** Counts a refusal; a client that keeps earning them is disconnected. */
  private strike(): void {
    if (++this.strikes > this.owner.limits.strikes) {
      this.fail(new TwinError(ErrorCode.RATE, 'Too many refused messages; disconnecting.'), CloseCode.POLICY);
    }
  }

  /** Sends `error` right away (not at the tick's end) and closes. */
  fail(error: TwinError, code: number): void {
    if (this.socket.readyState === this.socket.OPEN) {
      this.socket.send(JSON.stringify({ t: 'error', code: error.code, message: error.message }));
      this.socket.close(code, error.code);
    }
  }

  //#endregion abuse

  /** Closes the socket without a message (server shutdown). */
  terminate(code: number = CloseCode.GOING_AWAY): void {
    this.socket.close(code);
  }

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
    for (const store of this.subs) {
      store.subscribers.delete(this);
      this.owner.hub.emit('unsubscribe', { store: store.name, client: this.client, user: this.user });
    }
    this.subs.clear();
    this.owner.closed(this);
  }
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** `[m1,m2,...]` from serialized messages, without parsing them again. */
function joinFrames(parts: Buffer[]): Buffer {
  const pieces: Buffer[] = [OPEN];
  for (let i = 0; i < parts.length; i++) {
    if (i) pieces.push(COMMA);
    pieces.push(parts[i]!);
  }
  pieces.push(CLOSE);
  return Buffer.concat(pieces);
}

function asTwinError(err: unknown): TwinError {
  if (isTwinError(err)) return err;
  return new TwinError(ErrorCode.INTERNAL, err instanceof Error ? err.message : String(err), { cause: err, expose: false });
}
