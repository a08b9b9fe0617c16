// SPDX-License-Identifier: MIT
/**
 * @module kept-writes
 * The client's side of its outbox (`outbox.ts`): every batch and call is kept from the turn it
 * is made until it is confirmed or refused; what gone pages left is taken back once this page
 * holds their slots — sent again under its own ids, or, when too old or made against another
 * `version` of its store, handed back to the app as stale. A write the outbox could not keep
 * (no outbox, a full storage) is counted, so the page can ask before it unloads.
 */
import type { StaleWrite } from './client-options.js';
import { DEV_MODE } from './dev.js';
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { createOutbox, DEFAULT_MAX_AGE } from './outbox.js';
import type { AdoptedSlot, Locks } from './outbox.js';
import type { Call, ClientClaim, OpMessage } from './protocol.js';
import { state } from './signals.js';

export interface KeptWrites {
  /** Keeps `message` (sent next; `text` is it serialized) until {@link settle} is called with its id. */
  keep(message: OpMessage | Call, text: string): void;
  /** `id` was confirmed or refused: nothing is left to keep of it. */
  settle(id: string): void;
  /** Notes the `version` option of a store this page defines. */
  define(store: string, version: number | undefined): void;
  /** Stored writes of gone pages that were not sent. */
  readonly stale: ReturnType<typeof state<readonly StaleWrite[]>>;
  /** How many batches and calls wait for an answer (sent, or queued while offline). */
  readonly unanswered: ReturnType<typeof state<number>>;
  /** Settles once what gone pages left was taken back (before this page says hello). */
  readonly ready: Promise<void>;
  /** The gone pages' ids (with keys) whose messages this page still sends: claimed on each welcome. */
  claims(): ClientClaim[];
  /**
   * Hands `message` back as stale if it was made longer than `outboxMaxAge` ago (a tab kept
   * offline that long: the server may have forgotten whether it applied it), or against another
   * `version` of its store than the server's `versions` (by store or family name; 0 when not
   * named) — which covers stores this page does not define; returns the refusal then, else
   * undefined (send it).
   */
  expire(message: OpMessage | Call, versions: Readonly<Record<string, number>>): TwinError | undefined;
}

export interface KeptWritesOptions {
  outbox?: Storage | undefined;
  outboxMaxAge?: number | undefined;
  guardUnload?: boolean | undefined;
}

/** What taking back a gone page's messages needs from the client. */
export interface TakeBack {
  /** Claims a gone page's id taken over after the hello (its messages follow). */
  claim(claim: ClientClaim): void;
  /** Shows (pending) and sends a gone page's message under its own id. */
  resend(message: OpMessage | Call): void;
  /**
   * Makes a stale message again as a new write or call of this page (the app retries it): under
   * its old id the server could take it for applied, once a later seq of that id was.
   */
  retry(message: OpMessage | Call): void;
  /** Tells the page a message was refused (here: found stale). */
  announce(store: string | undefined, id: string, error: TwinError): void;
}

/** The kept writes of the client `id` (proven by `key`). */
export function createKeptWrites(options: KeptWritesOptions, id: string, key: string, client: TakeBack): KeptWrites {
  const outbox = options.outbox && createOutbox(options.outbox, (globalThis.navigator as { locks?: Locks } | undefined)?.locks, id, key, (slot) => {
    client.claim(slot);
    takeBack([slot]);
  });
  const maxAge = options.outboxMaxAge ?? DEFAULT_MAX_AGE;
  /** The `version` option of each store this page defines, 0 without one (a stored write made against another is stale). */
  const versions = new Map<string, number>();
  /** Pending messages the outbox could not keep: lost if the page unloads now. */
  const unsaved = new Set<string>();
  const stale = state<readonly StaleWrite[]>([]);
  /** The messages kept now (this page's and those taken back from gone pages). */
  const waiting = new Set<string>();
  const unanswered = state(0);
  const count = () => unanswered.set(waiting.size);
  /** When each message kept now was made (ms since the epoch), and against which `version` of its store, when known. */
  const made = new Map<string, [at: number, version: number | undefined]>();

  const settle = (messageId: string) => {
    outbox?.remove(messageId);
    unsaved.delete(messageId);
    made.delete(messageId);
    if (waiting.delete(messageId)) count();
  };

  const resend = (message: OpMessage | Call, at: number, version: number | undefined) => {
    waiting.add(message.id);
    count();
    made.set(message.id, [at, version]);
    client.resend(message);
  };

  /** Hands `message` (made at `at`) back to the app, unsent: `client.staleWrites`, and a refusal. */
  const handBack = (message: OpMessage | Call, at: number, error: TwinError) => {
    const store = message.t === 'op' ? message.store : undefined;
    const forget = () => stale.set(stale.get().filter((w) => w.id !== message.id));
    stale.set([...stale.get(), {
      id: message.id, store, made: at, code: error.code, message: error.message,
      // Sent after all, on the app's word, as a new write: its age counts from now.
      retry: () => (forget(), settle(message.id), client.retry(message)),
      discard: () => (forget(), settle(message.id)),
    }]);
    if (waiting.delete(message.id)) count();
    client.announce(store, message.id, error);
  };

  /**
   * Why `message`, made at `at` against `version` of its store (undefined: not known), is not to
   * be sent now that the store's version is `current`: too old, or made against another version.
   */
  const staleness = (message: OpMessage | Call, at: number, version: number | undefined, current: number | undefined): TwinError | undefined => {
    if (Date.now() - at > maxAge) return twinError(ErrorCode.STALE, DEV_MODE && `This write waited ${Math.round((Date.now() - at) / 60_000)} minutes, longer than outboxMaxAge; it was not sent.`);
    if (message.t === 'op' && version !== undefined && current !== undefined && version !== current) {
      return twinError(ErrorCode.STALE, DEV_MODE && `This write was made against version ${version} of store ${JSON.stringify(message.store)}, which is at version ${current} now; it was not sent.`);
    }
    return undefined;
  };

  /** Sends gone pages' messages again, or hands them back as stale: by this page's definitions here, by the server's at each welcome (`expire`). */
  function takeBack(slots: AdoptedSlot[]): void {
    for (const { message, at, version } of slots.flatMap((slot) => slot.entries)) {
      const stale = staleness(message, at, version, message.t === 'op' ? versions.get(message.store) : undefined);
      if (stale) handBack(message, at, stale);
      else resend(message, at, version);
    }
  }
  const ready = (outbox?.adopted ?? Promise.resolve([])).then(takeBack);

  if (options.guardUnload) {
    globalThis.addEventListener?.('beforeunload', (event) => {
      if (unsaved.size) event.preventDefault();
    });
  }

  return {
    keep(message, text) {
      const at = Date.now();
      const version = message.t === 'op' ? versions.get(message.store) : undefined;
      waiting.add(message.id);
      count();
      made.set(message.id, [at, version]);
      if (!outbox?.put(message.id, text, at, version)) unsaved.add(message.id);
    },
    settle,
    // (A store defined without a `version` is at version 0, as the server counts it.)
    define: (store, version) => versions.set(store, version ?? 0),
    stale,
    unanswered,
    ready,
    claims: () => outbox?.claims() ?? [],
    expire(message, current) {
      const kept = made.get(message.id);
      if (!kept) return undefined;
      const [at, version] = kept;
      const store = message.t === 'op' ? message.store : '';
      const error = staleness(message, at, version, current[store] ?? current[store.split('/')[0]!] ?? 0);
      if (error) handBack(message, at, error);
      return error;
    },
  };
}
