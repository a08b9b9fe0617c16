// SPDX-License-Identifier: MIT
/**
 * @module render-html.test
 * Server-side rendering of twin elements: every binding mode, lists, escaping of hostile
 * values, the binding policy (no script from store data, known XSS payloads through every
 * binding form of test/browser/twin-pages/xss.html), `{param}` store names, fragments, and
 * isolation between concurrent requests. Output is checked by parsing it back with parse5 and
 * querying the tree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseFragment } from 'parse5';
import type { DefaultTreeAdapterMap } from 'parse5';
import { readFileSync } from 'node:fs';
import type { Json } from '../src/json.js';
import { attrProblem, XSS_PAYLOADS } from '../test/browser/xss-payloads.js';
import { renderPage } from './render-html.js';
import type { PageData, StoreData } from './render-html.js';

type Element = DefaultTreeAdapterMap['element'];
type ParentNode = DefaultTreeAdapterMap['parentNode'];

const HOSTILE = '</script><script>alert(1)</script>"onmouseover=alert(2) \u2028&amp;<b>';

//#region Helpers

/** PageData over a fixed table of stores, recording every name asked for. */
function pageData(
  stores: Record<string, StoreData>,
  options: { url?: string; include?: string[] } = {},
): PageData & { calls: string[] } {
  const calls: string[] = [];
  return {
    url: new URL(options.url ?? 'http://localhost/page'),
    calls,
    async store(name) {
      calls.push(name);
      return Object.hasOwn(stores, name) ? stores[name] : undefined;
    },
    ...(options.include ? { include: options.include } : {}),
  };
}

function shared(value: Json, v = 1): StoreData {
  return { kind: 'shared', value, v };
}

/** Renders a fragment and parses the output back. */
async function renderFragment(html: string, data: PageData): Promise<{ out: string; root: ParentNode }> {
  const out = await renderPage(html, data);
  return { out, root: parseFragment(out) };
}

/** Elements below `root` (template content excluded, as in a live DOM query) matching tag (or `*`) and attributes. */
function query(root: ParentNode, tag: string, attrs: Record<string, string> = {}): Element[] {
  const found: Element[] = [];
  const walk = (parent: ParentNode): void => {
    for (const node of parent.childNodes) {
      if (!('tagName' in node)) continue;
      if ((tag === '*' || node.tagName === tag) && Object.entries(attrs).every(([k, v]) => attr(node, k) === v)) found.push(node);
      walk(node);
    }
  };
  walk(root);
  return found;
}

function one(root: ParentNode, tag: string, attrs: Record<string, string> = {}): Element {
  const found = query(root, tag, attrs);
  assert.equal(found.length, 1, `expected one <${tag}> with ${JSON.stringify(attrs)}, found ${found.length}`);
  return found[0]!;
}

