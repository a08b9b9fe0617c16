// SPDX-License-Identifier: MIT
/**
 * @module protocol
 * The wire protocol, version 1: JSON text frames on `/_twin/ws`, each holding one message or
 * an array of messages. Every message names its type in `t`. This module is the only place
 * that knows the message shapes: `read*` functions check an incoming frame's size, structure
 * and depth before anything else touches it, and return typed messages or throw a coded error.
 * The grammar, in brief (PROTOCOL.md has it in full):
 *
 * client → server: hello {proto, client, key, subs, adopt?} · adopt {claims} · sub {store, v} · unsub {store}
 *                  · op {id, store, ops} · call {id, action, args} · presence {store, key, state} · ping
 * server → client: welcome {proto, limits, versions?} · snapshot {store, v, value} · sync {store, v, ops, id?}
 *                  · reject {id, code, message, store?, retry?} · result {id, value}
 *                  · error {code, message, store?} · presence {store, peers, self?, rekey?} · pong
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, TwinError, twinError } from './errors.js';
import { cloneJson, DEFAULT_MAX_DEPTH } from './json.js';
import type { Json } from './json.js';
import type { Op } from './ops.js';

/** The protocol version spoken here. */
export const PROTOCOL_VERSION = 1;

/** The WebSocket endpoint's path. */
export const WS_PATH = '/_twin/ws';

/** Limits on what a client may send, enforced before any state is touched. */
export interface Limits {
  /** Largest frame, in bytes. Default 1 MiB. */
  maxFrameBytes: number;
  /** Deepest nesting of a frame (the array, the message, the op, its path and value). Default 64. */
  maxDepth: number;
  /** Most messages in one frame. Default 256. */
  maxMessages: number;
  /** Most ops in one batch. Default 1,000. */
  maxOps: number;
  /** Longest path. Default 32. */
  maxPath: number;
}

/** What a server tells each client of its limits (in `welcome`), so the client stays within them. */
export interface StatedLimits {
  maxFrameBytes: number;
  maxMessages: number;
  maxOps: number;
  /** Messages per second, on average. */
  rate: number;
  /** Messages in a burst. */
  burst: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 1 << 20,
  maxDepth: DEFAULT_MAX_DEPTH,
  maxMessages: 256,
  maxOps: 1000,
  maxPath: 32,
});

//#region messages

/** `key` is the client's secret: the server binds the id to it, so only its owner can use the id. */
/** `adopt`: client ids (with their keys) of closed pages whose outboxes this page sends on their behalf. */
export interface Hello { t: 'hello'; proto: number; client: string; key?: string; subs: Record<string, number>; adopt?: ClientClaim[] }
export interface ClientClaim { client: string; key: string }
/** Client ids one hello (or adopt) may claim, and a page may hold at once. */
export const MAX_ADOPT = 8;
/** Client ids one connection may adopt in all (a page open for long takes over many closed tabs). */
export const MAX_ADOPTED = 64;
export interface Sub { t: 'sub'; store: string; v: number }
export interface Unsub { t: 'unsub'; store: string }
export interface OpMessage { t: 'op'; id: string; store: string; ops: Op[] }
export interface Call { t: 'call'; id: string; action: string; args: Json[] }
export interface Ping { t: 'ping' }
/**
 * This client's presence in `store` (`null` withdraws it). `key` is the tab's secret presence
 * key: peers see only a hash of it, so nobody can publish as someone else (see `server/presence.ts`).
 */
export interface PresenceSet { t: 'presence'; store: string; key: string; state: Json | null }
/** Claims more closed pages' ids after the hello (their tabs closed while this page stayed open). */
export interface Adopt { t: 'adopt'; claims: ClientClaim[] }
export type ClientMessage = Hello | Sub | Unsub | OpMessage | Call | PresenceSet | Adopt | Ping;

