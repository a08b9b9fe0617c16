// SPDX-License-Identifier: MIT
/**
 * @module elements/undo
 * The `twin-undo` and `twin-redo` attributes: a button that undoes (redoes) this page's own
 * last write to a shared store, `disabled` while there is nothing to undo (redo).
 *
 * ```html
 * <button twin-undo store="game_state">Undo</button>
 * <button twin-redo store="game_state">Redo</button>
 * <twin-error store="game_state"></twin-error>
 * ```
 *
 * One click listener on the document serves every such element, as for `twin-action`. The
 * `disabled` state needs a watcher per element: a MutationObserver on the document finds them
 * as they come and go (elements in shadow roots still undo on click, but are not disabled:
 * Lit templates read `canUndo(store)` themselves). An undo refused — here at once, or by the
 * server — is announced like any refused write: `<twin-error>` shows it.
 */
import { canRedo, canUndo, ErrorCode, isTwinError, redo, store, undo } from '../src/index.js';
import { DEV_MODE, fillParams, reportError, warn, watchValue } from './internal.js';

const UNDO = 'twin-undo';
const REDO = 'twin-redo';
const SELECTOR = `[${UNDO}],[${REDO}]`;
/** Installed once per page, even with two copies of the bundle. */
const INSTALLED = Symbol.for('twin-state.undo');

/** The element's store, or undefined (warned) when it names none. */
function storeOf(el: Element): object | undefined {
  const name = fillParams(el.getAttribute('store') ?? '');
  if (name) return store(name);
  if (DEV_MODE) warn('undo-store', `<${el.localName} ${el.hasAttribute(REDO) ? REDO : UNDO}> needs a store="name" attribute: the shared store whose writes it undoes.`);
  return undefined;
}

/** Elements watched now, with the function that stops each one's watcher. */
const watched = new Map<Element, () => void>();

function watch(el: Element): void {
  watched.get(el)?.();
  const target = storeOf(el);
  const can = el.hasAttribute(REDO) ? canRedo : canUndo;
  watched.set(el, watchValue(() => !!target && can(target), (ok) => el.toggleAttribute('disabled', !ok)));
}

function scan(records: MutationRecord[] = []): void {
  for (const [el, stop] of watched) {
    if (!el.isConnected || !el.matches(SELECTOR)) {
      stop();
      watched.delete(el);
    }
  }
  // A changed store (or kind) starts its watcher over.
  for (const record of records) if (record.type === 'attributes' && watched.has(record.target as Element)) watch(record.target as Element);
  for (const el of document.querySelectorAll(SELECTOR)) if (!watched.has(el)) watch(el);
}

function onClick(event: MouseEvent): void {
  for (const el of event.composedPath()) {
    if (!(el instanceof Element) || !el.matches(SELECTOR)) continue;
    const target = storeOf(el);
    if (!target) return;
    try {
      (el.hasAttribute(REDO) ? redo : undo)(target);
    } catch (err) {
      // Nothing to undo: a click that raced the `disabled` state, or a non-button element.
      if (isTwinError(err) && err.code === ErrorCode.HISTORY) warn('undo', err.message);
      else reportError(err, fillParams(el.getAttribute('store')!));
    }
    return;
  }
}

const globals = globalThis as { [INSTALLED]?: true };
if (globalThis.document && !globals[INSTALLED]) {
  globals[INSTALLED] = true;
  document.addEventListener('click', onClick);
  new MutationObserver(scan).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['store', UNDO, REDO] });
  scan();
}
