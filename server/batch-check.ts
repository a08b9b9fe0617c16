// SPDX-License-Identifier: MIT
/**
 * @module batch-check
 * Whether a batch may become a store's next version: its ops apply to the state it is made on
 * (paths, types, depth) and the result satisfies the store's schema. Nothing is changed; the
 * refusal is coded (TWIN_ERR_SCHEMA names the schema's first issue).
 */
import { ErrorCode, TwinError } from '../src/errors.js';
import { formatPath } from '../src/json.js';
import type { Json, JsonObject } from '../src/json.js';
import { applyOps, applyOpsInPlace } from '../src/ops.js';
import type { Op } from '../src/ops.js';
import type { StandardSchemaV1 } from '../src/standard-schema.js';
import type { HubStore } from './hub-store.js';

/**
 * Checks that `ops` apply to the store's committed state and that the result satisfies its
 * schema, changing nothing; throws the coded reason otherwise (TWIN_ERR_SCHEMA naming the
 * first issue). Without a schema the ops are tried in place and undone, at the cost of the ops
 * alone; a schema reads a whole state anyway, so it gets a copy-on-write draft.
 */
export async function check(store: HubStore, ops: readonly Op[], maxDepth: number | undefined): Promise<void> {
  const schema = store.def.options.schema;
  if (!schema) {
    applyOpsInPlace(store.replica.confirmed as JsonObject, ops, maxDepth)();
    return;
  }
  reportIssues(store, await schema['~standard'].validate(applyOps(store.replica.confirmed, ops, maxDepth)));
}

/** Throws TWIN_ERR_SCHEMA naming a schema's first issue, if it found any. */
function reportIssues(store: HubStore, result: StandardSchemaV1.Result<unknown>): void {
  if (!result.issues) return;
  const issue = result.issues[0]!;
  const path = (issue.path ?? []).map((p) => (typeof p === 'object' ? p.key : p)) as (string | number)[];
  throw new TwinError(ErrorCode.SCHEMA, `The write breaks the schema of store ${JSON.stringify(store.name)} at ${formatPath(path)}: ${issue.message}`);
}

/**
 * Checks `ops` of a store without a schema on top of `before` (its batches on their way to
 * storage, in order, checked already): applies them all in place on the committed state and
 * undoes them all before it returns, synchronously, so nothing else ever sees them. Costs what
 * the ops touch (a push to a long list stays cheap), not the size of the store.
 */
export function checkInPlace(store: HubStore, before: readonly (readonly Op[])[], ops: readonly Op[], maxDepth: number | undefined): void {
  const root = store.replica.confirmed as JsonObject;
  const undos: (() => void)[] = [];
  try {
    for (const batch of before) undos.push(applyOpsInPlace(root, batch, maxDepth));
    undos.push(applyOpsInPlace(root, ops, maxDepth));
  } finally {
    while (undos.length) undos.pop()!();
  }
}

/**
 * Checks `ops` as {@link check} does, on `base` (the state after the store's batches on their
 * way to storage), and returns the state they lead to; `base` is not changed.
 */
export async function checked(store: HubStore, base: Json, ops: readonly Op[], maxDepth: number | undefined): Promise<Json> {
  const state = applyOps(base, ops, maxDepth);
  const schema = store.def.options.schema;
  if (schema) reportIssues(store, await schema['~standard'].validate(state));
  return state;
}