function attr(el: Element, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

function text(el: ParentNode): string {
  let out = '';
  for (const node of el.childNodes) {
    if (node.nodeName === '#text' && 'value' in node) out += node.value;
    else if ('tagName' in node) out += text(node);
  }
  return out;
}

/** The parsed hydration data of a rendered page, checking there is exactly one script for it. */
function hydration(root: ParentNode): unknown {
  const script = one(root, 'script', { id: 'twin-hydration' });
  assert.equal(attr(script, 'type'), 'application/json');
  return JSON.parse(text(script));
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

//#endregion Helpers

describe('renderPage', () => {
  describe('<twin-bind> text', () => {
    it('renders each kind of value as text', async () => {
      const value = { n: 42, s: 'hi', t: true, f: false, z: null, o: { a: [1, 'x'] }, a: [1, 2] };
      const { root } = await renderFragment(
        ['n', 's', 't', 'f', 'z', 'o', 'a', 'missing', 'o.a.1', 'a.1', 'a.9', 'n.x']
          .map((key) => `<twin-bind store="s" key="${key}">old</twin-bind>`)
          .join(''),
        pageData({ s: shared(value) }),
      );
      const texts = query(root, 'twin-bind').map((el) => text(el));
      assert.deepEqual(texts, ['42', 'hi', 'true', 'false', '', '{"a":[1,"x"]}', '[1,2]', '', 'x', '2', '', '']);
    });

    it('takes the store from the nearest ancestor with a store attribute', async () => {
      const { root } = await renderFragment(
        '<section store="a"><p><twin-bind key="x"></twin-bind></p><div store="b"><twin-bind key="x"></twin-bind></div></section>',
        pageData({ a: shared({ x: 'from a' }), b: shared({ x: 'from b' }) }),
      );
      assert.deepEqual(query(root, 'twin-bind').map(text), ['from a', 'from b']);
    });

    it('escapes hostile text', async () => {
      const { out, root } = await renderFragment('<p><twin-bind store="s" key="msg"></twin-bind></p>', pageData({ s: shared({ msg: HOSTILE }) }));
      assert.equal(text(one(root, 'twin-bind')), HOSTILE);
      assert.equal(query(root, 'script').length, 1, 'only the hydration script');
      assert.equal(query(root, 'b').length, 0);
      assert.ok(out.includes('&lt;/script&gt;&lt;script&gt;alert(1)'));
    });

    it('does not read inherited properties', async () => {
      const { root } = await renderFragment('<twin-bind store="s" key="constructor">x</twin-bind><twin-bind store="s" key="a.length">y</twin-bind>', pageData({ s: shared({ a: [1] }) }));
      assert.deepEqual(query(root, 'twin-bind').map(text), ['', '']);
    });
  });

  describe('<twin-bind attr>', () => {
    it('sets, empties and removes the attribute of the first element child', async () => {
      const { root } = await renderFragment(
        [
          '<twin-bind store="s" key="url" attr="href"> <a href="/old" id="a1">x</a><a id="a2"></a></twin-bind>',
          '<twin-bind store="s" key="none" attr="href"><a href="/old" id="b"></a></twin-bind>',
          '<twin-bind store="s" key="no" attr="disabled"><button disabled id="c"></button></twin-bind>',
          '<twin-bind store="s" key="yes" attr="disabled"><button id="d"></button></twin-bind>',
          '<twin-bind store="s" key="n" attr="Data-Count"><span id="e"></span></twin-bind>',
          '<twin-bind store="s" key="n" attr="viewBox"><svg id="f"></svg></twin-bind>',
          '<twin-bind store="s" key="n" attr="x>y"><span id="g"></span></twin-bind>',
        ].join(''),
        pageData({ s: shared({ url: '/new?a=1&b=2', none: null, no: false, yes: true, n: 3 }) }),
      );
      const byId = (id: string): Element => one(root, '*', { id });
      assert.equal(attr(byId('a1'), 'href'), '/new?a=1&b=2');
      assert.equal(attr(byId('a2'), 'href'), undefined, 'only the first element child');
      assert.equal(attr(byId('b'), 'href'), undefined);
      assert.equal(attr(byId('c'), 'disabled'), undefined);
      assert.equal(attr(byId('d'), 'disabled'), '');
      assert.equal(attr(byId('e'), 'data-count'), '3', 'lowercased on HTML elements');
      assert.equal(attr(byId('f'), 'viewBox'), '3', 'case kept on SVG');
      assert.deepEqual(byId('g').attrs, [{ name: 'id', value: 'g' }], 'an invalid name is not written');
    });

    it('escapes hostile attribute values', async () => {
      const { root } = await renderFragment('<twin-bind store="s" key="v" attr="title"><a id="x"></a></twin-bind>', pageData({ s: shared({ v: HOSTILE }) }));
      const a = one(root, 'a');
      assert.deepEqual(a.attrs, [{ name: 'id', value: 'x' }, { name: 'title', value: HOSTILE }]);
      assert.equal(query(root, 'script').length, 1);
    });
  });

  describe('<twin-bind toggle>', () => {
    it('adds and removes one class, keeping the others', async () => {
      const { root } = await renderFragment(
        '<twin-bind store="s" key="on" toggle="done"><li id="a" class="item"></li></twin-bind>' +
          '<twin-bind store="s" key="off" toggle="done"><li id="b" class="item  done"></li></twin-bind>' +
          '<twin-bind store="s" key="off" toggle="done"><li id="c"></li></twin-bind>',
        pageData({ s: shared({ on: 1, off: 0 }) }),
      );
      assert.equal(attr(one(root, 'li', { id: 'a' }), 'class'), 'item done');
      assert.equal(attr(one(root, 'li', { id: 'b' }), 'class'), 'item');
      assert.equal(attr(one(root, 'li', { id: 'c' }), 'class'), undefined);
    });
  });

  describe('<twin-bind prop>', () => {
    it('leaves a property binding to the browser', async () => {
      const html = '<twin-bind store="s" key="score" prop="score"><score-board label="x"></score-board></twin-bind>';
      const out = await renderPage(html, pageData({ s: shared({ score: 5 }) }));
      assert.ok(out.endsWith(html));
    });
  });

  describe('<twin-bind> two-way', () => {
    it('renders checkbox, input, textarea and select', async () => {
      const { root } = await renderFragment(
        [
          '<twin-bind store="s" key="yes"><input type="CheckBox" id="c1"></twin-bind>',
          '<twin-bind store="s" key="no"><input type="checkbox" checked id="c2"></twin-bind>',
          '<twin-bind store="s" key="name"><input id="t" value="old"></twin-bind>',
          '<twin-bind store="s" key="n"><input type="number" id="num"></twin-bind>',
          '<twin-bind store="s" key="body"><textarea>old</textarea></twin-bind>',
          '<twin-bind store="s" key="pick"><select id="s1"><option value="a" selected>A</option><optgroup><option value="b">B</option></optgroup></select></twin-bind>',
          '<twin-bind store="s" key="text"><select id="s2"><option>  Red\n one </option><option> Blue </option></select></twin-bind>',
        ].join(''),
        pageData({ s: shared({ yes: true, no: false, name: HOSTILE, n: 7, body: '\nline <b>2</b>', pick: 'b', text: 'Blue' }) }),
      );
      assert.equal(attr(one(root, 'input', { id: 'c1' }), 'checked'), '');
      assert.equal(attr(one(root, 'input', { id: 'c2' }), 'checked'), undefined);
      assert.equal(attr(one(root, 'input', { id: 't' }), 'value'), HOSTILE);
      assert.equal(attr(one(root, 'input', { id: 'num' }), 'value'), '7');
      assert.equal(text(one(root, 'textarea')), '\nline <b>2</b>', 'leading newline survives re-parsing');
      assert.deepEqual(query(one(root, 'select', { id: 's1' }), 'option').map((o) => attr(o, 'selected')), [undefined, '']);
      assert.deepEqual(query(one(root, 'select', { id: 's2' }), 'option').map((o) => attr(o, 'selected')), [undefined, '']);
    });
  });

  describe('<twin-bind> radio', () => {
    it('checks the radio whose value is the store value and keeps every value attribute', async () => {
      const { root } = await renderFragment(
        ['a', 'b', 'c'].map((v) => `<twin-bind store="s" key="pick"><input type="radio" name="p" value="${v}" id="r${v}"${v === 'a' ? ' checked' : ''}></twin-bind>`).join(''),
        pageData({ s: shared({ pick: 'b' }) }),
      );
      assert.deepEqual(['a', 'b', 'c'].map((v) => attr(one(root, 'input', { id: `r${v}` }), 'value')), ['a', 'b', 'c']);
      assert.deepEqual(['a', 'b', 'c'].map((v) => attr(one(root, 'input', { id: `r${v}` }), 'checked')), [undefined, '', undefined]);
    });
  });

  describe('<twin-show>', () => {
    it('sets hidden from truthiness, equals and not', async () => {
      const cases: [string, boolean][] = [
        ['key="on"', true],
        ['key="off"', false],
        ['key="empty"', false],
        ['key="list"', true],
        ['key="on" not', false],
        ['key="off" not', true],
        ['key="mode" equals="dark"', true],
        ['key="mode" equals="light"', false],
        ['key="mode" equals="dark" not', false],
        ['key="n" equals="0"', true],
        ['key="missing"', false],
      ];
      const { root } = await renderFragment(
        cases.map(([attrs], i) => `<twin-show store="s" ${attrs} id="s${i}" hidden>x</twin-show>`).join(''),
        pageData({ s: shared({ on: 'yes', off: 0, empty: '', list: [], mode: 'dark', n: 0 }) }),
      );
      cases.forEach(([attrs, shown], i) => {
        assert.equal(attr(one(root, 'twin-show', { id: `s${i}` }), 'hidden'), shown ? undefined : '', attrs);
      });
    });

    it('renders bindings inside, shown or not', async () => {
      const { root } = await renderFragment('<twin-show store="s" key="off"><twin-bind key="name"></twin-bind></twin-show>', pageData({ s: shared({ off: false, name: 'Ann' }) }));
      assert.equal(attr(one(root, 'twin-show'), 'hidden'), '');
      assert.equal(text(one(root, 'twin-bind')), 'Ann');
    });
  });

  describe('<twin-list>', () => {
    const page =
      '<ul><twin-list store="chat" key="messages"><li>stale</li><template><li class="msg"><twin-bind key="text"></twin-bind>' +
      '<twin-show key="starred"><b>★</b></twin-show><twin-bind key="text" attr="title"><i></i></twin-bind>' +
      '<twin-bind key="tags.0"></twin-bind><twin-bind store="room" key="name"></twin-bind></li></template></twin-list></ul>';
    const messages = [
      { text: 'first', starred: true, tags: ['a'] },
      { text: '<second>', starred: false, tags: [] },
      { text: 'third', starred: true, tags: ['c', 'd'] },
    ];

    it('renders a copy of the template per item with item-relative keys', async () => {
      const { root } = await renderFragment(page, pageData({ chat: shared({ messages }), room: shared({ name: 'General' }) }));
      const list = one(root, 'twin-list');
      const items = query(list, 'li');
      assert.equal(items.length, 3, 'stale children are removed');
      assert.ok(items.every((li) => attr(li, 'data-twin-ssr') === '' && attr(li, 'class') === 'msg'));
      assert.deepEqual(items.map((li) => text(query(li, 'twin-bind')[0]!)), ['first', '<second>', 'third']);
      assert.deepEqual(items.map((li) => attr(one(li, 'twin-show'), 'hidden')), [undefined, '', undefined]);
      assert.deepEqual(items.map((li) => attr(one(li, 'i'), 'title')), ['first', '<second>', 'third']);
      assert.deepEqual(items.map((li) => text(query(li, 'twin-bind')[2]!)), ['a', '', 'c']);
      assert.deepEqual(items.map((li) => text(query(li, 'twin-bind', { store: 'room' })[0]!)), ['General', 'General', 'General'], 'a store attribute inside an item wins');
      const template = list.childNodes.find((n) => n.nodeName === 'template');
      assert.ok(template && 'content' in template, 'the template is kept');
      assert.equal(list.childNodes[0], template, 'the template comes before the items');
      assert.equal(query(template.content, 'li').length, 1);
      assert.equal(text(query(template.content, 'twin-bind')[0]!), '', 'the template itself is not rendered');
    });

    it('renders nested lists and "." keys', async () => {
      const { root } = await renderFragment(
        '<twin-list store="s" key="rows"><template><div><twin-list key="cells"><template><span><twin-bind key="."></twin-bind></span></template></twin-list></div></template></twin-list>',
        pageData({ s: shared({ rows: [{ cells: [1, 2] }, { cells: ['x'] }] }) }),
      );
      const rows = query(root, 'div');
      assert.deepEqual(rows.map((row) => query(row, 'span').map(text)), [['1', '2'], ['x']]);
      assert.ok(query(root, 'span').every((span) => attr(span, 'data-twin-ssr') === ''));
    });

    it('renders no items for a value that is not an array', async () => {
      const { root } = await renderFragment('<twin-list store="s" key="x"><template><p></p></template><p>old</p></twin-list>', pageData({ s: shared({ x: 'nope' }) }));
      assert.equal(query(root, 'p').length, 0);
    });
  });

  describe('elements left alone', () => {
    it('leaves elements of an unknown store untouched and out of the hydration data', async () => {
      const html =
        '<twin-bind store="nope" key="a">loading</twin-bind><twin-show store="nope" key="a" hidden="">x</twin-show>' +
        '<twin-list store="nope" key="a"><template><i></i></template><i>kept</i></twin-list>' +
        '<div store="nope"><twin-bind key="a">inherited</twin-bind></div><twin-status store="s"></twin-status><twin-error></twin-error>';
      const data = pageData({ s: shared({ a: 1 }) });
      const out = await renderPage(html, data);
      assert.ok(out.endsWith(html), out);
      assert.deepEqual(hydration(parseFragment(out)), { shared: { s: { value: { a: 1 }, v: 1 } }, local: {} });
    });
  });

  describe('{param} store names', () => {
    it('fills placeholders from the query', async () => {
      const data = pageData({ 'room/general': shared({ title: 'General' }, 4) }, { url: 'http://localhost/room?id=general' });
      const { root } = await renderFragment('<h1 store="room/{id}"><twin-bind key="title"></twin-bind></h1>', data);
      assert.equal(text(one(root, 'twin-bind')), 'General');
      assert.deepEqual(data.calls, ['room/general']);
      assert.deepEqual(hydration(root), { shared: { 'room/general': { value: { title: 'General' }, v: 4 } }, local: {} });
    });

    it('leaves an element unrendered when the parameter is missing', async () => {
      const data = pageData({ 'room/': shared({ title: 'wrong' }), 'room/general': shared({ title: 'General' }) }, { url: 'http://localhost/room?other=1' });
      const html = '<twin-bind store="room/{id}" key="title">…</twin-bind>';
      const out = await renderPage(html, data);
      assert.ok(out.endsWith(html));
      assert.deepEqual(data.calls, []);
    });
  });

  describe('documents and fragments', () => {
    it('appends the hydration script to <head> of a document', async () => {
      const out = await renderPage(
        '<!doctype html><html><head><title>t</title></head><body><p><twin-bind store="s" key="a"></twin-bind></p></body></html>',
        pageData({ s: shared({ a: 'x' }) }),
      );
      const doc = parse(out);
      const head = one(doc, 'head');
      assert.deepEqual(head.childNodes.map((n) => n.nodeName), ['title', 'script']);
      assert.equal(text(one(doc, 'twin-bind')), 'x');
      assert.ok(out.startsWith('<!DOCTYPE html><html><head><title>t</title><script type="application/json" id="twin-hydration">'));
    });

    it('creates the head a document lacks', async () => {
      const out = await renderPage('<html><body><twin-bind store="s" key="a"></twin-bind></body></html>', pageData({ s: shared({ a: 'x' }) }));
      assert.ok(out.startsWith('<html><head><script type="application/json" id="twin-hydration">'), out);
      assert.ok(out.includes('<body><twin-bind store="s" key="a">x</twin-bind></body>'));
    });

    it('keeps a fragment a fragment and puts the script first', async () => {
      const html = '<template id="t"><li></li></template><twin-bind store="s" key="a"></twin-bind><p>end</p>';
      const out = await renderPage(html, pageData({ s: shared({ a: 'x' }) }));
      assert.equal(
        out,
        '<script type="application/json" id="twin-hydration">{"shared":{"s":{"value":{"a":"x"},"v":1}},"local":{}}</script>' +
          '<template id="t"><li></li></template><twin-bind store="s" key="a">x</twin-bind><p>end</p>',
      );
    });

    it('renders an empty fragment to the script alone', async () => {
      assert.equal(await renderPage('', pageData({})), '<script type="application/json" id="twin-hydration">{"shared":{},"local":{}}</script>');
    });

    it('replaces an earlier hydration script', async () => {
      const once = await renderPage('<twin-bind store="s" key="a"></twin-bind>', pageData({ s: shared({ a: 1 }) }));
      const { root } = await renderFragment(once, pageData({ s: shared({ a: 2 }, 2) }));
      assert.deepEqual(hydration(root), { shared: { s: { value: { a: 2 }, v: 2 } }, local: {} });
      assert.equal(text(one(root, 'twin-bind')), '2');
    });
  });

  describe('hydration data', () => {
    it('round-trips hostile values exactly and opens no script', async () => {
      const value = { msg: HOSTILE, nested: { [HOSTILE]: [HOSTILE, '<!--', '\u2029'] } };
      const local: StoreData = { kind: 'local', value: { theme: HOSTILE }, persist: 'local' };
      const { out, root } = await renderFragment('<twin-bind store="s" key="msg"></twin-bind>', pageData({ s: shared(value, 9), ui: local, tab: { kind: 'local', value: 0 } }, { include: ['ui', 'tab'] }));
      assert.equal(query(root, 'script').length, 1);
      assert.deepEqual(hydration(root), {
        shared: { s: { value, v: 9 } },
        local: { ui: { value: { theme: HOSTILE }, persist: 'local' }, tab: { value: 0 } },
      });
      const script = out.slice(0, out.indexOf('</script>'));
      assert.ok(!script.slice(1).includes('<'), 'no "<" inside the JSON');
      assert.ok(!script.includes('\u2028') && !script.includes('\u2029'));
    });

    it('asks for each distinct store once, in parallel', async () => {
      let pending = 0;
      let maxPending = 0;
      const calls: string[] = [];
      const html =
        '<meta name="twin-stores" content="  extra   a room/{id} "><div store="a"><twin-bind key="x"></twin-bind><twin-bind store="a" key="x"></twin-bind></div>' +
        '<twin-list store="a" key="l"><template><twin-bind store="b" key="y"></twin-bind></template></twin-list><twin-show store="room/{id}" key="x"></twin-show>';
      const out = await renderPage(html, {
        url: new URL('http://localhost/?id=1'),
        include: ['b', 'ui'],
        async store(name) {
          calls.push(name);
          pending++;
          maxPending = Math.max(maxPending, pending);
          await new Promise((r) => setTimeout(r, 5));
          pending--;
          return name === 'ui' ? { kind: 'local', value: null } : shared({ x: 1, y: 2, l: [0] });
        },
      });
      assert.deepEqual([...calls].sort(), ['a', 'b', 'extra', 'room/1', 'ui']);
      assert.equal(maxPending, calls.length);
      const data = hydration(parseFragment(out)) as { shared: object; local: object };
      assert.deepEqual(Object.keys(data.shared).sort(), ['a', 'b', 'extra', 'room/1']);
      assert.deepEqual(data.local, { ui: { value: null } });
    });

    it('keeps a store named __proto__ as data', async () => {
      const { root } = await renderFragment('<twin-bind store="__proto__" key="a"></twin-bind>', pageData({ ['__proto__']: shared({ a: 1 }) }));
      const data = hydration(root) as { shared: Record<string, unknown> };
      assert.ok(Object.hasOwn(data.shared, '__proto__'));
      assert.equal(text(one(root, 'twin-bind')), '1');
    });

    it('rejects when a store lookup fails', async () => {
      await assert.rejects(
        renderPage('<twin-bind store="s" key="a"></twin-bind>', {
          url: new URL('http://localhost/'),
          store: async () => {
            throw new Error('storage down');
          },
        }),
        /storage down/,
      );
    });
  });

  describe('isolation', () => {
    it('does not mix two concurrent renders', async () => {
      const html = '<twin-bind store="ui" key="name"></twin-bind><twin-bind store="game" key="score"></twin-bind>';
      const gates = [deferred<void>(), deferred<void>()];
      const request = (who: string, score: number, gate: Promise<void>): PageData => ({
        url: new URL(`http://localhost/?u=${who}`),
        include: ['ui'],
        async store(name) {
          await gate;
          return name === 'ui' ? { kind: 'local', value: { name: who } } : shared({ score }, score);
        },
      });
      const first = renderPage(html, request('alice', 1, gates[0]!.promise));
      const second = renderPage(html, request('bob', 2, gates[1]!.promise));
      // The second request's data arrives first.
      gates[1]!.resolve();
      await new Promise((r) => setTimeout(r, 1));
      gates[0]!.resolve();
      const [a, b] = await Promise.all([first, second]);
      const rootA = parseFragment(a);
      const rootB = parseFragment(b);
      assert.deepEqual(query(rootA, 'twin-bind').map(text), ['alice', '1']);
      assert.deepEqual(query(rootB, 'twin-bind').map(text), ['bob', '2']);
      assert.deepEqual(hydration(rootA), { shared: { game: { value: { score: 1 }, v: 1 } }, local: { ui: { value: { name: 'alice' } } } });
      assert.deepEqual(hydration(rootB), { shared: { game: { value: { score: 2 }, v: 2 } }, local: { ui: { value: { name: 'bob' } } } });
      assert.ok(!a.includes('bob') && !b.includes('alice'));
    });
  });

  describe('binding policy', () => {
    it('refuses event handlers, srcdoc and style, and anything of script and base elements', async () => {
      const heard: string[] = [];
      const { root } = await renderFragment(
        [
          '<twin-bind store="s" key="v" attr="onclick"><button id="a"></button></twin-bind>',
          '<twin-bind store="s" key="v" attr="ONMOUSEOVER"><b id="b"></b></twin-bind>',
          '<twin-bind store="s" key="v" attr="srcdoc"><iframe id="c"></iframe></twin-bind>',
          '<twin-bind store="s" key="v" attr="style"><i id="d" style="color: red"></i></twin-bind>',
          '<twin-bind store="s" key="url" attr="src"><script id="e"></script></twin-bind>',
          '<twin-bind store="s" key="url" attr="href"><base id="f"></twin-bind>',
          '<twin-bind store="s" key="v" attr="style" allow-unsafe="style"><i id="g"></i></twin-bind>',
          '<twin-bind store="s" key="v" attr="title"><i id="h"></i></twin-bind>',
        ].join(''),
        { ...pageData({ s: shared({ v: 'top.__pwned=1', url: 'https://example.com/x.js' }) }), onUnsafe: (err) => void heard.push(err.message) },
      );
      assert.deepEqual(heard.map((m) => /refused to bind (\S+) of a <(\w+)>/.exec(m)?.slice(1).join(' ')), [
        'onclick button', 'ONMOUSEOVER b', 'srcdoc iframe', 'style i', 'src script', 'href base',
      ], 'onUnsafe hears each refusal, with what was refused');
      const attrs = (id: string) => Object.fromEntries(one(root, '*', { id }).attrs.map((a) => [a.name, a.value]));
      assert.deepEqual(attrs('a'), { id: 'a' });
      assert.deepEqual(attrs('b'), { id: 'b' });
      assert.deepEqual(attrs('c'), { id: 'c' });
      assert.deepEqual(attrs('d'), { id: 'd', style: 'color: red' }, 'the page\'s own style stays');
      assert.deepEqual(attrs('e'), { id: 'e' });
      assert.deepEqual(attrs('f'), { id: 'f' });
      assert.deepEqual(attrs('g'), { id: 'g', style: 'top.__pwned=1' }, 'allow-unsafe lifts the check');
      assert.deepEqual(attrs('h'), { id: 'h', title: 'top.__pwned=1' });
    });

    it('binds only http, https, mailto and relative URLs, seen as the URL parser sees them', async () => {
      const urls = {
        ok: ['https://example.com/a?b=c', 'http://x', 'mailto:a@b.c', '/path', 'page.html#top', '//cdn.example/x', '?q=javascript:', 'java script:x', '&#106;avascript:x', 'ＪＡＶＡＳＣＲＩＰＴ:x'],
        refused: ['javascript:x', 'JAVASCRIPT:x', '  javascript:x', '\u0000\u001fjavascript:x', 'java\tscript:x', 'jav\r\nascript:x', 'javascript\n:x', 'vbscript:x', 'data:text/html,x', 'blob:https://x/y', 'file:///etc/passwd', 'x-custom:y'],
      };
      const all = [...urls.ok, ...urls.refused];
      const html = all.map((_, i) => `<twin-bind store="s" key="${i}" attr="href"><a href="/old"></a></twin-bind>`).join('')
        + `<twin-bind store="s" key="0" attr="xlink:href"><svg></svg></twin-bind><twin-bind store="s" key="${urls.ok.length}" attr="xlink:href"><svg></svg></twin-bind>`
        + `<twin-bind store="s" key="set" attr="srcset"><img></twin-bind><twin-bind store="s" key="okset" attr="srcset"><img></twin-bind>`;
      const heard: string[] = [];
      const data = pageData({ s: shared({ ...all, set: 'a.png 1x, javascript:x 2x', okset: 'a.png 1x, /b.png 2x' }) });
      const { root } = await renderFragment(html, { ...data, onUnsafe: (err) => void heard.push(err.code) });
      assert.equal(heard.length, urls.refused.length + 2, 'onUnsafe hears each refused URL');
      const hrefs = query(root, 'a').map((a) => attr(a, 'href'));
      assert.deepEqual(hrefs, [...urls.ok, ...urls.refused.map(() => undefined)], 'a refused URL removes the attribute');
      // Reparsed, xlink:href is a namespaced attribute: prefix xlink, name href.
      const xlink = (el: Element) => el.attrs.find((a) => a.prefix === 'xlink' && a.name === 'href')?.value;
      assert.deepEqual(query(root, 'svg').map(xlink), [urls.ok[0], undefined]);
      assert.deepEqual(query(root, 'img').map((img) => attr(img, 'srcset')), [undefined, 'a.png 1x, /b.png 2x']);
    });

    it('renders no known XSS payload into anything that can run, through every binding form', async () => {
      const page = readFileSync(new URL('../test/browser/twin-pages/xss.html', import.meta.url), 'utf8');
      const render = async (payload: string) => {
        const data = { p: payload, list: [payload, 'second'] };
        const out = await renderPage(page, {
          url: new URL(`http://127.0.0.1/twin-pages/xss.html?id=t&room=${encodeURIComponent(payload)}`),
          // Any name is a store, so a name made of the payload reaches the hydration data too.
          store: async (name) => shared(name === 'xss/t' ? data : { p: payload }),
        });
        return { out, root: parse(out), data };
      };
      const signature = (root: ParentNode) => query(root, '*').map((el) => el.tagName).join(' ');
      const scriptOf = (el: Element) => ({ id: attr(el, 'id'), src: attr(el, 'src'), text: text(el) });
      const pageScripts = query(parse(page), 'script').map(scriptOf);
      const baseline = signature((await render('safe')).root);

      for (const payload of XSS_PAYLOADS) {
        const { root, data } = await render(payload);
        const what = JSON.stringify(payload);
        assert.equal(signature(root), baseline, `${what}: the same elements as with harmless data`);
        const walk = (parent: ParentNode): void => {
          for (const node of parent.childNodes) {
            if (!('tagName' in node)) continue;
            for (const a of node.attrs) {
              const problem = attrProblem(node.tagName, a);
              assert.equal(problem, undefined, `${what}: ${problem}`);
            }
            walk(node.tagName === 'template' ? (node as DefaultTreeAdapterMap['template']).content : node);
          }
        };
        walk(root);
        const scripts = query(root, 'script').filter((el) => attr(el, 'id') !== 'twin-hydration').map(scriptOf);
        assert.deepEqual(scripts, pageScripts, `${what}: only the page's own scripts, as they were`);
        // The parser reads a CR in text as LF (input stream preprocessing).
        assert.equal(text(one(root, 'p', { id: 'text' })), payload.replace(/\r\n?/g, '\n'), `${what}: text stays text`);
        assert.deepEqual(hydration(root), {
          shared: { 'xss/t': { value: data, v: 1 }, [`xss/${payload}`]: { value: { p: payload }, v: 1 } },
          local: {},
        }, `${what}: the hydration data round-trips`);
      }
    });
  });
});
