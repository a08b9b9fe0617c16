// SPDX-License-Identifier: MIT
/**
 * @module write-ledger
 * The fate of every write a client made, judged from the outside. Each write pushes one unique
 * token to a list (and may add to a counter); the ledger knows from the wire which batch ids
 * carried each token, which of those the server confirmed (`sync` with the id) or refused
 * (`reject`, final or retryable), and which the client reported refused to the app (its
 * `reject` event). Given the server's list at the end, {@link WriteLedger.tally} counts:
 *
 * - **acknowledged**: on the server exactly once, and confirmed to the client;
 * - **lost**: not on the server, yet never reported refused (nor confirmed);
 * - **duplicated**: on the server more than once;
 * - **wrongly confirmed**: confirmed to the client, but not on the server;
 * - **refused but applied**: refused for good on the wire, yet on the server;
 * - **applied unconfirmed**: on the server, but the client was never told it was confirmed;
 * - **refused, then confirmed unsent**: refused for now (retryable), then confirmed without
 *   being sent again — the refusal was sent before the commit's outcome was known;
 * - **refused**: reported refused to the app and not on the server (allowed).
 *
 * All but acknowledged and refused must be 0.
 */
import type { Client, Json, RejectDetail } from '../../src/index.js';
import type { WireLog } from './wire-recorder.js';

/** The counts of {@link WriteLedger.tally}. */
export interface Tally {
  written: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  wronglyConfirmed: number;
  refusedButApplied: number;
  appliedUnconfirmed: number;
  refusedThenConfirmedUnsent: number;
  refused: number;
  /** What the server's counter must be: the deltas of the writes that are on the server. */
  expectedCounter: number;
  /** A few offending tokens per kind, for messages. */
  examples: Record<string, string[]>;
}

/** How many offending tokens of each kind a tally keeps for its message. */
const EXAMPLES_PER_KIND = 5;

/** The path every tracked write pushes its token to. */
export const TOKEN_LIST = 'items';

/** Tracks the writes of one client whose traffic `log` records. */
export class WriteLedger {
  /** Every token written, with the counter delta written in the same batch. */
  readonly tokens = new Map<string, number>();
  /** Every `reject` event the client dispatched. */
  readonly rejects: RejectDetail[] = [];
  private readonly log: WireLog;

  constructor(log: WireLog, client: Client) {
    this.log = log;
    client.addEventListener('reject', (event) => this.rejects.push((event as CustomEvent<RejectDetail>).detail));
  }

  /** Records that a batch pushing `token` (and adding `delta` to the counter) was written. */
  wrote(token: string, delta = 0): void {
    this.tokens.set(token, delta);
  }

  /** The batch ids that carried each token on the wire (a re-send may reuse or renew an id). */
  idsByToken(): Map<string, Set<string>> {
    const ids = new Map<string, Set<string>>();
    for (const message of this.log.sent) {
      if (message.t !== 'op' || typeof message.id !== 'string' || !Array.isArray(message.ops)) continue;
      for (const op of message.ops as { op?: string; path?: Json[]; values?: Json[] }[]) {
        if (op.op !== 'push' || op.path?.length !== 1 || op.path[0] !== TOKEN_LIST) continue;
        for (const value of op.values ?? []) {
          if (typeof value !== 'string' || !this.tokens.has(value)) continue;
          let set = ids.get(value);
          if (!set) ids.set(value, (set = new Set()));
          set.add(message.id);
        }
      }
    }
    return ids;
  }

  /** Batch ids whose confirmation came after a retryable refusal with no re-send in between. */
  refusedThenConfirmedUnsent(): Set<string> {
    const refusedForNow = new Set<string>();
    const found = new Set<string>();
    for (const { out, stale, message } of this.log.timeline) {
      const id = message.id;
      // A late answer on a socket the client has already replaced says nothing of the new one.
      if (typeof id !== 'string' || stale) continue;
      if (out) refusedForNow.delete(id);
      else if (message.t === 'reject' && message.retry === true) refusedForNow.add(id);
      else if (message.t === 'sync' && refusedForNow.has(id)) found.add(id);
    }
    return found;
  }

  /** Counts the fate of every token written, against the server's list `serverItems`. */
  tally(serverItems: readonly Json[]): Tally {
    const onServer = new Map<string, number>();
    for (const item of serverItems) if (typeof item === 'string') onServer.set(item, (onServer.get(item) ?? 0) + 1);
    const confirmed = new Set<string>();
    const finalRefusals = new Set<string>();
    for (const m of this.log.received) {
      if (m.t === 'sync' && typeof m.id === 'string') confirmed.add(m.id);
      if (m.t === 'reject' && typeof m.id === 'string' && m.retry !== true) finalRefusals.add(m.id);
    }
    const reported = new Set(this.rejects.map((r) => r.id));
    const ids = this.idsByToken();
    const tally: Tally = {
      written: this.tokens.size, acknowledged: 0, lost: 0, duplicated: 0, wronglyConfirmed: 0,
      refusedButApplied: 0, appliedUnconfirmed: 0, refusedThenConfirmedUnsent: 0, refused: 0, expectedCounter: 0, examples: {},
    };
    const premature = this.refusedThenConfirmedUnsent();
    const note = (kind: keyof Tally, token: string): void => {
      (tally[kind] as number)++;
      const list = (tally.examples[kind] ??= []);
      if (list.length < EXAMPLES_PER_KIND) list.push(`${token} (ids ${[...(ids.get(token) ?? [])].join(',') || 'never sent'})`);
    };
    for (const [token, delta] of this.tokens) {
      const n = onServer.get(token) ?? 0;
      const mine = [...(ids.get(token) ?? [])];
      const wasConfirmed = mine.some((id) => confirmed.has(id));
      const wasReported = mine.some((id) => reported.has(id));
      if (n > 0) tally.expectedCounter += delta;
      if (n > 1) note('duplicated', token);
      if (n >= 1 && mine.some((id) => finalRefusals.has(id))) note('refusedButApplied', token);
      if (n >= 1 && !wasConfirmed) note('appliedUnconfirmed', token);
      if (mine.some((id) => premature.has(id))) note('refusedThenConfirmedUnsent', token);
      if (n === 1 && wasConfirmed) tally.acknowledged++;
      if (n === 0) {
        if (wasConfirmed) note('wronglyConfirmed', token);
        else if (wasReported) tally.refused++;
        else note('lost', token);
      }
    }
    return tally;
  }
}

/** One line for `t.diagnostic`: the counts of `tally`. */
export function formatTally(label: string, tally: Tally): string {
  return `${label}: written ${tally.written}, acknowledged ${tally.acknowledged}, refused ${tally.refused}, lost ${tally.lost}, `
    + `duplicated ${tally.duplicated}, wrongly confirmed ${tally.wronglyConfirmed}, refused but applied ${tally.refusedButApplied}, `
    + `applied unconfirmed ${tally.appliedUnconfirmed}, refused then confirmed unsent ${tally.refusedThenConfirmedUnsent}`;
}

/** The violations of `tally` (kinds that must be 0 and are not), with examples; empty when all is well. */
export function violations(tally: Tally): string[] {
  const kinds = ['lost', 'duplicated', 'wronglyConfirmed', 'refusedButApplied', 'appliedUnconfirmed', 'refusedThenConfirmedUnsent'] as const;
  return kinds.filter((kind) => tally[kind] > 0).map((kind) => `${kind} ${tally[kind]}: ${tally.examples[kind]?.join('; ')}`);
}
