// SPDX-License-Identifier: MIT
/**
 * @module refused
 * What a client sees of a refused connection: the server accepts the upgrade and closes at once
 * with a close code and a coded reason (browsers hide an HTTP status, so the server never
 * answers with one). Also a logger that records what the server logs, for tests that read it.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import type { ClientOptions } from 'ws';
import { newClientId, within } from './server.js';

/** How a connection attempt ended. */
export interface Ending {
  /** Whether the socket opened (the upgrade was accepted) before it closed. */
  readonly opened: boolean;
  /** The HTTP status if the upgrade was answered with one instead (never expected). */
  readonly status: number | undefined;
  readonly code: number;
  readonly reason: string;
}

/** Opens a WebSocket to `url` and resolves with how it ended, sending nothing. */
export async function connectionEnding(url: string, options: ClientOptions = {}): Promise<Ending> {
  const ws = new WebSocket(url, options);
  let opened = false;
  let status: number | undefined;
  ws.on('open', () => (opened = true));
  ws.on('error', () => undefined);
  ws.on('unexpected-response', (_req, res) => {
    status = res.statusCode;
    ws.terminate();
  });
  const [code, reason] = (await within(once(ws, 'close'), `the connection to ${url} to end`)) as [number, Buffer];
  return { opened, status, code, reason: reason.toString() };
}

/**
 * Opens a WebSocket to `url` and says hello: `'welcome'` if the server answers (the socket is
 * then closed), else how the connection ended.
 */
export async function greeting(url: string, options: ClientOptions = {}): Promise<'welcome' | Ending> {
  const ws = new WebSocket(url, options);
  let opened = false;
  let status: number | undefined;
  ws.on('error', () => undefined);
  ws.on('unexpected-response', (_req, res) => {
    status = res.statusCode;
    ws.terminate();
  });
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  ws.on('open', () => {
    opened = true;
    ws.send(JSON.stringify({ t: 'hello', proto: 1, client: newClientId(), subs: {} }));
  });
  const welcomed = new Promise<'welcome'>((resolve) => ws.on('message', (data: Buffer) => {
    if (data.toString().includes('"welcome"')) resolve('welcome');
  }));
  const outcome = await within(Promise.race([welcomed, closed.then(([code, reason]) => ({ opened, status, code, reason: reason.toString() }))]), `an answer from ${url}`);
  if (outcome === 'welcome') {
    ws.close();
    await within(closed, 'the socket to close');
  }
  return outcome;
}

/** A logger that records each call's first argument, by level. */
export function recordingLogger(): { warn(...args: unknown[]): void; error(...args: unknown[]): void; lines: { level: string; text: string }[] } {
  const lines: { level: string; text: string }[] = [];
  return {
    lines,
    warn: (...args: unknown[]) => void lines.push({ level: 'warn', text: String(args[0]) }),
    error: (...args: unknown[]) => void lines.push({ level: 'error', text: String(args[0]) }),
  };
}
