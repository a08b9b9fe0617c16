// SPDX-License-Identifier: MIT
/**
 * @module wire-recorder
 * The real `ws` WebSocket class, subclassed only to write down what crosses the wire: every
 * message the client sends (frames flattened, with each frame's size), every message it
 * receives, and every close code. Tests hand the class to `createClient({ WebSocket })` and
 * then judge the client by its traffic — which batch ids it sent, which the server confirmed
 * or refused, whether it ever sent a frame over the server's limits — instead of by its word.
 */
import WebSocket from 'ws';
import type { Json, WebSocketClass } from '../../src/index.js';

/** A protocol message as sent or received: parsed JSON with its type. */
export type WireMessage = { t: string; [key: string]: Json | undefined };

/** What crossed the wire, across every socket the class opened. */
export interface WireLog {
  /** Every message the client sent, in order (frames flattened). */
  readonly sent: WireMessage[];
  /** Every message the client received, in order (frames flattened). */
  readonly received: WireMessage[];
  /** Byte size and message count of each frame the client sent, in order. */
  readonly sentFrames: { bytes: number; messages: number }[];
  /** Close code and reason of each socket, as the client saw it, in order. */
  readonly closes: { code: number; reason: string }[];
  /** Every socket opened, oldest first. */
  readonly sockets: WebSocket[];
  /**
   * Sent and received messages in the one order they crossed the wire, for questions about
   * "before"; `stale` marks what arrived on a socket after a newer one was opened.
   */
  readonly timeline: { out: boolean; stale?: boolean; message: WireMessage }[];
}

/** A recording WebSocket class and its log. */
export interface WireRecorder {
  /** Pass to `createClient({ WebSocket })`. */
  readonly WebSocket: WebSocketClass;
  readonly log: WireLog;
}

/**
 * A `ws` WebSocket subclass that records the traffic of every socket it opens into one log.
 *
 * ```ts
 * const wire = recordingWebSocket();
 * const client = createClient({ url, WebSocket: wire.WebSocket }).connect();
 * // ... later
 * wire.log.received.filter((m) => m.t === 'reject');
 * ```
 */
export function recordingWebSocket(): WireRecorder {
  const log: WireLog = { sent: [], received: [], sentFrames: [], closes: [], sockets: [], timeline: [] };
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      log.sockets.push(this);
      this.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        for (const message of messagesOf(data.toString())) {
          log.received.push(message);
          log.timeline.push({ out: false, message, ...(log.sockets.at(-1) === this ? {} : { stale: true }) });
        }
      });
      this.on('close', (code: number, reason: Buffer) => log.closes.push({ code, reason: reason.toString() }));
    }

    override send(data: unknown, ...rest: unknown[]): void {
      const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString() : '';
      const messages = messagesOf(text);
      log.sentFrames.push({ bytes: Buffer.byteLength(text), messages: messages.length });
      log.sent.push(...messages);
      for (const message of messages) log.timeline.push({ out: true, message });
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  }
  return { WebSocket: RecordingWebSocket as unknown as WebSocketClass, log };
}

/** The messages of one frame (one message, or an array of them); a frame that is not JSON gives one `<not json>`. */
function messagesOf(text: string): WireMessage[] {
  try {
    const parsed = JSON.parse(text) as WireMessage | WireMessage[];
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return [{ t: '<not json>', text: text.slice(0, 200) }];
  }
}
