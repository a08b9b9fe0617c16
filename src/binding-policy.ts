// SPDX-License-Identifier: MIT
/**
 * @module binding-policy
 * What a `<twin-bind>` may write into the page, decided in one place for the server's
 * rendering (`server/render-bindings.ts`) and the browser's element (`elements/twin-bind.ts`),
 * so a page never renders one way and hydrates another.
 *
 * Store data is user input (by default any client may write a shared store), so a binding
 * must not be able to run script with it:
 * - `attr` never sets an event handler (`on*`), `srcdoc` or `style`; `prop` never sets
 *   `innerHTML`, `outerHTML`, `srcdoc`, `style` or an `on*` property; neither binds anything
 *   of a `<script>` or `<base>` element, nor of an SVG `<animate>`/`<set>` (which can set
 *   another attribute, an `href`, to any value).
 * - A URL-valued attribute or property (`href`, `src`, `action`, `formaction`, `xlink:href`,
 *   `poster`, `srcset`...) takes only `http:`, `https:`, `mailto:` and relative URLs. The
 *   scheme is found as the URL parser finds it (https://url.spec.whatwg.org/#concept-basic-url-parser):
 *   leading and trailing C0 controls and spaces stripped, tabs and newlines removed anywhere,
 *   so `" java\tscript:"` is `javascript:`. Entities are no trick: an attribute value set by
 *   `setAttribute`, or serialized by the server, is never decoded.
 *
 * A page that means it lists the names in the binding's `allow-unsafe` attribute
 * (`<twin-bind attr="style" allow-unsafe="style">`): those names skip every check here.
 */
import { ErrorCode, twinError } from './errors.js';
import type { TwinError } from './errors.js';
import { DEV_MODE } from './dev.js';

/** How a binding writes into its element. */
export type BindingKind = 'attr' | 'prop';

/**
 * Names that hold one URL, lowercased, without a namespace prefix (`xlink:href` is `href`).
 * Property names are compared lowercased too (`formAction`, `codeBase`).
 */
const URL_NAMES = /^(href|src|action|formaction|poster|data|cite|background|codebase|longdesc|lowsrc|dynsrc|manifest|icon|profile|usemap|classid)$/;
/** Names that hold a list of URLs, split at whitespace and commas (each candidate checked). */
const URL_LIST_NAMES = /^(srcset|imagesrcset|ping|archive)$/;
/** Attributes that run script or restyle the page (lowercased). */
const SCRIPT_ATTR = /^(on|srcdoc$|style$)/;
/** Properties that parse HTML, run script or restyle the element (lowercased). */
const SCRIPT_PROP = /^(on|innerhtml$|outerhtml$|srcdoc$|style$)/;
/** Elements whose every attribute or property is script, or can make one (lowercased local names). */
const SCRIPT_TAGS = /^(script|base|animate|set)$/;
/** The URL parser strips these from both ends (C0 controls and space)... */
const URL_TRIM = /^[\0- ]+|[\0- ]+$/g;
/** ...and removes these everywhere (ASCII tab and newline). */
const URL_TAB_NEWLINE = /[\t\n\r]/g;
/** A URL's scheme, as the URL parser reads it. */
const SCHEME = /^([a-z][a-z\d+.-]*):/i;
const SAFE_SCHEME = /^(https?|mailto)$/;
const LIST_SEPARATOR = /[\s,]+/;

/**
 * Why a binding of `kind` named `name` on a `tag` element may not exist at all, whatever its
 * value: a coded `TWIN_ERR_UNSAFE` error, or undefined when it may.
 *
 * @param kind `attr` or `prop`.
 * @param tag The bound element's local name (`a`, `img`, `my-card`).
 * @param name The attribute or property name, as the page wrote it.
 * @param allow The binding's `allow-unsafe` attribute (names that skip the checks), if any.
 */
export function unsafeName(kind: BindingKind, tag: string, name: string, allow?: string | null): TwinError | undefined {
  const lower = name.toLowerCase();
  if (allowed(allow, lower)) return undefined;
  if (SCRIPT_TAGS.test(tag.toLowerCase())) {
    return refusal(DEV_MODE && `<twin-bind ${kind}=${JSON.stringify(name)}> would write into a <${tag}> element, which can run script with it.`, `<${tag}>`, name);
  }
  if ((kind === 'attr' ? SCRIPT_ATTR : SCRIPT_PROP).test(lower)) {
    return refusal(DEV_MODE && `<twin-bind ${kind}=${JSON.stringify(name)}> would set ${lower.startsWith('on') ? 'an event handler' : `the element's ${name}`}, which can run script or restyle the page with store data.`, kind, name);
  }
  return undefined;
}

/**
 * Why `value` may not be written to `name` (of a binding that {@link unsafeName} allowed): a
 * coded `TWIN_ERR_UNSAFE` error for a URL with another scheme than `http:`, `https:` or
 * `mailto:` in a URL-valued attribute or property, else undefined. Only strings are checked:
 * a number or boolean is never a URL with a scheme, and an object given to a property is not
 * a string the element parses as one.
 *
 * @param name The attribute or property name.
 * @param value What the binding would write (an attribute's text, a property's value).
 * @param allow The binding's `allow-unsafe` attribute, if any.
 */
export function unsafeValue(name: string, value: unknown, allow?: string | null): TwinError | undefined {
  if (typeof value !== 'string') return undefined;
  const local = name.toLowerCase().replace(/^.*:/, '');
  const list = URL_LIST_NAMES.test(local);
  if ((!list && !URL_NAMES.test(local)) || allowed(allow, name.toLowerCase())) return undefined;
  for (const url of list ? value.split(LIST_SEPARATOR) : [value]) {
    const scheme = SCHEME.exec(url.replace(URL_TRIM, '').replace(URL_TAB_NEWLINE, ''))?.[1]?.toLowerCase();
    if (scheme !== undefined && !SAFE_SCHEME.test(scheme)) {
      return refusal(DEV_MODE && `<twin-bind> refused a ${scheme}: URL for ${name}: only http:, https:, mailto: and relative URLs are bound.`, name, `${scheme}:`);
    }
  }
  return undefined;
}

/** Whether `name` (lowercased) is listed in an `allow-unsafe` attribute. */
function allowed(allow: string | null | undefined, name: string): boolean {
  return !!allow && allow.toLowerCase().split(LIST_SEPARATOR).includes(name);
}

function refusal(message: string | false, what: string, detail: string): TwinError {
  return twinError(ErrorCode.UNSAFE, message, `${what} ${detail}`);
}
