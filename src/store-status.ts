// SPDX-License-Identifier: MIT
/**
 * @module store-status
 * What `status(store)` reads: a type only, shared by the replicas, the runtimes that report it
 * and the public API.
 */

/** The state of a store as its holder sees it; read inside a signal consumer, it is tracked. */
export interface StoreStatus {
  /** 'local' for a local store; for a shared one, the state of the connection to the server. */
  readonly connection: 'local' | 'connecting' | 'online' | 'offline' | 'refused';
  /** The confirmed version (0 before the server has been heard). */
  readonly v: number;
  /** Batches written here and not yet confirmed. */
  readonly pending: number;
  /** The last refusal of a write to this store, with its code and reason. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
}
