// SPDX-License-Identifier: MIT
/**
 * @module elements/twin-show
 * `<twin-show>`: shows its content only while a store value is truthy (or equals a string).
 */
import type { Scope } from './internal.js';
import { define, parseKey, TwinElement, valueAt, valueText, watchValue } from './internal.js';

/**
 * Shows its content while the value at `key` is truthy, or, with `equals="x"`, while the
 * value's text is exactly `x`; `not` inverts either test. Hidden, it carries the `hidden`
 * attribute (restyle `twin-show[hidden]` for transitions). The server renders the same test.
 *
 * ```html
 * <twin-show store="room" key="messages.0"><p>There are messages.</p></twin-show>
 * <twin-show store="ui" key="theme" equals="dark">🌙</twin-show>
 * <twin-show store="room" key="open" not>Closed.</twin-show>
 * ```
 *
 * @slot - the content shown
 */
export class TwinShowElement extends TwinElement {
  static override readonly observedAttributes = ['store', 'key', 'not', 'equals'];

  protected bind(scope: Scope): (() => void) | void {
    const path = parseKey(this.getAttribute('key'));
    const equals = this.getAttribute('equals');
    const invert = this.hasAttribute('not');
    return watchValue(() => {
      const value = valueAt(scope.value(), path);
      const shown = equals === null ? Boolean(value) : valueText(value) === equals;
      return shown !== invert;
    }, (shown) => this.toggleAttribute('hidden', !shown));
  }
}

define('twin-show', TwinShowElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-show': TwinShowElement;
  }
}
