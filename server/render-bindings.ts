// SPDX-License-Identifier: MIT
/**
 * @module render-bindings
 * How the server renders one `<twin-bind>` or `<twin-show>` with its value: text, an
 * attribute or class of the bound element, a form control's current value, shown or hidden.
 * Each rule mirrors the browser's element (`elements/twin-bind.ts`, `elements/twin-show.ts`),
 * and what a binding may write is decided by the same module, `src/binding-policy.ts`, so a
 * page renders what it hydrates to. The page walk that calls these is `render-html.ts`.
 */
import { unsafeName, unsafeUrl } from '../src/binding-policy.js';
import { parsePath, valueText } from '../src/json.js';
import type { TwinError } from '../src/errors.js';
import type { Json } from '../src/json.js';
import type { Element } from './html-tree.js';
import {
  ASCII_WHITESPACE, descendants, firstElementChild, getAttr, isHtml, removeAttr, replaceWithText, setAttr, textContent,
} from './html-tree.js';

/** Form controls a `<twin-bind>` binds two-way when no attr/toggle/prop is given. */
const TWO_WAY_TAGS: ReadonlySet<string> = new Set(['input', 'textarea', 'select']);
/**
 * Characters a DOM attribute name may not hold (DOM "valid attribute local name"), plus quotes
 * and `<`: parse5 writes attribute names unescaped, so such a name would break the markup.
 */
const INVALID_ATTR_NAME = /[\s\0/>="'<]/;

/**
 * Renders a `<twin-bind>` whose key has `value` (undefined: the key leads nowhere);
 * `onUnsafe` hears each binding the binding policy refused.
 */
export function renderBind(el: Element, value: Json | undefined, onUnsafe: (error: TwinError) => void): void {
  const target = firstElementChild(el);
  const attr = getAttr(el, 'attr');
  if (attr !== undefined) {
    if (target) bindAttribute(target, attr, value, getAttr(el, 'allow-unsafe'), onUnsafe);
    return;
  }
  const toggle = getAttr(el, 'toggle');
  if (toggle !== undefined) {
    if (target) toggleClass(target, toggle, Boolean(value));
    return;
  }
  // A property lives only on the live element object; there is nothing to write into HTML.
  if (getAttr(el, 'prop') !== undefined) return;
  if (target && isHtml(target) && TWO_WAY_TAGS.has(target.tagName)) {
    renderControl(target, value);
    return;
  }
  replaceWithText(el, valueText(value));
}

/** Renders a `<twin-show>`: `hidden` unless the value is truthy (or equals `equals`), inverted by `not`. */
export function renderShow(el: Element, value: Json | undefined): void {
  const equals = getAttr(el, 'equals');
  let shown = equals === undefined ? Boolean(value) : valueText(value) === equals;
  if (getAttr(el, 'not') !== undefined) shown = !shown;
  if (shown) removeAttr(el, 'hidden');
  else setAttr(el, 'hidden', '');
}

/** The value at a dotted key; `undefined` when the path leads nowhere. Only own properties count. */
export function valueAt(root: Json, key: string | undefined): Json | undefined {
  let value: Json | undefined = root;
  for (const part of parsePath(key ?? '')) {
    if (value === null || typeof value !== 'object') return undefined;
    if (Array.isArray(value)) {
      if (typeof part !== 'number') return undefined;
      value = value[part];
    } else {
      const name = String(part);
      if (!Object.hasOwn(value, name)) return undefined;
      value = value[name];
    }
  }
  return value;
}

/**
 * `attr` binding: null, false and a missing value remove the attribute, true leaves it empty.
 * A name the binding policy refuses is left alone (the browser leaves it too); a refused value
 * removes the attribute, as the browser does.
 */
function bindAttribute(target: Element, name: string, value: Json | undefined, allow: string | undefined, onUnsafe: (error: TwinError) => void): void {
  // setAttribute would throw in the browser; leave the element unrendered, as it will be there.
  if (name === '' || INVALID_ATTR_NAME.test(name)) return;
  const refused = unsafeName(target.tagName, name, allow);
  if (refused) return onUnsafe(refused);
  // The browser's setAttribute lowercases names on HTML elements only (SVG keeps `viewBox`).
  const attrName = isHtml(target) ? name.toLowerCase() : name;
  const text = value === null || value === undefined || value === false ? undefined : value === true ? '' : valueText(value);
  const unsafe = text === undefined ? undefined : unsafeUrl(name, text, allow);
  if (unsafe) onUnsafe(unsafe);
  if (text === undefined || unsafe) removeAttr(target, attrName);
  else setAttr(target, attrName, text);
}

/** Adds or removes one class token, keeping the others (as `classList.toggle(token, on)`). */
function toggleClass(target: Element, token: string, on: boolean): void {
  if (token === '' || ASCII_WHITESPACE.test(token)) return;
  const current = getAttr(target, 'class');
  // classList.remove on an element without a class attribute does not create one.
  if (current === undefined && !on) return;
  const tokens = new Set((current ?? '').split(ASCII_WHITESPACE).filter((t) => t !== ''));
  if (on) tokens.add(token);
  else tokens.delete(token);
  setAttr(target, 'class', [...tokens].join(' '));
}

/** Two-way binding: the control shows the current value, as a user would see after hydration. */
function renderControl(control: Element, value: Json | undefined): void {
  switch (control.tagName) {
    case 'input': {
      const type = getAttr(control, 'type')?.toLowerCase();
      // A checkbox is checked by truthiness; a radio when its own value is the store's (its
      // value attribute names the choice and must stay); any other input shows the value.
      const checked = type === 'checkbox' ? Boolean(value) : type === 'radio' ? (getAttr(control, 'value') ?? 'on') === valueText(value) : undefined;
      if (checked === undefined) setAttr(control, 'value', valueText(value));
      else if (checked) setAttr(control, 'checked', '');
      else removeAttr(control, 'checked');
      return;
    }
    case 'textarea': {
      const text = valueText(value);
      // The parser drops one newline right after <textarea>, and parse5 does not add it back.
      replaceWithText(control, text.startsWith('\n') ? `\n${text}` : text);
      return;
    }
    case 'select': {
      const wanted = valueText(value);
      let matched = false;
      for (const option of descendants(control, 'option')) {
        const isMatch: boolean = !matched && optionValue(option) === wanted;
        if (isMatch) setAttr(option, 'selected', '');
        else removeAttr(option, 'selected');
        matched ||= isMatch;
      }
      return;
    }
  }
}

/** An option's value: its `value` attribute, else its text with whitespace stripped and collapsed (HTML `option.value`). */
function optionValue(option: Element): string {
  const attr = getAttr(option, 'value');
  if (attr !== undefined) return attr;
  return textContent(option).split(ASCII_WHITESPACE).filter((t) => t !== '').join(' ');
}
