// SPDX-License-Identifier: MIT
/**
 * @module fanout-receivers
 * A child process holding many raw `ws` clients that receive a fan-out (see bench/fanout.ts).
 * Each client counts the `sync` messages it receives, inside array frames too, and the process
 * keeps, per update (its version `v`), how many clients got it and when the last one did.
 *
 * Frames are scanned as bytes for `{"t":"sync","store":"…","v":N`, not parsed, so the
 * receivers spend as little CPU as possible (they share the machine with the server under
 * test); `verify` mode parses every frame as JSON as well and checks the counts and order.
 * Twin clients speak the protocol: `hello` on open, `sub`/`unsub` per round, as
 * src/protocol.ts defines them.
 *
 * Clients are kept in named groups (one per server), so the servers of a run can be measured
 * in turns while all stay connected. Commands: `connect`, `subscribe` (twin), `arm`, `wait`,
 * `disconnect` (see {@link handle}); all but `wait` name their group.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { serveParent } from './children.js';
import type { Command } from './children.js';

/** Sockets opened at once while connecting (the server's accept backlog is 511). */
const CONNECT_CONCURRENCY = 100;
/** Time allowed for one client to connect (and, for twin, be welcomed). */
const CONNECT_TIMEOUT = 15_000;
/** Time allowed for every client to get the snapshot of a store after `sub`. */
const SUBSCRIBE_TIMEOUT = 30_000;

const SYNC = Buffer.from('{"t":"sync","store":"');
const V = Buffer.from('"v":');
const WELCOME = Buffer.from('{"t":"welcome"');
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/** What {@link handle} answers to `wait`. */
export interface ReceiveResult {
  /** Clients that were open when the round was armed. */
  readonly clients: number;
  /** Clients that received every update. */
  readonly complete: number;
  /** Clients whose socket closed during the round. */
  readonly closed: number;
  /** `sync` messages received in the round, all clients together. */
  readonly delivered: number;
  /** Messages with a version outside 1..m, or received twice by a client. */
  readonly unexpected: number;
  /** Problems `verify` mode found (frames that are not JSON, counts that differ, order). */
  readonly verifyErrors: number;
  /** Frames received in the round. */
  readonly frames: number;
  /** Per version 1..m: the epoch time (ms) the last client here received it; 0 if none did. */
  readonly lastReceipt: Float64Array;
  /** Per version 1..m: how many clients here received it. */
  readonly receipts: Uint32Array;
  /** Epoch time (ms) of the last message received in the round. */
  readonly lastAny: number;
}

type Kind = 'twin' | 'plain';

interface Client {
  readonly socket: WebSocket;
  readonly group: string;
  count: number;
  lastV: number;
  snapshotOf: string | undefined;
  open: boolean;
}

const groups = new Map<string, Client[]>();
let round: Round | undefined;
let subscribing: { group: string; marker: Buffer; store: string; left: number; done: () => void } | undefined;

class Round {
  readonly group: string;
  readonly m: number;
  readonly verify: boolean;
  readonly clients: number;
  readonly lastReceipt: Float64Array;
  readonly receipts: Uint32Array;
  complete = 0;
  closed = 0;
  delivered = 0;
  unexpected = 0;
  verifyErrors = 0;
  frames = 0;
  lastAny = 0;
  private finished: (() => void) | undefined;

  constructor(group: string, m: number, verify: boolean, open: number) {
    this.group = group;
    this.m = m;
    this.verify = verify;
    this.clients = open;
    this.lastReceipt = new Float64Array(m + 1);
    this.receipts = new Uint32Array(m + 1);
  }

  get over(): boolean {
    return this.complete + this.closed >= this.clients;
  }

  /** Resolves when every client has everything (or closed), or after `timeoutMs`. */
  waitFor(timeoutMs: number): Promise<void> {
    if (this.over) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.finished = undefined;
        resolve();
      }, timeoutMs);
      this.finished = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  check(): void {
    if (this.over) this.finished?.();
  }

  result(): ReceiveResult {
    return {
      clients: this.clients, complete: this.complete, closed: this.closed, delivered: this.delivered,
      unexpected: this.unexpected, verifyErrors: this.verifyErrors, frames: this.frames,
      lastReceipt: this.lastReceipt, receipts: this.receipts, lastAny: this.lastAny,
    };
  }
}

function onData(client: Client, data: Buffer): void {
  const s = subscribing;
  if (s && s.group === client.group && client.snapshotOf !== s.store && data.includes(s.marker)) {
    client.snapshotOf = s.store;
    if (--s.left === 0) s.done();
  }
  const r = round;
  // Another group's traffic (what a slow server still had queued) is not this round's.
  if (!r || r.group !== client.group) return;
  const now = performance.timeOrigin + performance.now();
  r.frames++;
  r.lastAny = now;
  const before = client.count;
  let at = data.indexOf(SYNC);
  while (at !== -1) {
    let i = data.indexOf(V, at + SYNC.length) + V.length;
    let v = 0;
    for (let c = data[i]!; c >= DIGIT_0 && c <= DIGIT_9; c = data[++i]!) v = v * 10 + (c - DIGIT_0);
    r.delivered++;
    if (v < 1 || v > r.m || v <= client.lastV) {
      r.unexpected++;
    } else {
      client.lastV = v;
      client.count++;
      r.receipts[v]!++;
      if (now > r.lastReceipt[v]!) r.lastReceipt[v] = now;
    }
    at = data.indexOf(SYNC, i);
  }
  if (r.verify) verifyFrame(r, data, client.count - before);
  if (before < r.m && client.count >= r.m) {
    r.complete++;
    r.check();
  }
}

