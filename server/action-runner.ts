// SPDX-License-Identifier: MIT
/**
 * @module action-runner
 * How the hub runs an action: against the authoritative stores, holding the lock of every
 * store it touches, so it commits against the state it read. Which stores those are is learned
 * by running it: touching a store it does not hold makes the run stop and start again holding
 * that one too (all locks taken in name order, so two actions never wait for each other for
 * good). A run whose commit lost the race to another node runs again on the caught-up state.
 * The stores a run needed are remembered, so the next call of that action takes them up front.
 *
 * An action may therefore run more than once on the server; only its store writes of the run
 * that commits count, once.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActionDef } from '../src/define.js';
import { ErrorCode, isTwinError, TwinError } from '../src/errors.js';
import { cloneJson } from '../src/json.js';
import type { Json } from '../src/json.js';
import type { Batch, Replica } from '../src/replica.js';
import { check } from './batch-check.js';
import { Rerun } from './committer.js';
import type { Committer, Part, Sender } from './committer.js';
import type { HubStore } from './hub-store.js';
import type { RateLimitedLogger } from './logger.js';
import { withLocks } from './store-lock.js';

/** Times an action may run again because it touched a store it did not hold yet. */
const MAX_STORE_RETRIES = 8;
/** Runs of an action that lost the race to another node before giving up (retryably). */
const MAX_ACTION_RERUNS = 20;

/** What a running action sees: who called it, its batch per store, the stores it holds. */
export interface ActionContext {
  readonly user: unknown;
  readonly id: string;
  readonly batches: Map<Replica, Batch>;
  /** The stores this run holds the locks of; touching another makes it run again holding that one too. */
  readonly held: ReadonlySet<HubStore>;
}

/** What the runner needs from the hub. */
export interface ActionHost {
  readonly committer: Committer;
  readonly logger: RateLimitedLogger;
  readonly maxDepth: number | undefined;
  /** The store `name` if it is loaded. */
  loaded(name: string): HubStore | undefined;
  /** The store `name`, loaded or created for `user`; undefined if there is none. */
  load(name: string, options: { user: unknown }): Promise<HubStore | undefined>;
}

export class ActionRunner {
  /** The action running now (in this async context), if any. */
  readonly context = new AsyncLocalStorage<ActionContext>();
  private readonly host: ActionHost;
  /** Per action, the stores its last run needed: locked up front next time. */
  private readonly lastStores = new Map<string, string[]>();

  constructor(host: ActionHost) {
    this.host = host;
  }

  /** Runs `def` for `user` until one run commits (or it fails); its value, and the stores it wrote. */
  async run(def: ActionDef, args: Json[], user: unknown, id: string, sender: Sender | undefined): Promise<{ value: Json; stores: HubStore[] }> {
    const need = new Set<HubStore>();
    for (const name of this.lastStores.get(def.name) ?? []) {
      const store = this.host.loaded(name);
      if (store) need.add(store);
    }
    for (let attempt = 0, conflicts = 0; ; attempt++) {
      const outcome = await withLocks(need, () => this.runHolding(def, args, user, id, need, sender));
      if ('value' in outcome) {
        this.lastStores.set(def.name, [...need].map((s) => s.name));
        return outcome;
      }
      if ('missing' in outcome) {
        const store = attempt < MAX_STORE_RETRIES ? await this.host.load(outcome.missing, { user }) : undefined;
        if (!store) throw new TwinError(ErrorCode.STORE, `The action ${JSON.stringify(def.name)} uses store ${JSON.stringify(outcome.missing)}, which does not exist.`);
        need.add(store);
      } else if (++conflicts > MAX_ACTION_RERUNS) {
        throw new TwinError(ErrorCode.UNAVAILABLE, `The action ${JSON.stringify(def.name)} kept losing the race to other servers; try again.`);
      }
    }
  }

  /** One run of an action, holding the locks of `held`. */
  private async runHolding(def: ActionDef, args: Json[], user: unknown, id: string, held: ReadonlySet<HubStore>, sender: Sender | undefined): Promise<{ value: Json; stores: HubStore[] } | { missing: string } | { rerun: true }> {
    const ctx: ActionContext = { user, id, batches: new Map(), held };
    const dropAll = () => {
      for (const replica of ctx.batches.keys()) replica.drop(id);
    };
    let value: unknown;
    try {
      value = await this.context.run(ctx, () => (def.run as (...a: Json[]) => unknown)(...args));
    } catch (err) {
      dropAll();
      if (err instanceof NeedsStore) return { missing: err.store };
      throw isTwinError(err) && err.expose ? err
        : new TwinError(ErrorCode.ACTION_FAILED, exposedMessage(err) ?? `The action ${JSON.stringify(def.name)} failed.`, { cause: err });
    }
    const parts: Part[] = [];
    for (const [replica, batch] of ctx.batches) {
      const store = this.host.loaded(replica.name);
      if (store && batch.ops.length) parts.push({ store, ops: batch.ops });
      else replica.drop(id);
    }
    try {
      for (const { store, ops } of parts) await check(store, ops, this.host.maxDepth);
      if (parts.length && !(await this.host.committer.commit(parts, id, sender, () => Promise.reject(new Rerun())))) {
        dropAll();
        return { value: null, stores: [] };
      }
    } catch (err) {
      dropAll();
      if (err instanceof Rerun) return { rerun: true };
      throw err;
    }
    let result: Json = null;
    try {
      result = value === undefined ? null : cloneJson(value);
    } catch {
      this.host.logger.warn(`result:${def.name}`, `The action ${def.name} returned a value that is not JSON; the caller gets null.`);
    }
    return { value: result, stores: parts.map((p) => p.store) };
  }
}

/**
 * Server code touched a shared store it does not hold: not loaded yet (outside an action: an
 * error for the caller), or, inside an action, not locked by this run (it runs again holding it).
 */
export class NeedsStore extends TwinError {
  readonly store: string;
  constructor(store: string, inAction: boolean) {
    super(ErrorCode.STORE, inAction ? `The action needs store ${JSON.stringify(store)}.`
      : `Store ${JSON.stringify(store)} is not loaded yet: await server.ready (or hub.load(${JSON.stringify(store)})) before using it outside an action.`);
    this.store = store;
  }
}

/** The message of an error an app marked as safe to show (`expose: true`), if it is one. */
function exposedMessage(err: unknown): string | undefined {
  return err instanceof Error && (err as { expose?: unknown }).expose === true ? err.message : undefined;
}
