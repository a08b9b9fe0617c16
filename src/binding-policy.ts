// SPDX-License-Identifier: MIT
/**
 * @module binding-policy
 * What a `<twin-bind>` may write into the page, decided in one place for the server's
 * rendering (`server/render-bindings.ts`) and the browser's element (`elements/twin-bind.ts`),
 * so a page never renders one way and hydrates another.
 *
 * Store data is user input (by default any client may write a shared store), so a binding
 * must not be able to run script with it:
 * - No event handler (`on*`), `srcdoc` or `style`, as an attribute or a property, and no
 *   `innerHTML` or `outerHTML` property; nothing at all of a `<script>` or `<base>` element, nor
 *   of an SVG `<animate>`/`<set>` (which can set another attribute, an `href`, to any value).
 * - A URL-valued attribute or property (`href`, `src`, `action`, `formaction`, `data`,
 *   `poster`, `cite`, `background`, `srcset`, and `xlink:href` or any other prefix) takes only
 *   `http:`, `https:`, `mailto:` and relative URLs. The scheme is the one the URL parser finds
 *   (`URL`, the same WHATWG parser in Node and in browsers), which strips what it strips (tabs
 *   and newlines anywhere, C0 controls and spaces in front: `" java\tscript:"` is
 *   `javascript:`); a value it cannot parse is refused too. Entities are no trick: a value set
 *   by `setAttribute`, or serialized by the server, is never decoded. Each candidate of a
 *   `srcset` is checked.
 *
 * A page that means it lists the names in the binding's `allow-unsafe` attribute
 * (`<twin-bind attr="style" allow-unsafe="style">`): those names skip every check here.
 */
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { DEV_MODE } from './dev.js';

/** Names that run script, parse HTML or restyle the page (lowercased attribute or property names). */
const SCRIPT_NAME = /^(on|(srcdoc|style|innerhtml|outerhtml)$)/;
/** Elements whose every attribute or property is script, or can make one. */
const SCRIPT_TAG = /^(script|base|animate|set)$/i;
/** Names whose value is a URL (lowercased, any namespace prefix); group 2 is the local name. */
const URL_NAME = /^(.+:)?(href|src|action|formaction|data|poster|cite|background|srcset)$/;
/** The schemes bound; relative URLs resolve against an http base, so they pass too. */
const SAFE_PROTOCOL = /^(https?|mailto):$/;
const LIST = /[\s,]+/;

/**
 * Why a binding to `name` of a `tag` element may not exist at all, whatever its value: a
 * coded `TWIN_ERR_UNSAFE` error, or undefined when it may.
 *
 * @param tag The bound element's local name (`a`, `img`, `my-card`).
 * @param name The attribute or property name, as the page wrote it.
 * @param allow The binding's `allow-unsafe` attribute (names that skip the checks), if any.
 */
export function unsafeName(tag: string, name: string, allow?: string | null): TwinError | undefined {
  if (allowed(name, allow) || !(SCRIPT_TAG.test(tag) || SCRIPT_NAME.test(name.toLowerCase()))) return undefined;
  return twinError(ErrorCode.UNSAFE, DEV_MODE && `<twin-bind> refused to bind ${name} of a <${tag}> element: store data there could run script or restyle the page (allow-unsafe="${name}" lifts this, for data the app vouches for).`, `<${tag}> ${name}`);
}

/**
 * Why `value` may not be written to `name` (a binding {@link unsafeName} allowed): a coded
 * `TWIN_ERR_UNSAFE` error for a URL with another scheme than `http:`, `https:` or `mailto:` in
 * a URL-valued name, else undefined. Only strings are checked: a number or boolean is never a
 * URL with a scheme, and an object given to a property is not a string parsed as one.
 *
 * @param name The attribute or property name.
 * @param value What the binding would write (an attribute's text, a property's value).
 * @param allow The binding's `allow-unsafe` attribute, if any.
 */
export function unsafeUrl(name: string, value: unknown, allow?: string | null): TwinError | undefined {
  const url = URL_NAME.exec(name.toLowerCase());
  if (typeof value !== 'string' || !url || allowed(name, allow)) return undefined;
  // A srcset is split into candidates as its parser splits it; any other URL is one string.
  if ((url[2] === 'srcset' ? value.split(LIST) : [value]).every(safeUrl)) return undefined;
  return twinError(ErrorCode.UNSAFE, DEV_MODE && `<twin-bind> refused a URL for ${name}: only http:, https:, mailto: and relative URLs are bound (${JSON.stringify(value.slice(0, 40))}).`, name);
}

function safeUrl(url: string): boolean {
  try {
    return SAFE_PROTOCOL.test(new URL(url, 'http://a/').protocol);
  } catch {
    return false;
  }
}

/** Whether `name` is listed in an `allow-unsafe` attribute (case-insensitive). */
function allowed(name: string, allow: string | null | undefined): boolean {
  return !!allow?.toLowerCase().split(LIST).includes(name.toLowerCase());
}
