// SPDX-License-Identifier: MIT
/**
 * @module elements/twin-bind
 * `<twin-bind>`: one value of a store, shown as text, as an attribute, class or property of
 * the element it wraps, or in a form control that writes back what the user enters.
 */
import { hasPendingWrites } from '../src/index.js';
import type { Json } from '../src/index.js';
import { unsafeName, unsafeUrl } from '../src/binding-policy.js';
import type { Path, Scope } from './internal.js';
import { define, DEV_MODE, parseKey, refuse, reportError, setText, TwinElement, untracked, valueAt, valueText, warn, watchValue } from './internal.js';

/** Form controls bound two-way. */
type Control = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

/**
 * Binds one value of a store (`store` + dotted `key`) into the page.
 *
 * - By default its text is the value's text: nothing for null or a missing key, a string as
 *   it is, a number or boolean as `String()` gives it, an object or array as JSON.
 * - `attr="name"` sets that attribute of its first element child (removed for null, missing
 *   or false, empty for true); `toggle="cls"` adds that class while the value is truthy;
 *   `prop="name"` sets that property (a Lit element's reactive property, for instance).
 * - Store data is user input, so `attr` and `prop` never write what can run script
 *   (`src/binding-policy.ts`): no `on*`, `srcdoc` or `style` attribute, no `innerHTML`,
 *   `outerHTML`, `srcdoc`, `style` or `on*` property, nothing of a `<script>` or `<base>`, and
 *   in URL-valued names (`href`, `src`, `action`, `xlink:href`, `srcset`...) only `http:`,
 *   `https:`, `mailto:` and relative URLs. A refused name leaves the element alone; a refused
 *   URL removes the attribute (a property keeps its previous value). Each refusal is a
 *   `TWIN_ERR_UNSAFE` error in the console. `allow-unsafe="style"` (names, space-separated)
 *   lifts the checks for the names listed, for data the app itself vouches for.
 * - Wrapping an `<input>`, `<textarea>` or `<select>` (with none of those attributes), it binds
 *   two-way: the control shows the value and user input is written back to the store, on
 *   `input` for text fields and on `change` for checkboxes, radio buttons and selects. A
 *   checkbox writes a boolean; a number field, or any field whose value is a number, writes a
 *   number (and nothing while its text is not one).
 *
 * While a write made here to its value waits for the server's confirmation (sent, or queued
 * while offline), it carries a `pending` attribute, for styling: `twin-bind[pending]`.
 *
 * Without `store` the nearest `<twin-list>` item (keys are relative to it; `key="."` is the
 * item itself) or ancestor with a `store` attribute gives the store. `{param}` in a store name
 * is filled from the page's query string.
 *
 * ```html
 * <twin-bind store="game" key="score"></twin-bind>
 * <twin-bind store="game" key="leader" attr="title"><span>🏆</span></twin-bind>
 * <twin-bind store="room/{room}" key="topic"><input></twin-bind>
 * <twin-bind store="game" key="score" prop="score"><score-board></score-board></twin-bind>
 * ```
 *
 * @attr store - the store's name (`{param}` filled from the page's query); else the list item or ancestor's
 * @attr key - the dotted key of the value (`.` or empty: the whole scope)
 * @attr attr - bind the value to this attribute of the first element child
 * @attr toggle - add this class to the first element child while the value is truthy
 * @attr prop - bind the value to this property of the first element child
 * @attr allow-unsafe - names (space-separated) the binding policy lets through: `style`, `href` with any scheme...
 * @attr pending - set by the element while a write to its value made here is not yet confirmed (sent, or queued offline)
 * @slot - the bound element (for attr, toggle, prop and two-way bindings), or the text
 */
export class TwinBindElement extends TwinElement {
  static override readonly observedAttributes = ['store', 'key', 'attr', 'toggle', 'prop', 'allow-unsafe'];

  protected bind(scope: Scope): () => void {
    const path = parseKey(this.getAttribute('key'));
    // While a write to its value waits for the server (sent, or queued offline): for styling.
    const stopPending = watchValue(() => {
      const at = scope.value();
      try {
        return typeof at === 'object' && at !== null && hasPendingWrites(at, path);
      } catch {
        return false; // (a scope that is not a store's: nothing of it is written)
      }
    }, (on) => this.toggleAttribute('pending', on));
    const stopValue = this.bindValue(scope, path);
    return () => {
      stopPending();
      stopValue?.();
    };
  }

