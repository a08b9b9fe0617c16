// SPDX-License-Identifier: MIT
/**
 * @module storage-backends
 * The storage backends the contract suites run against — memory, SQLite on a temporary file,
 * Redis on a real `redis-server` — each opened fresh with the options a test needs, plus a way
 * to count the client records a backend really holds (rows, keys), expired ones included.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import type { StorageAdapter } from '../../server/storage.js';
import type { ClientStorageOptions } from '../../server/storage-clients.js';
import { createMemoryStorage } from '../../server/storage-memory.js';
import type { MemoryStorage } from '../../server/storage-memory.js';
import { createRedisStorage } from '../../server/storage-redis.js';
import { createSqliteStorage } from '../../server/storage-sqlite.js';
import { startRedis } from './redis-server.js';
import type { TestRedis } from './redis-server.js';

/** The key prefix the Redis adapters under test use. */
export const TEST_PREFIX = 'test:';

/** One opened backend. */
export interface Opened {
  /** The adapter under test. */
  storage: StorageAdapter;
  /** A second adapter on the same data: another instance for Redis, the same one in-process. */
  peer: StorageAdapter;
  /** The database file, for SQLite. */
  file?: string;
  /** The server, for Redis. */
  redis?: TestRedis;
  /** Opens one more independent adapter on the same data (closed by the test). */
  another(): Promise<StorageAdapter>;
  /** The client records held right now, expired but not yet removed ones included. */
  clientCount(): Promise<number>;
  /** The entries of the index of client records by age, for Redis. */
  indexSize?(): Promise<number>;
  /** The sizes in bytes of the database file and its WAL, for SQLite. */
  fileSizes?(): Promise<[number, number]>;
  teardown(): Promise<void>;
}

/** How a test wants its backend set up, beyond the adapter's options. */
export interface Setup {
  /**
   * Put a SQLite file on a RAM disk (`/dev/shm`, when there is one), for tests that make tens
   * of thousands of commits: there each commit's fsync would cost milliseconds and the test
   * would measure the disk, not the code.
   */
  ramDisk?: boolean;
}

/** A backend the suites run against. */
export interface Backend {
  name: 'memory' | 'sqlite' | 'redis';
  open(options?: ClientStorageOptions, setup?: Setup): Promise<Opened>;
}

const RAM_DISK = '/dev/shm';

const tmpDirs: string[] = [];

export const storageBackends: Backend[] = [
  {
    name: 'memory',
    async open(options) {
      const storage: MemoryStorage = createMemoryStorage(options);
      return {
        storage,
        peer: storage,
        another: async () => createMemoryStorage(options),
        clientCount: async () => storage.clientCount,
        teardown: () => storage.close(),
      };
    },
  },
  {
    name: 'sqlite',
    async open(options, setup) {
      const base = setup?.ramDisk && fs.existsSync(RAM_DISK) ? tmpDir(RAM_DISK) : tmpDir();
      const file = path.join(base, 'nested', 'dir', 'twin.db'); // the parent folders do not exist yet
      const storage = createSqliteStorage(file, options);
      return {
        storage,
        peer: storage,
        file,
        another: async () => createSqliteStorage(file, options),
        async clientCount() {
          const db = new Database(file, { readonly: true });
          try {
            return (db.prepare('SELECT COUNT(*) AS n FROM twin_client').get() as { n: number }).n;
          } finally {
            db.close();
          }
        },
        fileSizes: async () => [fileSize(file), fileSize(`${file}-wal`)],
        teardown: () => storage.close(),
      };
    },
  },
  {
    name: 'redis',
    async open(options) {
      const redis = await startRedis();
      const { url } = redis;
      const storage = await createRedisStorage(url, { prefix: TEST_PREFIX, ...options });
      const peer = await createRedisStorage(url, { prefix: TEST_PREFIX, ...options });
      return {
        storage,
        peer,
        redis,
        another: () => createRedisStorage(url, { prefix: TEST_PREFIX, ...options }),
        clientCount: () => countKeys(url, `${TEST_PREFIX}*:client:*`),
        async indexSize() {
          const client = createClient({ url });
          await client.connect();
          try {
            return await client.zCard(`${TEST_PREFIX}{${TEST_PREFIX.replace(/:$/, '')}}:clients`);
          } finally {
            await client.close();
          }
        },
        async teardown() {
          await storage.close();
          await peer.close();
          await redis.stop();
        },
      };
    },
  },
];

/** Counts the keys matching `pattern` with SCAN (test use only: it reads the whole keyspace). */
export async function countKeys(url: string, pattern: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    let n = 0;
    for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) n += Array.isArray(keys) ? keys.length : 1;
    return n;
  } finally {
    await client.close();
  }
}

function fileSize(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/** A temporary folder, removed by {@link removeTmpDirs}. */
export function tmpDir(parent = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(parent, 'twin-storage-'));
  tmpDirs.push(dir);
  return dir;
}

/** Removes every folder {@link tmpDir} made (call it in the test file's `after`). */
export function removeTmpDirs(): void {
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
