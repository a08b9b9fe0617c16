// SPDX-License-Identifier: MIT
/**
 * Store data cannot run script through a binding, in real Chromium: known XSS payloads
 * (xss-payloads.ts), written to a store by a client as an attacker would, go through every
 * binding form of twin-pages/xss.html — text, attr, prop, toggle, two-way, list items, a
 * `{param}` store name from the URL, the hydration JSON — as the server renders the page and
 * the production bundle hydrates it, then as live updates; and through the development
 * sources' elements. Each payload sets `top.__pwned` if it ever runs; it must stay undefined,
 * no `javascript:` (or other script) URL may be rendered, and each refusal is a coded error.
 */
import { expect } from '@open-wc/testing';
import { settled, store } from '../../src/index.js';
import { captureConsole, connectPage, flush, loadFrame, removeFrames, uniq, until } from './helpers.js';
import { attrProblem, XSS_PAYLOADS } from './xss-payloads.js';

type Win = Window & typeof globalThis & { __pwned?: unknown; __errors: string[] };
type Xss = { p?: string; list?: string[] };

/** Time for what a payload could trigger by itself (an image's error event, a frame's load). */
const SETTLE_MS = 150;

afterEach(() => {
  removeFrames();
  delete (window as Partial<Win>).__pwned;
});

/** A fresh `xss/<id>` store holding `payload` at `p` and in `list`, written by this page's client. */
async function hostileStore(payload: string): Promise<{ id: string; handle: Xss }> {
  connectPage();
  const id = uniq('x');
  const handle = store<Xss>(`xss/${id}`);
  handle.p = payload;
  handle.list = [payload, 'second'];
  await settled(handle);
  return { id, handle };
}

/** The text a payload shows as (the HTML parser reads CR as LF in server-rendered text). */
const shown = (payload: string) => payload.replace(/\r\n?/g, '\n');

/** Everything below `root` that could run script, by the browser's own URL parser and DOM. */
function problems(root: ParentNode): string[] {
  const found: string[] = [];
  for (const el of root.querySelectorAll('*')) {
    for (const { name, value } of el.attributes) {
      const problem = attrProblem(el.localName, { name, value });
      if (problem) found.push(problem);
    }
    if (el.localName === 'a' && el.hasAttribute('href') && !/^(https?|mailto):$/.test((el as HTMLAnchorElement).protocol)) {
      found.push(`<a> links to ${(el as HTMLAnchorElement).protocol}`);
    }
  }
  const byId = (id: string) => root.querySelector(`#${id}`);
  if (byId('inner')?.firstChild) found.push('#inner got children (innerHTML)');
  if (!byId('outer')) found.push('#outer was replaced (outerHTML)');
  if ((byId('prop-srcdoc') as HTMLIFrameElement | null)?.srcdoc) found.push('#prop-srcdoc has a srcdoc');
  if ((byId('prop-onclick') as HTMLButtonElement | null)?.onclick) found.push('#prop-onclick has a handler');
  if ((byId('prop-text') as HTMLScriptElement | null)?.text) found.push('#prop-text has script text');
  if ((byId('script-src') as HTMLScriptElement | null)?.hasAttribute('src')) found.push('#script-src has a src');
  const link = byId('prop-href') as HTMLAnchorElement | null;
  if (link?.hasAttribute('href') && !/^(https?|mailto):$/.test(link.protocol)) found.push(`#prop-href links to ${link.protocol}`);
  return found;
}

