// SPDX-License-Identifier: MIT
/**
 * @module test/browser/xss-payloads
 * Known XSS payloads (OWASP's filter evasion cheat sheet and the URL parser's own leniency),
 * each of which sets `__pwned` on the top window if it ever runs, and an independent check that
 * a rendered tree holds nothing that can run them. Shared by the server's rendering test
 * (`server/render-html.test.ts`) and the browser's (`test/browser/xss.test.ts`), which both
 * feed them through every binding of `twin-pages/xss.html`.
 */

/** The script every payload tries to run. */
const JS = 'top.__pwned=1';

/** The payloads: URLs with a script scheme in every disguise, markup, handlers, template syntax. */
export const XSS_PAYLOADS: readonly string[] = [
  `javascript:${JS}`,
  `JaVaScRiPt:${JS}`,
  ` \t\n javascript:${JS}`,
  `\u0001\u0010javascript:${JS}`,
  `java\tscript:${JS}`,
  `java\nscript:${JS}`,
  `java\rscript:${JS}`,
  `javascript\t:${JS}`,
  `&#106;avascript:${JS}`,
  `javascript&colon;${JS}`,
  `vbscript:${JS}`,
  `data:text/html,<script>${JS}</script>`,
  `data:text/html;base64,PHNjcmlwdD50b3AuX19wd25lZD0xPC9zY3JpcHQ+`,
  `x.png 1x, javascript:${JS} 2x`,
  `"><script>${JS}</script>`,
  `'><img src=x onerror=${JS}>`,
  `<img src=x onerror="${JS}">`,
  `<svg onload="${JS}"></svg>`,
  `<iframe srcdoc="<script>${JS}</script>"></iframe>`,
  `</script><script>${JS}</script>`,
  `<!--<script>${JS}</script>-->`,
  `</twin-bind></template><script>${JS}</script>`,
  `\u2028${JS}\u2029`,
  JS,
  `{{constructor.constructor('${JS}')()}}`,
  `\${${JS}}`,
  `background:url(javascript:${JS});x:expression(${JS})`,
  `x onerror=${JS}`,
];

/** Names whose value is a URL (or a list of them), by local name. */
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'poster', 'data', 'cite', 'background', 'srcset', 'ping', 'codebase']);
const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** An attribute as both trees (parse5's and the DOM's) give it. */
export interface AttrLike {
  readonly name: string;
  readonly value: string;
}

/**
 * What is wrong with one attribute of a rendered element, by the browser's own rules (the
 * WHATWG URL parser, which Node's `URL` implements): an event handler, `srcdoc`, `style`, or a
 * URL that resolves to another scheme than http, https or mailto. Undefined when it is inert.
 * `allowed` lists names the page's own markup set (static, not from store data).
 */
export function attrProblem(tag: string, attr: AttrLike, allowed: ReadonlySet<string> = new Set()): string | undefined {
  const name = attr.name.toLowerCase();
  const local = name.replace(/^.*:/, '');
  if (allowed.has(name)) return undefined;
  if (name.startsWith('on') || name === 'srcdoc' || name === 'style') return `<${tag}> has ${name}=${JSON.stringify(attr.value)}`;
  if (!URL_ATTRS.has(local)) return undefined;
  const urls = local === 'srcset' || local === 'ping' ? attr.value.split(/[\s,]+/) : [attr.value];
  for (const url of urls) {
    let protocol: string;
    try {
      protocol = new URL(url, 'http://127.0.0.1/').protocol;
    } catch {
      continue; // not a URL the browser would follow
    }
    if (!SAFE_PROTOCOLS.has(protocol)) return `<${tag}> has ${name}=${JSON.stringify(attr.value)} (${protocol})`;
  }
  return undefined;
}
