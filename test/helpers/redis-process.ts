// SPDX-License-Identifier: MIT
/**
 * @module redis-process
 * A throwaway `redis-server` that a test can freeze and bring back, for storage outages that
 * keep the data: `pause()` sends SIGSTOP (Redis hangs, its sockets stay open: a stalled
 * server), `resume()` SIGCONT; `stop()` shuts it down and `start()` starts it again on the same
 * port and directory. With `appendonly` (the default here, fsync always) a restart keeps every
 * write Redis acknowledged. `test/helpers/redis-server.ts` is the plain, persistence-free one.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';
import { ping } from './redis-server.js';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 50;
const STOP_TIMEOUT_MS = 5_000;

/** A redis-server a test controls. */
export interface RedisProcess {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Whether a process is running now (paused counts as running). */
  readonly running: boolean;
  /** SIGSTOP: Redis stops answering, connections stay open. */
  pause(): void;
  /** SIGCONT after {@link pause}. */
  resume(): void;
  /** SIGTERM (Redis flushes its AOF), then waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1, in a temp directory, with an append-only
 * file fsynced at every write unless `appendonly` is false.
 *
 * ```ts
 * const redis = await startRedisProcess();
 * redis.pause(); await delay(1000); redis.resume();
 * ```
 */
export async function startRedisProcess(options: { appendonly?: boolean } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-redis-'));
  const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--daemonize', 'no',
    ...(options.appendonly === false ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always'])];
  let child: ChildProcess | undefined;
  // A test process that ends without its `after` (killed, timed out) leaves neither the server nor its files.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    const collect = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-2_000); };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    let failed: string | undefined;
    proc.once('error', (err) => { failed = `could not be started (${err.message})`; });
    proc.once('exit', (code, signal) => { failed ??= `exited (code ${code}, signal ${signal})`; });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (failed) throw new Error(`redis-server on port ${port} ${failed}. Its output:\n${output}`);
      if (await ping(port)) return;
      await new Promise((resolve) => setTimeout(resolve, PING_INTERVAL_MS));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms. Its output:\n${output}`);
  };
  const isRunning = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || !isRunning()) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT'); // a paused Redis cannot act on SIGTERM
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    url: `redis://${HOST}:${port}`,
    port,
    get running() {
      return isRunning();
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    stop,
    start: launch,
    async dispose() {
      await stop();
      process.off('exit', killOnExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
