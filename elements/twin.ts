// SPDX-License-Identifier: MIT
/**
 * @packageDocumentation
 * The entry of `dist/twin.js` (and `dist/twin.min.js`, the CDN file): the twin-state API a
 * page uses, plus every element defined. A page with no script of its own needs only
 *
 * ```html
 * <script type="module" src="/_twin/twin.js"></script>
 * ```
 *
 * and connects by itself to the server that served the script; from a CDN, call
 * `connect('wss://host/_twin/ws')`. The protocol readers and server-side helpers of the core
 * are left out: a page does not need them.
 */
export {
  call, caller, canRedo, canUndo, Client, computed, connect, createClient, defineApp, effect, ErrorCode, increment, isTwinError,
  pageClient, presence, redo, setPresence, settled, Signal, signalOf, snapshot, status, store, subscribe, TwinError, undo, unstable_watchers,
} from '../src/index.js';
export type {
  Action, App, Change, ClientOptions, ConnectionState, Hydration, Json, LocalOptions, Path, Peer, RejectDetail,
  SharedOptions, StoreStatus, Unsubscribe,
} from '../src/index.js';
export * from './index.js';
