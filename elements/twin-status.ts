// SPDX-License-Identifier: MIT
/**
 * @module elements/twin-status
 * `<twin-status>`: the state of the page's connection to the server.
 */
import { pageClient } from '../src/index.js';
import { define, setText, TwinElement, watchValue } from './internal.js';

/**
 * Shows the state of the page's connection — `connecting`, `online`, `offline`, or `refused`
 * when the server will not take this page (its Origin, or `auth`; `<twin-error>` says why) —
 * as its text and as its `state` attribute, for styling. It opens the connection if the page
 * has not yet needed it (a page with local stores only, say). While writes or action calls
 * wait for the server's answer (sent, or queued offline), its `pending` attribute says how many:
 *
 * ```html
 * <style>
 *   twin-status[state=offline], twin-status[state=refused] { color: crimson }
 *   twin-status[pending]:not([state=online])::after { content: " · " attr(pending) " queued" }
 * </style>
 * <twin-status></twin-status>
 * ```
 *
 * @attr state - set by the element: `connecting`, `online`, `offline` or `refused`
 * @attr pending - set by the element: the number of writes and calls waiting for the server, absent when none
 */
export class TwinStatusElement extends TwinElement {
  protected override readonly scoped = false;
  static override readonly observedAttributes: readonly string[] = [];

  protected bind(): () => void {
    const client = pageClient();
    // The connection opens when first needed; a page that shows its state needs it now.
    client.wake();
    const stopState = watchValue(() => client.state, (state) => {
      setText(this, state);
      if (this.getAttribute('state') !== state) this.setAttribute('state', state);
    });
    const stopPending = watchValue(() => client.pending, (count) => {
      if (count) this.setAttribute('pending', String(count));
      else this.removeAttribute('pending');
    });
    return () => {
      stopState();
      stopPending();
    };
  }
}

define('twin-status', TwinStatusElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-status': TwinStatusElement;
  }
}
