// SPDX-License-Identifier: MIT
/**
 * @module redis-server
 * Starts a throwaway `redis-server` on a free loopback port for tests: no persistence, no
 * daemon, stopped with SIGTERM. `restart()` brings it back on the same port (empty), which is
 * how tests exercise a client's reconnect. {@link startRedisCluster} starts a small Redis
 * Cluster the same way and joins it with `redis-cli --cluster create`.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import path from 'node:path';

const REDIS_BINARY = 'redis-server';
const INSTALL_HINT = 'Install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS).';
/** How long a start may take before we give up. */
const START_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 50;
/** How long SIGTERM gets before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
const HOST = '127.0.0.1';

/** A running test Redis. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops the server and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1 and resolves once it answers `PING`.
 * Throws when the binary is not on PATH (the message says how to install it) or when the
 * server does not answer within 10 s.
 *
 * ```ts
 * const redis = await startRedis();
 * after(() => redis.stop());
 * ```
 */
export async function startRedis(): Promise<TestRedis> {
  if (!onPath(REDIS_BINARY)) {
    throw new Error(`The tests need \`${REDIS_BINARY}\`, which is not on PATH. ${INSTALL_HINT}`);
  }
  const port = await freePort();
  let child = await launch(port);
  return {
    url: `redis://${HOST}:${port}`,
    port,
    stop: () => stopChild(child),
    async restart() {
      await stopChild(child);
      child = await launch(port);
    },
  };
}

/** A running test Redis Cluster of masters only, every slot assigned. */
export interface TestRedisCluster {
  /** One per node: `redis://127.0.0.1:<port>`. */
  urls: string[];
  ports: number[];
  /** Stops every node and removes their config files. */
  stop(): Promise<void>;
}

const CLI_BINARY = 'redis-cli';

/**
 * Starts `nodes` cluster-enabled `redis-server`s on free loopback ports, joins them with
 * `redis-cli --cluster create` (no replicas) and resolves once every node reports
 * `cluster_state:ok`. Throws, with the tools' output, when a node cannot start or the
 * cluster does not form within 10 s.
 */
export async function startRedisCluster(nodes = 3): Promise<TestRedisCluster> {
  for (const binary of [REDIS_BINARY, CLI_BINARY]) {
    if (!onPath(binary)) throw new Error(`The tests need \`${binary}\`, which is not on PATH. ${INSTALL_HINT}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-redis-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < nodes; i++) {
      const port = await freePort();
      ports.push(port);
      children.push(await launch(port, [
        '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir,
      ]));
    }
    await promisify(execFile)(CLI_BINARY, [
      '--cluster', 'create', ...ports.map((port) => `${HOST}:${port}`), '--cluster-replicas', '0', '--cluster-yes',
    ], { timeout: START_TIMEOUT_MS });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const states = await Promise.all(ports.map((port) => command(port, 'CLUSTER INFO')));
      if (states.every((info) => info.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`The Redis Cluster on ports ${ports.join(', ')} did not reach cluster_state:ok within ${START_TIMEOUT_MS} ms.`);
      await sleep(PING_INTERVAL_MS);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls: ports.map((port) => `redis://${HOST}:${port}`), ports, stop };
}

async function launch(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(REDIS_BINARY, [
    '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-2_000); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: string | undefined;
  child.once('error', (err) => { exited = `could not be started (${err.message}). ${INSTALL_HINT}`; });
  child.once('exit', (code, signal) => { exited ??= `exited early (code ${code}, signal ${signal})`; });
  // A test process that ends without reaching its `after` must not leave a redis-server behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${REDIS_BINARY} on port ${port} ${exited}. Its output:\n${output}`);
    if (await ping(port)) return child;
    await sleep(PING_INTERVAL_MS);
  }
  child.kill('SIGKILL');
  throw new Error(`${REDIS_BINARY} on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms. ${INSTALL_HINT} Its output:\n${output}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** One inline command over raw TCP; resolves to the reply's text ('' on any failure). */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let reply = '';
    const done = (): void => { socket.destroy(); resolve(reply); };
    socket.setTimeout(PING_INTERVAL_MS * 10, done);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      // A bulk reply ($len) is complete once it holds the announced length; a simple one at its first line end.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (bulk ? reply.length >= bulk[0].length + Number(bulk[1]) + 2 : reply.includes('\r\n')) done();
    });
    socket.once('error', done);
  });
}

/** One raw `PING` over TCP to 127.0.0.1:`port`; true on `+PONG`. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok); };
    socket.setTimeout(PING_INTERVAL_MS * 10, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

function onPath(binary: string): boolean {
  return (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, binary), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
