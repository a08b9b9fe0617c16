// SPDX-License-Identifier: MIT
/**
 * @module elements/twin-error
 * `<twin-error>`: the reason of the last write or call the server refused.
 */
import { pageClient, status, store } from '../src/index.js';
import type { RejectDetail } from '../src/index.js';
import { define, fillParams, setText, TwinElement, watchValue } from './internal.js';

/**
 * Shows the message of the last refused write or action call, with its code in the `code`
 * attribute; hidden (the `hidden` attribute) while there is none. A click dismisses it.
 *
 * With `store="name"` it shows only refusals of writes to that store (including one refused
 * before this element was connected, from `status(store).error`); without, every refusal the
 * page hears, calls included. The write itself is already rolled back when it shows.
 *
 * ```html
 * <twin-error store="chat_room"></twin-error>
 * <twin-error></twin-error>
 * ```
 *
 * @slot - the message (replaced on each refusal)
 */
export class TwinErrorElement extends TwinElement {
  protected override readonly scoped = false;
  static override readonly observedAttributes = ['store'];

  protected bind(): () => void {
    const raw = this.getAttribute('store');
    const name = raw ? fillParams(raw) : undefined;
    const client = pageClient();
    this.dismiss();
    const onReject = (event: Event) => {
      const detail = (event as CustomEvent<RejectDetail>).detail;
      if (!raw || (name !== undefined && detail.store === name)) this.__show(detail.code, detail.message);
    };
    const onClick = () => this.dismiss();
    client.addEventListener('reject', onReject);
    this.addEventListener('click', onClick);
    const stop = name === undefined ? undefined : watchValue(() => status(store(name)).error, (error) => {
      if (error) this.__show(error.code, error.message);
    }, (a, b) => a?.code === b?.code && a?.message === b?.message);
    return () => {
      stop?.();
      client.removeEventListener('reject', onReject);
      this.removeEventListener('click', onClick);
    };
  }

  /** Shows a refusal. */
  private __show(code: string, message: string): void {
    setText(this, message);
    this.setAttribute('code', code);
    this.removeAttribute('hidden');
  }

  /** Hides the current message, if any. */
  dismiss(): void {
    setText(this, '');
    this.removeAttribute('code');
    this.setAttribute('hidden', '');
  }
}

define('twin-error', TwinErrorElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-error': TwinErrorElement;
  }
}
