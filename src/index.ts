// SPDX-License-Identifier: MIT
/**
 * @packageDocumentation
 * twin-state: reactive twin state for the web. Local stores live in one tab; shared stores
 * live on the server and stay in sync in every connected browser. This entry only re-exports.
 */
export { defineApp } from './define.js';
export type { Action, App, LocalOptions, ReadRequest, SharedOptions, WriteRequest } from './define.js';
export { caller, hasPendingWrites, increment, lastWrite, settled, signalOf, snapshot, status, store, subscribe, unstable_watchers } from './store-api.js';
export type { Change, DeepReadonly, StoreStatus, Unsubscribe, WriteStatus } from './store-api.js';
export { call, Client, connect, createClient, pageClient } from './client.js';
export type { ClientOptions, ConnectionState, Hydration, RejectDetail, StaleWrite, WebSocketClass } from './client.js';
export { presence, setPresence } from './presence.js';
export { canRedo, canUndo, redo, undo } from './undo.js';
export type { Peer } from './presence.js';
export { applyOps } from './ops.js';
export type { AddOp, DelOp, Op, PushOp, SetOp, SpliceOp, TestOp } from './ops.js';
export { ErrorCode, isTwinError, TwinError } from './errors.js';
export type { Json, Path } from './json.js';
export { DEFAULT_LIMITS, PROTOCOL_VERSION, readClientFrame, readServerFrame } from './protocol.js';
export type { ClientMessage, Limits, ServerMessage } from './protocol.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export { computed, effect, Signal } from './signals.js';
