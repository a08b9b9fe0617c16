// SPDX-License-Identifier: MIT
/**
 * @module plain-ack-server
 * The reference of bench/commits.ts: a plain `ws` server that answers the same load with the
 * least a JSON-over-WebSocket server can do. It parses each message, counts a version per
 * store, and answers an `op` with the `sync` a twin server would send its sender (the ops
 * serialized back), one frame per client per tick like twin's own coalescing. No checks, no
 * storage, no log: what it reaches is the ceiling this machine's two cores allow with this
 * load generator beside it, whatever the server does.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

interface Message {
  readonly t: string;
  readonly id?: string;
  readonly store?: string;
  readonly ops?: unknown[];
  readonly subs?: Record<string, number>;
}

/** Starts the reference on an ephemeral port of 127.0.0.1; its `url` takes the load's clients. */
export async function startPlainAckServer(): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const versions = new Map<string, number>();
  /** Answers waiting for the end of this tick, per socket. */
  const queued = new Map<WebSocket, string[]>();
  let flushing = false;
  const flush = () => {
    flushing = false;
    for (const [ws, answers] of queued) ws.send(answers.length === 1 ? answers[0]! : `[${answers.join(',')}]`);
    queued.clear();
  };
  const answer = (ws: WebSocket, text: string) => {
    const answers = queued.get(ws);
    if (answers) answers.push(text);
    else queued.set(ws, [text]);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as Message;
      if (message.t === 'hello') {
        for (const store of Object.keys(message.subs ?? {})) answer(ws, JSON.stringify({ t: 'snapshot', store, v: versions.get(store) ?? 0, value: { n: 0 } }));
      } else if (message.t === 'op' && message.store !== undefined) {
        const v = (versions.get(message.store) ?? 0) + 1;
        versions.set(message.store, v);
        answer(ws, JSON.stringify({ t: 'sync', store: message.store, v, ops: message.ops, id: message.id }));
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
