// SPDX-License-Identifier: MIT
/**
 * @module outgoing
 * The rules a client's batches and calls obey on their way out, as functions of the messages
 * alone: the limits the server stated in its welcome (a message that can never pass them is
 * refused by the client at once, with the code the server would give), and the order the
 * server must see unanswered messages in (per client id in seq order, gone pages' before this
 * page's own), which is what lets the server's record of one number per client answer a
 * re-send exactly.
 *
 * Apart from `client-core.ts`, which holds the client's state and decides when a message goes:
 * these read nothing but their arguments.
 */
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { utf8Length } from './link.js';
import { seqOf } from './outbox.js';
import type { Call, OpMessage, StatedLimits } from './protocol.js';

/**
 * The refusal of a message of `ops` ops (serialized: `text`) that can never pass the server's
 * `limits`, or undefined if it fits.
 */
export function oversized(text: string, ops: number, limits: StatedLimits): TwinError | undefined {
  const { maxFrameBytes, maxOps } = limits;
  if (ops > maxOps) return twinError(ErrorCode.FRAME, DEV_MODE && `A batch may hold at most ${maxOps} ops; this one holds ${ops}.`);
  const bytes = utf8Length(text);
  if (bytes > maxFrameBytes) return twinError(ErrorCode.TOO_BIG, DEV_MODE && `The write is ${bytes} bytes; the server takes at most ${maxFrameBytes} in one frame.`);
  return undefined;
}

/**
 * Sorts `messages` (in place) into the order the server must see them in: per client id in seq
 * order; gone pages' (adopted) before those of `clientId`, this page's own.
 */
export function inSendOrder(messages: (OpMessage | Call)[], clientId: string): (OpMessage | Call)[] {
  const own = `${clientId}:`;
  const order = (id: string): [number, string] => [id.startsWith(own) ? 1 : 0, id.slice(0, id.lastIndexOf(':'))];
  return messages.sort((a, b) => {
    const [[ownA, clientA], [ownB, clientB]] = [order(a.id), order(b.id)];
    return ownA - ownB || (clientA < clientB ? -1 : clientA > clientB ? 1 : seqOf(a.id) - seqOf(b.id));
  });
}