/** Parses the frame and checks that the scan counted exactly its `sync` messages. */
function verifyFrame(r: Round, data: Buffer, counted: number): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString());
  } catch {
    r.verifyErrors++;
    return;
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const syncs = list.filter((m) => typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'sync');
  const ops = syncs.every((m) => Array.isArray((m as { ops?: unknown }).ops));
  if (syncs.length !== counted || !ops) r.verifyErrors++;
}

function connectOne(url: string, kind: Kind, group: string, id: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const client: Client = { socket, group, count: 0, lastV: 0, snapshotOf: undefined, open: false };
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`A client did not connect within ${CONNECT_TIMEOUT} ms.`));
    }, CONNECT_TIMEOUT);
    const welcomed = () => {
      clearTimeout(timer);
      client.open = true;
      resolve(client);
    };
    socket.on('message', (data: Buffer) => {
      if (!client.open) {
        if (data.includes(WELCOME)) welcomed();
        return;
      }
      onData(client, data);
    });
    socket.on('open', () => {
      if (kind === 'twin') socket.send(JSON.stringify({ t: 'hello', proto: 1, client: id, subs: {} }));
      else welcomed();
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      if (!client.open) return;
      client.open = false;
      if (round && round.group === group && client.count < round.m) {
        round.closed++;
        round.check();
      }
    });
  });
}

/** Connects `count` clients to `group`, `CONNECT_CONCURRENCY` at a time; stops at the first failure. */
async function connect(group: string, url: string, kind: Kind, count: number, tag: string): Promise<{ connected: number; error?: string }> {
  const clients: Client[] = [];
  groups.set(group, clients);
  let next = 0;
  let error: string | undefined;
  const worker = async () => {
    while (next < count && !error) {
      const i = next++;
      try {
        clients.push(await connectOne(url, kind, group, `${tag}-${String(i).padStart(5, '0')}`));
      } catch (err) {
        error ??= `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, worker));
  return error ? { connected: clients.length, error } : { connected: clients.length };
}

/** Twin: every client of `group` leaves `previous` and subscribes to `store`; resolves once all have its snapshot. */
function subscribe(group: string, store: string, previous: string | undefined): Promise<number> {
  const open = (groups.get(group) ?? []).filter((c) => c.open);
  if (open.length === 0) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscribing = undefined;
      reject(new Error(`Only ${open.length - left()} of ${open.length} clients got the snapshot of ${store} within ${SUBSCRIBE_TIMEOUT} ms.`));
    }, SUBSCRIBE_TIMEOUT);
    const marker = Buffer.from(`{"t":"snapshot","store":${JSON.stringify(store)}`);
    const state = { group, marker, store, left: open.length, done: () => {
      clearTimeout(timer);
      subscribing = undefined;
      resolve(open.length);
    } };
    const left = () => state.left;
    subscribing = state;
    const frame = JSON.stringify([
      ...(previous ? [{ t: 'unsub', store: previous }] : []),
      { t: 'sub', store, v: 0 },
    ]);
    for (const client of open) client.socket.send(frame);
  });
}

async function disconnect(group: string): Promise<void> {
  const closing = (groups.get(group) ?? []).map((c) => new Promise<void>((resolve) => {
    if (c.socket.readyState === WebSocket.CLOSED) return resolve();
    c.socket.once('close', () => resolve());
    c.socket.close();
    setTimeout(() => {
      c.socket.terminate();
      resolve();
    }, 2000).unref();
  }));
  await Promise.all(closing);
  groups.delete(group);
}

/** Answers the parent's commands. */
async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connect(command.group as string, command.url as string, command.kind as Kind, command.count as number, command.tag as string);
    case 'subscribe':
      return subscribe(command.group as string, command.store as string, command.previous as string | undefined);
    case 'arm': {
      const clients = groups.get(command.group as string) ?? [];
      for (const client of clients) {
        client.count = 0;
        client.lastV = 0;
      }
      round = new Round(command.group as string, command.m as number, command.verify === true, clients.filter((c) => c.open).length);
      return round.clients;
    }
    case 'wait': {
      const r = round;
      if (!r) throw new Error('Nothing is armed.');
      await r.waitFor(command.timeoutMs as number);
      round = undefined;
      return r.result();
    }
    case 'disconnect':
      if (round?.group === command.group) round = undefined;
      await disconnect(command.group as string);
      return groups.size;
    default:
      throw new Error(`Unknown command ${JSON.stringify(command.cmd)}.`);
  }
}

serveParent(handle);
