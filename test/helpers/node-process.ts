// SPDX-License-Identifier: MIT
/**
 * @module node-process
 * Runs `twin-state serve` (server/bin.js) as a child process, for tests that need a server to
 * really die: SIGKILL leaves no chance to flush, close sockets or say goodbye, exactly like a
 * crash or an OOM kill. Every wait is bounded; every process started here is also killed when
 * the test process exits, so a failing test cannot leave servers behind.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'server', 'bin.js');
const HOST = '127.0.0.1';
/** The line `twin-state serve` prints once it listens. */
const READY_LINE = 'twin-state serving';
/** Starting includes tsx compiling the sources on first use. */
const START_TIMEOUT_MS = 15_000;
/** How long SIGTERM gets before SIGKILL, and SIGKILL before we give up waiting. */
const STOP_TIMEOUT_MS = 5_000;
/** Output kept per process, for error messages. */
const OUTPUT_LIMIT = 8_000;

/** Options of {@link startNode}. */
export interface NodeProcessOptions {
  /** The app module, relative to the repository root (e.g. `test/fixtures/app.ts`). */
  app: string;
  /** The `--storage` spec (`memory`, `sqlite:PATH`, `redis://HOST:PORT`). */
  storage: string;
  /** Listen on this port (to restart a node where its clients expect it). Default: a free one. */
  port?: number;
  /** Extra environment variables (e.g. `NODE_DEBUG: 'twin:server'`). */
  env?: NodeJS.ProcessEnv;
}

/** A running server process. */
export interface NodeProcess {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/_twin/ws` */
  readonly url: string;
  readonly pid: number;
  /** Whether the process is still running. */
  readonly alive: boolean;
  /** The last few KB of its stdout and stderr. */
  output(): string;
  /** SIGKILL, then waits for the exit. A no-op if it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), SIGKILL after 5 s; waits for the exit. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Spawns `node server/bin.js serve --app … --storage … --port … --host 127.0.0.1` and resolves
 * once it prints that it is serving. Rejects, with the process's output, if it exits first or
 * is not serving within 15 s.
 *
 * ```ts
 * const node = await startNode({ app: 'test/fixtures/app.ts', storage: `sqlite:${file}` });
 * await node.kill();
 * const again = await startNode({ app: 'test/fixtures/app.ts', storage: `sqlite:${file}`, port: node.port });
 * ```
 */
export async function startNode(options: NodeProcessOptions): Promise<NodeProcess> {
  installExitHook();
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [
    BIN, 'serve', '--app', options.app, '--storage', options.storage, '--port', String(port), '--host', HOST,
  ], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    running.delete(child);
    resolve();
  }));
  let output = '';
  let ready: (() => void) | undefined;
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    if (output.includes(READY_LINE)) ready?.();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve) => (ready = resolve)),
      exited.then(() => Promise.reject(new Error(`The server process exited before serving (code ${child.exitCode}, signal ${child.signalCode}). Its output:\n${output}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`The server process was not serving on port ${port} within ${START_TIMEOUT_MS} ms. Its output:\n${output}`)), START_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const isAlive = (): boolean => child.exitCode === null && child.signalCode === null;
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (!isAlive()) return;
    child.kill(signal);
    const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(escalate);
  };
  return {
    port,
    url: `ws://${HOST}:${port}/_twin/ws`,
    pid: child.pid!,
    get alive() {
      return isAlive();
    },
    output: () => output,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

/** Kills what is still running when the test process exits (a failed or interrupted test). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}
