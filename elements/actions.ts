// SPDX-License-Identifier: MIT
/**
 * @module elements/actions
 * The `twin-action` attribute: any element calls a server action when clicked, a form when
 * submitted. One listener on the document serves every such element, present or future.
 */
import { call, ErrorCode, isTwinError } from '../src/index.js';
import type { Json } from '../src/index.js';
import { DEV_MODE, warn } from './internal.js';

const ACTION = 'twin-action';
const ARGS = 'twin-args';
/** Installed once per page, even with two copies of the bundle. */
const INSTALLED = Symbol.for('twin-state.actions');

/**
 * Fired (bubbling, composed) on an element with `twin-action` when its call has settled:
 * `twin-done` with the action's `result`, or `twin-fail` with the `error` (a coded
 * `TwinError`; `<twin-error>` shows it too).
 */
export class TwinActionEvent extends Event {
  constructor(
    type: 'twin-done' | 'twin-fail',
    readonly action: string,
    readonly args: readonly Json[],
    readonly result: Json | undefined,
    readonly error: unknown,
  ) {
    super(type, { bubbles: true, composed: true });
  }
}

const inFlight = new WeakMap<Element, number>();

/**
 * Calls the action named by `el`'s `twin-action` with `args`. While it is in flight, `el`
 * has `aria-busy="true"`.
 */
export function runAction(el: Element, args: Json[]): Promise<void> {
  const action = el.getAttribute(ACTION) ?? '';
  setBusy(el, 1);
  return call(action, ...args).then(
    (result) => settle(el, new TwinActionEvent('twin-done', action, args, result, undefined)),
    (error: unknown) => {
      if (DEV_MODE && isTwinError(error) && error.code === ErrorCode.ACTION) {
        warn('action', `twin-action=${JSON.stringify(action)}: the server has no action of that name; check its spelling, or define it with app.action().`);
      }
      settle(el, new TwinActionEvent('twin-fail', action, args, undefined, error));
    },
  );
}

function settle(el: Element, event: TwinActionEvent): void {
  setBusy(el, -1);
  el.dispatchEvent(event);
}

function setBusy(el: Element, delta: number): void {
  const count = (inFlight.get(el) ?? 0) + delta;
  inFlight.set(el, count);
  if (count > 0) el.setAttribute('aria-busy', 'true');
  else el.removeAttribute('aria-busy');
}

/** The element with `twin-action` the event happened in, through shadow roots. */
function actionTarget(event: Event): Element | undefined {
  for (const target of event.composedPath()) {
    if (target instanceof Element && target.hasAttribute(ACTION)) return target;
  }
  return undefined;
}

/** Shadow roots listened to for submits: a `submit` event does not leave its shadow root. */
const shadowRoots = new WeakSet<ShadowRoot>();

/**
 * Listens for submits in the shadow root `el` is in, if any. Called for a `twin-action` form
 * the user clicks in or moves the focus into, before it can be submitted. (A script's
 * `requestSubmit()` on such a form in a shadow root no one has touched goes unseen.)
 */
function reachShadowRoot(el: Element | undefined): void {
  const root = el?.getRootNode();
  if (root instanceof ShadowRoot && !shadowRoots.has(root)) {
    shadowRoots.add(root);
    root.addEventListener('submit', onSubmit as EventListener);
  }
}

function onClick(event: MouseEvent): void {
  const el = actionTarget(event);
  if (!el) return;
  // A form calls its action on submit instead.
  if (el instanceof HTMLFormElement) return reachShadowRoot(el);
  let args: Json[] = [];
  const raw = el.getAttribute(ARGS);
  if (raw !== null) {
    try {
      const parsed = JSON.parse(raw) as Json;
      args = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      if (DEV_MODE) warn('args', `twin-args=${JSON.stringify(raw)} is not JSON: write a JSON array, like twin-args='[1, "a"]'.`);
      return;
    }
  }
  // The action is what the click does: no navigation, no form submission or reset besides (a
  // checkbox or radio in a form still toggles).
  if (el instanceof HTMLAnchorElement || ((el instanceof HTMLButtonElement || el instanceof HTMLInputElement) && el.form && /^(submit|image|reset)$/.test(el.type))) event.preventDefault();
  void runAction(el, args);
}

function onSubmit(event: SubmitEvent): void {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute(ACTION)) return;
  event.preventDefault();
  // Named fields, in document order, as strings (a file as its name).
  const args = [...new FormData(form, event.submitter).values()].map((value) => (typeof value === 'string' ? value : value.name));
  form.reset();
  void runAction(form, args);
}

const globals = globalThis as { [INSTALLED]?: true };
if (globalThis.document && !globals[INSTALLED]) {
  globals[INSTALLED] = true;
  document.addEventListener('click', onClick);
  document.addEventListener('submit', onSubmit);
  document.addEventListener('focusin', (event) => reachShadowRoot(actionTarget(event)));
}

declare global {
  interface HTMLElementEventMap {
    'twin-done': TwinActionEvent;
    'twin-fail': TwinActionEvent;
  }
}
