// SPDX-License-Identifier: MIT
/**
 * @module backends
 * The three storage backends a benchmark compares — `memory`, `sqlite` (a temp file, WAL,
 * synchronous = FULL) and `redis` (a throwaway redis-server on loopback) — set up and torn down
 * around the benchmark, under a watchdog that ends a run that hangs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StorageAdapter } from '../../server/index.js';
import { createMemoryStorage } from '../../server/index.js';
import { createRedisStorage } from '../../server/storage-redis.js';
import { createSqliteStorage } from '../../server/storage-sqlite.js';
import { startRedis } from '../../test/helpers/redis-server.js';

export interface Backend {
  readonly name: string;
  /** A fresh adapter (SQLite: on the same file each time; Redis: keys under `prefix`). */
  open(): Promise<StorageAdapter>;
}

/**
 * Runs `bench` with the backends (and the Redis URL, for adapters of its own), then removes
 * what they left. The process exits with an error after `watchdogMs`, whatever runs then.
 */
export async function withBackends(name: string, prefix: string, watchdogMs: number, bench: (backends: Backend[], redisUrl: string) => Promise<void>): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`${name}: still running after ${watchdogMs / 1000} s; giving up.`);
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-bench-'));
  const redis = await startRedis();
  try {
    await bench([
      { name: 'memory', open: async () => createMemoryStorage() },
      { name: 'sqlite', open: async () => createSqliteStorage(path.join(dir, 'bench.db')) },
      { name: 'redis', open: () => createRedisStorage(redis.url, { prefix }) },
    ], redis.url);
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}
