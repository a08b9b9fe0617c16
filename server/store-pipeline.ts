// SPDX-License-Identifier: MIT
/**
 * @module store-pipeline
 * A store's single batches (a client's op, a turn of server code), committed back to back
 * instead of one storage round trip at a time. Each batch is checked, in arrival order, on
 * top of the ones still on their way to storage (`batch-check.ts`), and its append goes out
 * at once; storage groups appends that arrive together (one SQLite transaction, one Redis
 * script call). Nothing is shown before it is durable: a batch is applied to the store, broadcast and
 * acknowledged only when its own append has answered, in version order.
 *
 * An append made on top of another names it (`AppendPart.after`), so storage takes it only if
 * its predecessor is really there. When one fails, the ones after it fail with it; once they
 * have all answered, the store is brought up to what storage holds and they are checked again
 * on that (so a batch refused, or one that lost a race to another node, never takes the
 * others with it). Only a refusal *for now* travels on to the same client's later batches:
 * their order must hold, so they are refused for now too, and come again behind it.
 *
 * The pipeline holds the store's lock while it has work, and lets go as soon as someone else
 * (an action, another node's batch) waits for it: they see only committed state.
 */
import { ErrorCode, RETRYABLE, TwinError } from '../src/errors.js';
import type { Json } from '../src/json.js';
import type { Op } from '../src/ops.js';
import { checked, checkInPlace } from './batch-check.js';
import type { Committer, Sender } from './committer.js';
import type { HubStore } from './hub-store.js';

/** Batches of one store on their way to storage at once. */
const MAX_IN_FLIGHT = 256;
/**
 * Clients remembered with a batch refused for now (see `StorePipeline.admits`): enough for
 * the moment between a batch's admission and its arrival here; the oldest go first.
 */
const MAX_REFUSED_CLIENTS = 4096;

interface Request {
  readonly ops: Op[];
  readonly id: string;
  readonly sender: Sender | undefined;
  readonly started: number;
  /** Conflicts this batch lost as the first on its way (bounded by the committer). */
  conflicts: number;
  resolve(committed: boolean): void;
  reject(err: unknown): void;
}

/** An append under way: the batch, its version, the state it leads to (a store with a schema), and storage's answer. */
interface Flight {
  readonly request: Request;
  readonly v: number;
  readonly state: Json | undefined;
  readonly answer: Promise<unknown>;
  /** The batch's ops as JSON: what storage stored and subscribers get. */
  readonly json: string;
}

/** What an append's promise settles to: nothing when it was stored. */
const STORED = undefined;

export class StorePipeline {
  private readonly store: HubStore;
  private readonly committer: Committer;
  private readonly maxDepth: number | undefined;
  private readonly committedSeq: (client: string) => number;
  private readonly waiting: Request[] = [];
  private readonly flying: Flight[] = [];
  private running = false;
  /** Launch nothing until what is on its way has landed (a batch waits to be checked again). */
  private drain = false;
  /** Per client, the first seq refused for now that has not come again (see `admits`). */
  private readonly refusedFrom = new Map<string, number>();
  /** Wakes the running pipeline when a batch arrives. */
  private arrived: (() => void) | undefined;

  /** @param committedSeq a client's last committed seq, as the hub knows it */
  constructor(store: HubStore, committer: Committer, maxDepth: number | undefined, committedSeq: (client: string) => number) {
    this.store = store;
    this.committer = committer;
    this.maxDepth = maxDepth;
    this.committedSeq = committedSeq;
  }

