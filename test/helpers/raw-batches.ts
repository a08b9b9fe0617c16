// SPDX-License-Identifier: MIT
/**
 * @module raw-batches
 * Batches sent by hand over a raw socket (see `server.ts`'s `rawClient`) to the fixture's
 * `board`, and their answers found by batch id: a rate refusal is sent at once while a commit
 * waits for storage, so answers of different batches may come out of order.
 */
import type { Message, RawClient, TestServer } from './server.js';
import { newClientId } from './server.js';
import { waitFor } from './tracked-writer.js';

/** A raw op message pushing `token` to the board as batch `seq` of `raw`'s client. */
export function pushOp(raw: RawClient, seq: number, token: string): Message {
  return { t: 'op', id: `${raw.clientId}:${seq}`, store: 'board', ops: [{ op: 'push', path: ['items'], values: [token] }] };
}

/** Per raw client, where its messages stood when each batch id was last sent. */
const sentAt = new WeakMap<RawClient, Map<string, number>>();

/** Sends `frame` (a message or an array), noting when each batch in it was sent, for {@link answerTo}. */
export function sendOps(raw: RawClient, frame: Message | Message[]): void {
  let marks = sentAt.get(raw);
  if (!marks) sentAt.set(raw, (marks = new Map()));
  for (const m of [frame].flat()) if (typeof m.id === 'string') marks.set(m.id, raw.messages.length);
  raw.send(frame);
}

/**
 * The answer (`sync` with the id, or `reject`) to batch `id` since it was last sent. Answers of
 * different batches may come out of order (a rate refusal is immediate, a commit waits for
 * storage), so this looks at the id, not at the order.
 */
export async function answerTo(raw: RawClient, id: string, timeoutMs = 3_000): Promise<Message> {
  const from = sentAt.get(raw)?.get(id) ?? 0;
  const find = () => raw.messages.slice(from).find((m) => (m.t === 'sync' || m.t === 'reject') && m.id === id);
  await waitFor(find, `an answer to batch ${id}`, timeoutMs, () => `Received since: ${raw.since(from).slice(-3).map((m) => JSON.stringify(m).slice(0, 200)).join(' | ')}`);
  return find()!;
}

/** A raw client of `srv` that said hello as `id`, subscribed to the board (its snapshot received). */
export async function boardSubscriber(srv: TestServer, id = newClientId()): Promise<RawClient> {
  const raw = await srv.raw();
  await raw.hello(id, { board: 0 });
  await raw.next((m) => m.t === 'snapshot' && m.store === 'board');
  return raw;
}

/** How many times each of `tokens` is in `items`. */
export function occurrences(items: readonly string[], tokens: readonly string[]): number[] {
  return tokens.map((token) => items.filter((item) => item === token).length);
}