/** `versions`: the `version` option of each store (or family) defined with one; the others are at 0. */
export interface Welcome { t: 'welcome'; proto: number; limits?: StatedLimits; versions?: Record<string, number> }
/** `parts`: the value is a large store's skeleton; that many {@link Part}s follow and complete it. */
export interface Snapshot { t: 'snapshot'; store: string; v: number; value: Json; parts?: number }
/** The next entries of a large snapshot (see `server/snapshot-parts.ts`), as ops on its skeleton. */
export interface Part { t: 'part'; store: string; v: number; ops: Op[] }
export interface Sync { t: 'sync'; store: string; v: number; ops: Op[]; id?: string }
/** `retry`: the refusal is the server's trouble or a limit, not the batch's fault; send it again later. */
export interface Reject { t: 'reject'; id: string; code: string; message: string; store?: string; retry?: boolean }
export interface Result { t: 'result'; id: string; value: Json }
export interface ErrorMessage { t: 'error'; code: string; message: string; store?: string }
export interface Pong { t: 'pong' }
/**
 * Peers of `store` that changed (`null`: left), by public peer id; the first one a subscriber
 * gets holds them all. `self`: the receiver's own peer id (sent to it alone). `rekey`: another
 * page took over this one's presence key (a duplicated tab): pick a new key and publish again.
 */
export interface PresencePeers { t: 'presence'; store: string; peers: Record<string, Json | null>; self?: string; rekey?: true }
export type ServerMessage = Welcome | Snapshot | Part | Sync | Reject | Result | ErrorMessage | PresencePeers | Pong;

/** Largest presence state, serialized (bytes of UTF-8). */
export const PRESENCE_MAX_BYTES = 1024;
/** Deepest presence state (a cursor `{x, y}` is 1, `{cursor: {x, y}}` 2). */
export const PRESENCE_MAX_DEPTH = 8;

//#endregion messages
//#region reading

/**
 * Reads a frame a client sent: one message or an array of them. Throws a {@link TwinError}
 * (`TWIN_ERR_TOO_BIG`, `TWIN_ERR_FRAME`, `TWIN_ERR_DEPTH`, `TWIN_ERR_OP`, `TWIN_ERR_PROTO`)
 * describing the first problem. Without `malformed`, a frame with any bad message is refused
 * whole; with it, each bad message is handed to `malformed` (with its batch id, if readable)
 * and left out, and the others are returned (the server's way).
 */
export function readClientFrame(text: string, limits: Readonly<Limits> = DEFAULT_LIMITS, malformed?: (error: TwinError, id: string | undefined) => void): ClientMessage[] {
  const data = parseFrame(text, limits);
  const list = Array.isArray(data) ? data : [data];
  if (list.length > limits.maxMessages) {
    throw frameError(`a frame may hold at most ${limits.maxMessages} messages, this one holds ${list.length}`);
  }
  if (!malformed) return list.map((message) => readClientMessage(message, limits));
  // Each message on its own: a malformed one is reported (with its batch id, when it has a
  // readable one, so it can be refused by id and the client does not wait for it for ever).
  const out: ClientMessage[] = [];
  for (const message of list) {
    try {
      out.push(readClientMessage(message, limits));
    } catch (err) {
      const id = isRecord(message) && typeof message.id === 'string' && BATCH_ID.test(message.id) ? message.id : undefined;
      malformed(err as TwinError, id);
    }
  }
  return out;
}

/**
 * Reads a frame the server sent. The server is trusted: this only checks that the frame is
 * JSON and that each message has a known type (the browser bundle carries no deeper checks).
 */
export function readServerFrame(text: string): ServerMessage[] {
  const data = JSON.parse(text) as unknown;
  const list = (Array.isArray(data) ? data : [data]) as ServerMessage[];
  for (const m of list) if (!SERVER_TYPES.has(m?.t)) throw twinError(ErrorCode.FRAME, DEV_MODE && 'Malformed frame: unknown message from the server.');
  return list;
}

/** Client ids with their keys (a hello's `adopt`, an `adopt`'s `claims`). */
function readClaims(value: unknown, type: string): ClientClaim[] {
  if (!Array.isArray(value) || value.length > MAX_ADOPT || !value.every(isRecord)) throw fieldError(type, type === 'hello' ? 'adopt' : 'claims', `an array of at most ${MAX_ADOPT} {client, key}`);
  return value.map((claim) => ({ client: str(claim, `${type} claim`, 'client', CLIENT_ID), key: str(claim, `${type} claim`, 'key', CLIENT_KEY) }));
}

const SERVER_TYPES = new Set(['welcome', 'snapshot', 'part', 'sync', 'reject', 'result', 'error', 'presence', 'pong']);