  private bindValue(scope: Scope, path: Path): (() => void) | void {
    const read = () => valueAt(scope.value(), path);
    const target = () => this.firstElementChild;
    const allow = this.getAttribute('allow-unsafe');

    const attr = this.getAttribute('attr');
    if (attr !== null) {
      return watchValue(() => attrText(read()), (text) => {
        const el = target();
        if (!el) return;
        const refused = unsafeName(el.localName, attr, allow);
        if (refused) return refuse(refused);
        const unsafe = unsafeUrl(attr, text, allow);
        if (unsafe) refuse(unsafe);
        try {
          if (text === null || unsafe) el.removeAttribute(attr);
          else if (el.getAttribute(attr) !== text) el.setAttribute(attr, text);
        } catch {
          if (DEV_MODE) warn('attr', `<twin-bind attr=${JSON.stringify(attr)}>: that is not a valid attribute name.`);
        }
      });
    }
    const toggle = this.getAttribute('toggle');
    if (toggle !== null) {
      return watchValue(() => Boolean(read()), (on) => {
        try {
          target()?.classList.toggle(toggle, on);
        } catch {
          if (DEV_MODE) warn('toggle', `<twin-bind toggle=${JSON.stringify(toggle)}>: that is not a valid class name.`);
        }
      });
    }
    const prop = this.getAttribute('prop');
    if (prop !== null) return bindProperty(read, target, prop, allow);

    const first = target();
    if (first?.matches('input,textarea,select')) return bindControl(first as Control, scope, path, read);
    return watchValue(() => valueText(read()), (text) => setText(this, text));
  }
}

/** The attribute value of a binding: `null` removes the attribute. */
function attrText(value: unknown): string | null {
  if (value === null || value === undefined || value === false) return null;
  return value === true ? '' : valueText(value);
}

/**
 * A property binding passes the value itself (a live store object for objects) and tells the
 * element when something inside that object changed, since its identity stays the same.
 */
function bindProperty(read: () => unknown, target: () => Element | null, prop: string, allow: string | null): () => void {
  type Seen = { value: unknown; json: string | undefined };
  return watchValue<Seen>(() => {
    const value = read();
    return { value, json: typeof value === 'object' && value !== null ? JSON.stringify(value) : undefined };
  }, ({ value }) => {
    const el = target() as (Element & Record<string, unknown> & { requestUpdate?: () => void }) | null;
    if (!el) return;
    const refused = unsafeName(el.localName, prop, allow) ?? unsafeUrl(prop, value, allow);
    if (refused) return refuse(refused);
    if (el[prop] !== value) el[prop] = value;
    else el.requestUpdate?.();
  }, (a, b) => Object.is(a.value, b.value) && a.json === b.json);
}

/** Binds a form control both ways. */
function bindControl(control: Control, scope: Scope, path: Path, read: () => unknown): () => void {
  // The user changes the control behind the binding's back: show every change of the value,
  // even one back to the value last shown (a write undone in the same turn, a rollback).
  const stop = watchValue(() => {
    const value = read();
    return typeof value === 'object' && value !== null ? valueText(value) : value;
  }, (value) => show(control, value), () => false);
  const onInput = () => {
    const next = fromControl(control, untracked(read));
    if (next === undefined) return;
    try {
      scope.write(path, next);
    } catch (err) {
      reportError(err, scope.store);
      show(control, untracked(read));
    }
  };
  // Checkboxes, radio buttons and selects change with a click (`change`); text is typed (`input`).
  const type = /^(checkbox|radio|select)/.test(control.type) ? 'change' : 'input';
  control.addEventListener(type, onInput);
  return () => {
    stop();
    control.removeEventListener(type, onInput);
  };
}

/** Shows `value` in `control`, leaving it alone when it already stands for that value ("1.50" for 1.5). */
function show(control: Control, value: unknown): void {
  const input = control as HTMLInputElement;
  if (input.type === 'checkbox' || input.type === 'radio') {
    const on = input.type === 'checkbox' ? Boolean(value) : input.value === valueText(value);
    if (input.checked !== on) input.checked = on;
    return;
  }
  if (Object.is(fromControl(control, value), value)) return;
  const text = valueText(value);
  if (control.value !== text) control.value = text;
}

/**
 * The value a control stands for, given the store's `current` value: a boolean for a
 * checkbox, a number for a number field or when the store holds a number, else the text;
 * `undefined` when there is nothing to write (an unchecked radio, text that is not a number).
 * A control's `type` tells them apart (`select-one`, `textarea` for the other controls).
 */
function fromControl(control: Control, current: unknown): Json | undefined {
  const { type, value } = control;
  if (type === 'checkbox') return (control as HTMLInputElement).checked;
  if (type === 'radio' && !(control as HTMLInputElement).checked) return undefined;
  if (typeof current !== 'number' && type !== 'number' && type !== 'range') return value;
  const n = value.trim() === '' ? NaN : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

define('twin-bind', TwinBindElement);

declare global {
  interface HTMLElementTagNameMap {
    'twin-bind': TwinBindElement;
  }
}