describe('XSS payloads through every binding, server-rendered and hydrated by /_twin/twin.js', () => {
  before(async function () {
    this.timeout(120_000); // the runner builds the bundles on first request
    await fetch('/_twin/twin.js');
  });

  XSS_PAYLOADS.forEach((payload, i) => {
    it(`runs nothing for ${JSON.stringify(payload)}`, async () => {
      const { id, handle } = await hostileStore(payload);
      const { doc, win } = await loadFrame<Win>(`/twin-pages/xss.html?id=${id}&room=${encodeURIComponent(payload)}`);
      const text = () => doc.querySelector('#text')!.textContent;
      expect(text(), 'rendered by the server (or hydrated already)').to.be.oneOf([shown(payload), payload]);
      await until(() => win.customElements.get('twin-bind') && doc.querySelectorAll('#list li').length === 2 && !doc.querySelector('[data-twin-ssr]'), 'the page to come alive');
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      expect(problems(doc), 'after hydration').to.deep.equal([]);
      expect((doc.querySelector('#input') as HTMLInputElement).value).to.equal(payload.replace(/[\r\n]/g, ''));

      // The next payload arrives live.
      const next = XSS_PAYLOADS[(i + 1) % XSS_PAYLOADS.length]!;
      handle.p = next;
      handle.list!.unshift(next);
      await until(() => doc.querySelector('#text')!.textContent === next && doc.querySelectorAll('#list li').length === 3, 'the live update');
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      expect(problems(doc), 'after a live update').to.deep.equal([]);
      expect(win.__pwned, 'no script ran in the page').to.equal(undefined);
      expect((window as Partial<Win>).__pwned, 'no script ran in the test page').to.equal(undefined);
      if (/^\s*javascript/i.test(payload)) {
        expect(win.__errors.some((e) => e.includes('TWIN_ERR_UNSAFE'))).to.equal(true);
      }
    });
  });
});

describe('XSS payloads through the development sources\' elements', () => {
  it('run nothing, and each refusal is a coded console error', async () => {
    const raw = await (await fetch('/twin-pages/xss.html')).text(); // no ?id: the elements stay unrendered
    const forms = new DOMParser().parseFromString(raw, 'text/html').querySelector('#forms')!;
    const { id, handle } = await hostileStore(XSS_PAYLOADS[0]!);
    const { lines: errors, stop } = captureConsole('error');
    const section = document.createElement('section');
    try {
      section.setAttribute('store', `xss/${id}`);
      section.innerHTML = forms.innerHTML;
      document.body.append(section);
      for (const payload of XSS_PAYLOADS) {
        handle.p = payload;
        handle.list = [payload, 'second'];
        await flush();
        expect(section.querySelector('#text')!.textContent).to.equal(payload);
        expect(problems(section), JSON.stringify(payload)).to.deep.equal([]);
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    } finally {
      stop();
      section.remove();
    }
    expect((window as Partial<Win>).__pwned).to.equal(undefined);
    expect(errors.length).to.be.greaterThan(0);
    expect(errors.every((e) => e.includes('TWIN_ERR_UNSAFE')), errors.join('\n')).to.equal(true);
    expect(errors.some((e) => e.includes('refused to bind onclick of a <button>'))).to.equal(true);
    expect(errors.some((e) => e.includes('refused a URL for href'))).to.equal(true);
  });
});

describe('<twin-bind> binding policy', () => {
  it('allow-unsafe lets the listed names through; a refused URL removes the attribute until a safe one comes', async () => {
    const { id, handle } = await hostileStore('color: red');
    (handle as Xss & { url?: string }).url = '/first';
    await settled(handle);
    const { lines: errors, stop } = captureConsole('error');
    const wrap = document.createElement('div');
    try {
      wrap.setAttribute('store', `xss/${id}`);
      wrap.innerHTML = '<twin-bind key="p" attr="style" allow-unsafe="style"><i id="allowed"></i></twin-bind>'
        + '<twin-bind key="p" attr="style"><i id="refused" style="color: blue"></i></twin-bind>'
        + '<twin-bind key="url" attr="href"><a id="link" href="/start">x</a></twin-bind>';
      document.body.append(wrap);
      const $ = (sel: string) => wrap.querySelector(sel)!;
      expect($('#allowed').getAttribute('style')).to.equal('color: red');
      expect($('#refused').getAttribute('style'), 'the page\'s own style stays').to.equal('color: blue');
      expect($('#link').getAttribute('href')).to.equal('/first');
      (handle as Xss & { url?: string }).url = 'JavaScript:alert(1)';
      await flush();
      expect($('#link').hasAttribute('href')).to.equal(false);
      (handle as Xss & { url?: string }).url = 'https://example.com/ok';
      await flush();
      expect($('#link').getAttribute('href')).to.equal('https://example.com/ok');
    } finally {
      stop();
      wrap.remove();
    }
    expect(errors.filter((e) => e.includes('TWIN_ERR_UNSAFE'))).to.have.length(2);
  });
});
