// SPDX-License-Identifier: MIT
/**
 * @module children
 * Helper processes for benchmarks: the load (clients, writers) runs in child processes so the
 * process under test does not also do the client work. A child is forked with `--import tsx`,
 * speaks request/response over the IPC channel (with the `advanced` serialization, so typed
 * arrays cross intact), and exits when its parent goes away. Every call has a timeout.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/lib/ is two levels down), where `tsx` resolves from. */
export const REPO_ROOT: string = fileURLToPath(new URL('../../', import.meta.url));

/** How long a child may take to start and say it is ready. */
const START_TIMEOUT = 20_000;
/** Default time limit of one call. */
const CALL_TIMEOUT = 60_000;
/** Grace given to a child to exit on its own before it is killed. */
const STOP_GRACE = 2_000;

/** A command sent to a child: a plain object with a `cmd` naming what to do. */
export interface Command {
  readonly cmd: string;
  readonly [key: string]: unknown;
}

interface Request { readonly id: number; readonly command: Command }
type Reply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

/** A child process that answers commands. */
export interface ChildHandle {
  readonly name: string;
  readonly process: ChildProcess;
  /** Sends `command` and resolves with the child's answer; rejects on its error, its exit or the timeout. */
  call<T>(command: Command, timeoutMs?: number): Promise<T>;
  /** Asks the child to exit, and kills it if it does not within a grace period. */
  stop(): Promise<void>;
}

/** Options of {@link spawnChild}. */
export interface SpawnOptions {
  /** Arguments after the script. Default none. */
  readonly args?: readonly string[];
  /** Node flags on top of `--import tsx` (e.g. `--cpu-prof`). Default none. */
  readonly execArgv?: readonly string[];
}

/**
 * Forks `file` (a TypeScript module that calls {@link serveParent}) and resolves once it is
 * ready. The child inherits stdout/stderr, runs from the repository root, and is killed if
 * this process exits first.
 *
 * ```ts
 * const child = await spawnChild(new URL('./worker.ts', import.meta.url), 'worker');
 * const answer = await child.call<number>({ cmd: 'add', a: 1, b: 2 });
 * await child.stop();
 * ```
 */
export function spawnChild(file: string | URL, name: string, options: SpawnOptions = {}): Promise<ChildHandle> {
  const path = typeof file === 'string' ? file : fileURLToPath(file);
  const child = fork(path, [...(options.args ?? [])], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 0;
  let exited = false;

  const failAll = (error: Error) => {
    for (const { reject, timer } of waiting.values()) {
      clearTimeout(timer);
      reject(error);
    }
    waiting.clear();
  };

  child.on('message', (message: Reply | { ready: true }) => {
    if ('ready' in message) return;
    const entry = waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id);
    clearTimeout(entry.timer);
    if (message.ok) entry.resolve(message.result);
    else entry.reject(new Error(`${name}: ${message.error}`));
  });
  child.on('exit', (code, signal) => {
    exited = true;
    process.off('exit', killOnExit);
    failAll(new Error(`The child process ${JSON.stringify(name)} exited (code ${code}, signal ${signal}).`));
  });

  const handle: ChildHandle = {
    name,
    process: child,
    call<T>(command: Command, timeoutMs = CALL_TIMEOUT): Promise<T> {
      if (exited) return Promise.reject(new Error(`The child process ${JSON.stringify(name)} is gone.`));
      const id = ++nextId;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${name}: ${JSON.stringify(command.cmd)} took longer than ${timeoutMs} ms.`));
        }, timeoutMs);
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        child.send({ id, command } satisfies Request);
      });
    },
    async stop(): Promise<void> {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE);
      await gone;
      clearTimeout(timer);
    },
  };

  return new Promise<ChildHandle>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The child process ${JSON.stringify(name)} did not start within ${START_TIMEOUT} ms.`));
    }, START_TIMEOUT);
    const onReady = (message: unknown) => {
      if (typeof message !== 'object' || message === null || !('ready' in message)) return;
      clearTimeout(timer);
      child.off('message', onReady);
      resolve(handle);
    };
    child.on('message', onReady);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`The child process ${JSON.stringify(name)} exited before it was ready.`));
    });
  });
}

/** The command every child answers itself: its CPU time so far (`process.cpuUsage()`, µs). */
export const CPU_COMMAND = 'cpu';

/**
 * The child's side: answers each command from the parent with `handler`'s result (or its
 * error), then tells the parent it is ready. The process exits when the parent disconnects.
 * {@link CPU_COMMAND} is answered without `handler`.
 */
export function serveParent(handler: (command: Command) => unknown): void {
  if (!process.send) throw new TypeError('serveParent() must run in a process forked with an IPC channel.');
  const send = process.send.bind(process);
  process.on('message', (message: Request) => {
    void (async () => {
      let reply: Reply;
      try {
        const result = message.command.cmd === CPU_COMMAND ? process.cpuUsage() : await handler(message.command);
        reply = { id: message.id, ok: true, result };
      } catch (err) {
        reply = { id: message.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) };
      }
      if (process.connected) send(reply);
    })();
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: true });
}