function parseFrame(text: string, limits: Readonly<Limits>): unknown {
  // A string's UTF-8 size is at most 3 bytes per UTF-16 unit; count exactly only when it matters.
  if (text.length * 3 > limits.maxFrameBytes && byteLength(text) > limits.maxFrameBytes) {
    throw new TwinError(ErrorCode.TOO_BIG, `The frame is larger than the limit of ${limits.maxFrameBytes} bytes.`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw frameError('it is not valid JSON');
  }
  if (depthOf(data, limits.maxDepth + 1) > limits.maxDepth) {
    throw new TwinError(ErrorCode.DEPTH, `The frame is nested deeper than the limit of ${limits.maxDepth} levels.`);
  }
  return data;
}

function readClientMessage(m: unknown, limits: Readonly<Limits>): ClientMessage {
  if (!isRecord(m)) throw frameError('a message must be an object');
  switch (m.t) {
    case 'hello': {
      if (m.proto !== PROTOCOL_VERSION) {
        throw new TwinError(ErrorCode.PROTO, `This server speaks protocol version ${PROTOCOL_VERSION}, not ${JSON.stringify(m.proto)}.`);
      }
      const subs = m.subs ?? {};
      if (!isRecord(subs) || !Object.values(subs).every(isVersion)) throw fieldError('hello', 'subs', 'an object of store versions');
      const hello: Hello = { t: 'hello', proto: PROTOCOL_VERSION, client: str(m, 'hello', 'client', CLIENT_ID), subs: subs as Record<string, number> };
      if (m.key !== undefined) hello.key = str(m, 'hello', 'key', CLIENT_KEY);
      if (m.adopt !== undefined) hello.adopt = readClaims(m.adopt, 'hello');
      return hello;
    }
    case 'adopt':
      return { t: 'adopt', claims: readClaims(m.claims, 'adopt') };
    case 'sub':
      return { t: 'sub', store: str(m, 'sub', 'store', STORE_NAME), v: isVersion(m.v) ? m.v : fail(fieldError('sub', 'v', 'a version')) };
    case 'unsub':
      return { t: 'unsub', store: str(m, 'unsub', 'store', STORE_NAME) };
    case 'op': {
      if (!Array.isArray(m.ops) || m.ops.length === 0) throw fieldError('op', 'ops', 'a non-empty array of ops');
      if (m.ops.length > limits.maxOps) throw frameError(`a batch may hold at most ${limits.maxOps} ops`);
      return { t: 'op', id: batchId(m, 'op'), store: str(m, 'op', 'store', STORE_NAME), ops: m.ops.map((op) => readOp(op, limits)) };
    }
    case 'call':
      if (m.args !== undefined && !Array.isArray(m.args)) throw fieldError('call', 'args', 'an array');
      return { t: 'call', id: batchId(m, 'call'), action: str(m, 'call', 'action', STORE_NAME), args: (m.args ?? []) as Json[] };
    case 'presence': {
      if (!('state' in m)) throw fieldError('presence', 'state', 'a JSON value, or null to withdraw');
      return { t: 'presence', store: str(m, 'presence', 'store', STORE_NAME), key: str(m, 'presence', 'key', CLIENT_KEY), state: readPresenceState(m.state) };
    }
    case 'ping':
      return { t: 'ping' };
    default:
      throw frameError(`unknown message type ${JSON.stringify(m.t)}`);
  }
}

/** Checks the shape of one op (what its values hold is checked when it is applied). */
function readOp(op: unknown, limits: Readonly<Limits> = DEFAULT_LIMITS): Op {
  if (!isRecord(op)) throw opError('an op must be an object');
  const path = op.path;
  if (!Array.isArray(path) || path.length > limits.maxPath || !path.every(isKey)) {
    throw opError(`the path of a ${String(op.op)} op must be an array of at most ${limits.maxPath} keys and indices`);
  }
  switch (op.op) {
    case 'set':
      if (!('value' in op)) throw opError('a set op needs a value');
      return { op: 'set', path, value: op.value as Json };
    case 'del':
      return { op: 'del', path };
    case 'push':
      if (!Array.isArray(op.values)) throw opError('a push op needs values (an array)');
      return { op: 'push', path, values: op.values as Json[] };
    case 'splice':
      if (!isCount(op.index) || !isCount(op.remove)) throw opError('a splice op needs a non-negative integer index and remove');
      if (!Array.isArray(op.values)) throw opError('a splice op needs values (an array)');
      return { op: 'splice', path, index: op.index, remove: op.remove, values: op.values as Json[] };
    case 'add':
      if (typeof op.delta !== 'number' || !Number.isFinite(op.delta)) throw opError('an add op needs a finite number delta');
      return { op: 'add', path, delta: op.delta };
    case 'test':
      // No `value` tests that nothing is there (JSON has no undefined to say it with).
      return 'value' in op ? { op: 'test', path, value: op.value as Json } : { op: 'test', path };
    default:
      throw opError(`unknown op kind ${JSON.stringify(op.op)}`);
  }
}

/**
 * Checks a presence state (the server when it arrives, the client before it sends): plain JSON
 * without forbidden keys (`TWIN_ERR_VALUE`), at most {@link PRESENCE_MAX_DEPTH} deep
 * (`TWIN_ERR_DEPTH`) and {@link PRESENCE_MAX_BYTES} serialized (`TWIN_ERR_TOO_BIG`). Returns
 * the copy it checked.
 */
export function readPresenceState(state: unknown): Json {
  const copy = cloneJson(state, PRESENCE_MAX_DEPTH);
  const bytes = byteLength(JSON.stringify(copy));
  if (bytes > PRESENCE_MAX_BYTES) throw twinError(ErrorCode.TOO_BIG, DEV_MODE && `A presence state may take at most ${PRESENCE_MAX_BYTES} bytes; this one takes ${bytes}.`);
  return copy;
}

//#endregion reading
//#region helpers

/** Client ids: 8 to 64 URL-safe characters (clients use random UUIDs; they are secrets). */
export const CLIENT_ID = /^[\w-]{8,64}$/;
/**
 * Client keys: 16 to 128 URL-safe characters, random, known only to the client and the server.
 * Optional: an id first used without a key can be used by anyone who knows it (raw tools, tests).
 */
export const CLIENT_KEY = /^[\w-]{16,128}$/;
/** Batch ids: `clientId:seq` (the seq must also be a safe integer: see {@link batchId}). */
export const BATCH_ID = /^[\w-]{8,64}:[1-9]\d{0,15}$/;
/** Store and action names, family members included (`room/general`). */
const STORE_NAME = /^[A-Za-z_][\w.-]{0,127}(\/[\w.-]{1,64})?$/;

/** Splits a batch id into its client id and sequence number (one parse where a frame enters; ids are checked by then). */
export function parseBatchId(id: string): { client: string; seq: number } {
  const colon = id.lastIndexOf(':');
  return { client: id.slice(0, colon), seq: Number(id.slice(colon + 1)) };
}

function str(m: Record<string, unknown>, type: string, field: string, pattern: RegExp): string {
  const value = m[field];
  if (typeof value !== 'string' || !pattern.test(value)) throw fieldError(type, field, `a string matching ${pattern}`);
  return value;
}

/** A batch id whose seq is an exact number (a rounded one could repeat an earlier seq). */
function batchId(m: Record<string, unknown>, type: string): string {
  const id = str(m, type, 'id', BATCH_ID);
  if (!Number.isSafeInteger(parseBatchId(id).seq)) throw fieldError(type, 'id', 'a batch id whose sequence number is a safe integer');
  return id;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isVersion(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

const isCount = isVersion;

function isKey(key: unknown): key is string | number {
  return typeof key === 'string' ? key.length <= 1024 : Number.isSafeInteger(key) && (key as number) >= 0;
}

/** Depth of a parsed JSON value, computed without recursion and stopping at `stop`. */
function depthOf(value: unknown, stop: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) max = depth;
    if (max >= stop) return max;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}

function byteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? (i++, 4) : 3;
  }
  return bytes;
}

function fail(error: TwinError): never {
  throw error;
}

function frameError(why: string): TwinError {
  return new TwinError(ErrorCode.FRAME, `Malformed frame: ${why}.`);
}

function fieldError(type: string, field: string, want: string): TwinError {
  return new TwinError(ErrorCode.FRAME, `Malformed ${type} message: ${field} must be ${want}.`);
}

function opError(why: string): TwinError {
  return new TwinError(ErrorCode.OP, `Malformed op: ${why}.`);
}

//#endregion helpers