  /**
   * Commits one batch after the ones submitted before it. Resolves true once it is stored,
   * applied and broadcast; false when storage held it already (a re-send); rejects with the
   * coded reason it was refused (nothing changed then).
   */
  commit(ops: Op[], id: string, sender: Sender | undefined): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const request: Request = { ops, id, sender, started: performance.now(), conflicts: 0, resolve, reject };
      if (!this.admits(request)) {
        reject(behindRefused());
        return;
      }
      this.waiting.push(request);
      this.arrived?.();
      if (!this.running) void this.run();
    });
  }

  /** Whether `id` is this store's batch at version `v`, stored or on its way (so no news to adopt). */
  carries(v: number, id: string | undefined): boolean {
    return this.flying.some((flight) => flight.v === v && flight.request.id === id);
  }

  private async run(): Promise<void> {
    this.running = true;
    const release = await this.store.lock.acquire();
    try {
      // Someone else waiting for the store (an action, a batch of another node) stops new
      // launches; what is on its way lands, and the lock is theirs.
      while ((this.waiting.length && !this.othersWait()) || this.flying.length) {
        while (this.waiting.length && this.flying.length < MAX_IN_FLIGHT && !this.othersWait() && !this.drain) {
          await this.launch(this.waiting.shift()!);
        }
        if (!this.flying.length) continue;
        const arrival = new Promise<void>((wake) => (this.arrived = wake));
        const first = this.flying[0]!;
        // A batch that arrives meanwhile goes out at once, not after the first has landed.
        if ((await Promise.race([first.answer.then(() => true), arrival.then(() => false)])) || this.waiting.length === 0 || this.othersWait() || this.drain) {
          this.arrived = undefined;
          await this.land();
        }
      }
    } finally {
      this.arrived = undefined;
      this.running = false;
      release();
    }
    if (this.waiting.length) void this.run();
  }

  private othersWait(): boolean {
    return this.store.lock.waiting > 1;
  }

  /**
   * Whether `request` may go to the pipeline: not while a batch its client sent before it was
   * refused for now and has not come again. The connection holds such a client's later
   * batches back too, but one admitted before the refusal (still in `authorize`, say) would
   * otherwise be committed past it — and the server's record of the client would then answer
   * the refused one's re-send as applied.
   */
  private admits(request: Request): boolean {
    const client = request.sender?.client;
    const refused = client === undefined ? undefined : this.refusedFrom.get(client);
    if (refused === undefined) return true;
    // Past it once it comes again, or once it was committed after all (sent again elsewhere).
    if (request.sender!.seq > refused && this.committedSeq(client!) < refused) return false;
    this.refusedFrom.delete(client!);
    return true;
  }

  /** Checks a batch on top of those on their way, and sends its append. */
  private async launch(request: Request): Promise<void> {
    const last = this.flying.at(-1);
    let state: Json | undefined;
    try {
      // A schema reads the whole state anyway: the states after each batch are kept (sharing
      // what they do not change). Without one, the ops are tried in place and undone.
      if (this.store.def.options.schema) state = await checked(this.store, last?.state ?? this.store.replica.confirmed, request.ops, this.maxDepth);
      else checkInPlace(this.store, this.flying.map((f) => f.request.ops), request.ops, this.maxDepth);
    } catch (err) {
      if (!this.flying.length) {
        this.refuse(request, err);
        return;
      }
      // Refused on top of batches that may yet fail: refused for good only if it fails on what
      // storage holds. It goes first again once everything on its way has landed.
      this.waiting.unshift(request);
      this.drain = true;
      return;
    }
    try {
      await this.committer.ensureStored(this.store);
    } catch (err) {
      this.refuse(request, err);
      return;
    }
    const v = (last?.v ?? this.store.v) + 1;
    const json = JSON.stringify(request.ops);
    const answer = this.committer.send(this.store, { v, ops: request.ops, id: request.id }, request.sender, last?.request.id, json)
      .then(() => STORED, (err: unknown) => err ?? new Error('The append failed.'));
    this.flying.push({ request, v, state, answer, json });
  }

  /** Handles storage's answer to the first append on its way. */
  private async land(): Promise<void> {
    const flight = this.flying.shift()!;
    if (!this.flying.length) this.drain = false;
    const { request } = flight;
    const error = await flight.answer;
    if (error === STORED) {
      this.committer.committed([{ store: this.store, ops: request.ops, json: flight.json }], request.id, request.sender, request.started);
      request.resolve(true);
      return;
    }
    // The appends after it were made on top of it: hear them all before deciding anything.
    const after = this.flying.splice(0);
    const stored = await Promise.all(after.map((f) => f.answer.then((e) => e === STORED)));
    let duplicate = false;
    let refusal: { err: unknown } | undefined;
    try {
      const conflict = await this.committer.realigner.failed(error, request.sender);
      if (conflict === 'duplicate') {
        duplicate = true;
      } else {
        await this.committer.realigner.resolve([this.store], conflict, request.conflicts++);
        this.waiting.unshift(request);
      }
    } catch (err) {
      refusal = { err };
    }
    // Storage may hold more than this node knows (an append that failed after writing).
    let refreshed = true;
    await this.committer.realigner.refresh(this.store).catch(() => (refreshed = false));
    // Stored after all, found by the refresh (confirmed with its ops, to its sender) — server
    // code's batch too, which has no client record to ask — or committed long before.
    const found = this.store.since(flight.v - 1)?.[0]?.id === request.id;
    let behind = new Set<Request>();
    if (found) request.resolve(true);
    else if (duplicate) request.resolve(false);
    else if (refusal) behind = this.refuse(request, refusal.err, after);
    const again: Request[] = [];
    after.forEach((f, i) => {
      if (stored[i] && refreshed && this.store.v >= f.v) f.request.resolve(true);
      else if (stored[i]) {
        // Stored, but storage cannot say so now: refused for now; a re-send is answered as a
        // duplicate.
        f.request.reject(new TwinError(ErrorCode.UNAVAILABLE, 'The server cannot tell now whether this was stored; it will be sent again.'));
      } else {
        again.push(f.request);
      }
    });
    // Checked again, in their order, behind the one that failed (if it goes again).
    this.waiting.splice(this.waiting[0] === request ? 1 : 0, 0, ...again.filter((r) => !behind.has(r)));
  }

  /**
   * Rejects `request`; returns the requests it took with it. Refused for now (its client sends it again), the same client's batches
   * after it, waiting or among `after` (on their way behind it, failed with it), are refused for
   * now too: none may be committed before it, or the server's record of the client would
   * answer its re-send as one applied before.
   */
  private refuse(request: Request, err: unknown, after: readonly Flight[] = []): Set<Request> {
    request.reject(err);
    const behind = new Set<Request>();
    if (!isForNow(err) || !request.sender) return behind;
    const client = request.sender.client;
    const first = Math.min(request.sender.seq, this.refusedFrom.get(client) ?? Infinity);
    this.refusedFrom.delete(client); // (the latest goes last in the bounded map)
    this.refusedFrom.set(client, first);
    if (this.refusedFrom.size > MAX_REFUSED_CLIENTS) this.refusedFrom.delete(this.refusedFrom.keys().next().value!);
    for (const later of [...after.map((f) => f.request), ...this.waiting]) {
      if (later.sender?.client !== client) continue;
      behind.add(later);
      later.reject(behindRefused());
    }
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((r) => !behind.has(r)));
    return behind;
  }
}

function behindRefused(): TwinError {
  return new TwinError(ErrorCode.ORDER, 'A batch before this one was refused for now; send both again.');
}

function isForNow(err: unknown): boolean {
  return err instanceof TwinError && RETRYABLE.has(err.code);
}
