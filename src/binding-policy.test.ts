// SPDX-License-Identifier: MIT
/**
 * @module binding-policy.test
 * The binding policy on its own: which names and elements are refused, which URLs, what
 * `allow-unsafe` lifts, and that each refusal is a coded `TWIN_ERR_UNSAFE` error. How server
 * rendering and the browser apply it is tested in server/render-html.test.ts and
 * test/browser/xss.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unsafeName, unsafeUrl } from './binding-policy.js';

describe('unsafeName()', () => {
  it('refuses event handlers, srcdoc, style, innerHTML and outerHTML, in any case', () => {
    for (const name of ['onclick', 'ONMOUSEOVER', 'onError', 'on', 'srcdoc', 'style', 'STYLE', 'innerHTML', 'outerHTML']) {
      const err = unsafeName('div', name);
      assert.equal(err?.code, 'TWIN_ERR_UNSAFE', name);
      assert.match(err!.message, new RegExp(`refused to bind ${name} of a <div>`));
    }
  });

  it('refuses every name on script, base and SVG animation elements', () => {
    for (const tag of ['script', 'SCRIPT', 'base', 'animate', 'set']) assert.equal(unsafeName(tag, 'title')?.code, 'TWIN_ERR_UNSAFE', tag);
  });

  it('lets other names and elements through', () => {
    for (const name of ['title', 'href', 'class', 'data-on', 'aria-label', 'value', 'textContent', 'score', 'xlink:href']) {
      assert.equal(unsafeName('a', name), undefined, name);
    }
    assert.equal(unsafeName('animatemotion', 'dur'), undefined);
    assert.equal(unsafeName('my-set', 'x'), undefined);
  });

  it('lets through what allow-unsafe lists, and only that', () => {
    assert.equal(unsafeName('div', 'style', 'style'), undefined);
    assert.equal(unsafeName('div', 'Style', ' class  STYLE,title'), undefined);
    assert.equal(unsafeName('div', 'onclick', 'style')?.code, 'TWIN_ERR_UNSAFE');
    assert.equal(unsafeName('div', 'style', 'styles')?.code, 'TWIN_ERR_UNSAFE');
    assert.equal(unsafeName('div', 'style', '')?.code, 'TWIN_ERR_UNSAFE');
  });
});

describe('unsafeUrl()', () => {
  it('binds http, https, mailto and relative URLs', () => {
    for (const url of ['https://example.com/a?b=c', 'HTTP://x', 'mailto:a@b.c', '/p', 'p.html#x', '//cdn.example/x', '?q=javascript:x', '', 'java script:x', '&#106;avascript:x', 'javascript&colon;x', '  https://x  ']) {
      assert.equal(unsafeUrl('href', url), undefined, JSON.stringify(url));
    }
  });

  it('refuses any other scheme, as the URL parser reads it', () => {
    for (const url of ['javascript:x', 'JaVaScRiPt:x', ' \t\njavascript:x', '\u0000\u001fjavascript:x', 'java\tscript:x', 'java\r\nscript:x', 'javascript\t:x', 'vbscript:x', 'data:text/html,x', 'blob:https://a/b', 'file:///etc/passwd', 'x-app:y']) {
      const err = unsafeUrl('href', url);
      assert.equal(err?.code, 'TWIN_ERR_UNSAFE', JSON.stringify(url));
      assert.match(err!.message, /refused a URL for href/);
    }
  });

  it('checks every URL-valued name, with any prefix and in any case, and each candidate of a srcset', () => {
    for (const name of ['href', 'HREF', 'src', 'action', 'formAction', 'data', 'poster', 'cite', 'background', 'xlink:href', 'srcset']) {
      assert.equal(unsafeUrl(name, 'javascript:x')?.code, 'TWIN_ERR_UNSAFE', name);
    }
    assert.equal(unsafeUrl('srcset', 'a.png 1x, javascript:x 2x')?.code, 'TWIN_ERR_UNSAFE');
    assert.equal(unsafeUrl('srcset', 'a.png 1x,/b.png 2x'), undefined);
    assert.equal(unsafeUrl('title', 'javascript:x'), undefined, 'not a URL name');
    assert.equal(unsafeUrl('data-href', 'javascript:x'), undefined, 'not a URL name');
  });

  it('checks only strings, and lets allow-unsafe names through', () => {
    assert.equal(unsafeUrl('href', 42), undefined);
    assert.equal(unsafeUrl('data', { url: 'javascript:x' }), undefined);
    assert.equal(unsafeUrl('href', 'tel:123', 'href'), undefined);
    assert.equal(unsafeUrl('href', 'tel:123', 'src')?.code, 'TWIN_ERR_UNSAFE');
  });

  it('refuses a URL the parser cannot read', () => {
    assert.equal(unsafeUrl('href', 'http://[::1')?.code, 'TWIN_ERR_UNSAFE');
  });
});
