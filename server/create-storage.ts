// SPDX-License-Identifier: MIT
/**
 * @module create-storage
 * Turns a storage spec string (from the CLI or an env variable) into a storage adapter. The
 * SQLite and Redis backends are imported only when chosen, so `better-sqlite3` and `redis`
 * stay optional dependencies.
 */
import type { StorageAdapter } from './storage.js';
import type { ClientStorageOptions } from './storage-clients.js';
import { createMemoryStorage } from './storage-memory.js';

const SQLITE_SCHEME = 'sqlite:';
const REDIS_SCHEMES = ['redis://', 'rediss://'];
const ACCEPTED_FORMS = '"memory", "sqlite:PATH" (e.g. "sqlite:.twin-data/twin.db") or "redis://HOST:PORT[/DB]"';

/** Options of {@link createStorage}: each backend takes those that concern it and ignores the rest. */
export interface StorageOptions extends ClientStorageOptions {
  /** Redis only: prepended to every key (see `RedisStorageOptions.prefix`). */
  prefix?: string;
  /** Redis only: the hash tag all keys share (see `RedisStorageOptions.hashTag`). */
  hashTag?: string;
  /** Redis only: receives the errors the adapter recovers from by itself. */
  onIgnoredError?: (err: unknown) => void;
}

/**
 * Creates the storage adapter described by `spec`:
 *
 * - `memory` — {@link createMemoryStorage};
 * - `sqlite:PATH` — a SQLite file at PATH, relative to the working directory;
 * - `redis://host:port[/db]` (or `rediss://` for TLS) — a shared Redis.
 *
 * `options` go to whichever backend is chosen: the bounds of the client records
 * (`clientTtlMs`, `maxClients`) for all three, `prefix`, `hashTag` and `onIgnoredError` for Redis.
 *
 * Throws a `TypeError` for any other spec, and an `Error` naming the package to install when
 * the chosen backend's optional dependency is missing.
 *
 * ```ts
 * const storage = await createStorage(process.env.TWIN_STORAGE ?? 'sqlite:.twin-data/twin.db', { clientTtlMs: 24 * 60 * 60 * 1000 });
 * ```
 */
export async function createStorage(spec: string, options: StorageOptions = {}): Promise<StorageAdapter> {
  const { prefix, hashTag, onIgnoredError, ...clients } = options;
  if (spec === 'memory') return createMemoryStorage(clients);
  if (spec.startsWith(SQLITE_SCHEME) && spec.length > SQLITE_SCHEME.length) {
    const { createSqliteStorage } = await importBackend(() => import('./storage-sqlite.js'), 'better-sqlite3');
    return createSqliteStorage(spec.slice(SQLITE_SCHEME.length), clients);
  }
  if (REDIS_SCHEMES.some((scheme) => spec.startsWith(scheme)) && URL.canParse(spec)) {
    const { createRedisStorage } = await importBackend(() => import('./storage-redis.js'), 'redis');
    const redis = { ...clients, ...(prefix === undefined ? {} : { prefix }), ...(hashTag === undefined ? {} : { hashTag }) };
    return createRedisStorage(spec, onIgnoredError ? { ...redis, onIgnoredError } : redis);
  }
  throw new TypeError(`The storage spec ${JSON.stringify(spec)} is not valid: use ${ACCEPTED_FORMS}.`);
}

/** Imports a backend module, explaining a missing optional dependency instead of a bare resolve error. */
async function importBackend<M>(load: () => Promise<M>, dependency: string): Promise<M> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${dependency}'`)) {
      throw new Error(`This storage needs the optional dependency ${dependency}, which is not installed. Run \`npm install ${dependency}\`.`, {
        cause: err,
      });
    }
    throw err;
  }
}
