// SPDX-License-Identifier: MIT
/**
 * @packageDocumentation
 * twin-state/server: the Koa middleware and `ws` hub that hold shared stores and keep every
 * client in sync. This entry only re-exports.
 */
export { twin, TwinServer, DEFAULT_SERVER_LIMITS } from './twin.js';
export type { ClientEvent, RequestInfo, ServerStatus, TwinLimits, TwinOptions } from './twin.js';
export type { Logger } from './logger.js';
export type { OriginsOption } from './origins.js';
export type { TwinMetrics } from './metrics.js';
export type { ServerLimits } from './twin-options.js';
export { CloseCode } from '../src/close-codes.js';
export type { StorageAdapter, StoredBatch, StoredState } from './storage.js';
export { createMemoryStorage } from './storage-memory.js';
export { createStorage } from './create-storage.js';
export { createRedisPresenceBus } from './presence-redis.js';
export type { RedisPresenceBus } from './presence-redis.js';
export type { PresenceBus, PresenceOptions } from './presence.js';
export { renderPage } from './render-html.js';
export type { PageData, StoreData } from './render-html.js';
