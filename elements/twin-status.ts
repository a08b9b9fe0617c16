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
 * has not yet needed it (a page with local stores only, say):
 *
 * ```html
 * <style>twin-status[state=offline], twin-status[state=refused] { color: crimson }</style>
 * <twin-status></twin-status>
 * ```
 */
export class TwinStatusElement extends TwinElement {
  protected override readonly scoped = false;
  static override readonly observedAttributes: readonly string[] = [];

  protected bind(): () => void {
    const client = pageClient();
    // The connection opens when first needed; a page that shows its state needs it now.
    client.wake();
    return watchValue(() => client.state, (state) => {
      setText(this, state);
      if (this.getAttribute('state') !== state) this.setAttribute('state', state);
    });
  }
}

define('twin-status', TwinStatusElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-status': TwinStatusElement;
  }
}
