// SPDX-License-Identifier: MIT
/**
 * <twin-bind> beyond its main uses (bind.test.ts): attributes changed after it is connected,
 * bindings with no element to bind to, names the DOM refuses, server-rendered attributes, and
 * form controls whose store value is of another kind than they write.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { pageClient, unstable_watchers } from '../../src/index.js';
import type { RejectDetail } from '../../src/index.js';
import { captureConsole, flush, freshBox, recordMutations, until } from './helpers.js';

type Box = Record<string, any>;

/** Types `text` into `input` as a user would (one input event). */
function type(input: HTMLInputElement, text: string): void {
  input.value = text;
  input.dispatchEvent(new Event('input'));
}

/** Collects the page's uncaught errors until `stop()`. */
function captureErrors(): { errors: string[]; stop(): void } {
  const errors: string[] = [];
  const onError = (event: ErrorEvent) => void errors.push(event.message);
  window.addEventListener('error', onError);
  return { errors, stop: () => window.removeEventListener('error', onError) };
}

describe('<twin-bind> attributes changed after connection', () => {
  it('binds again to the new store, attribute, class, property or allow-unsafe list', async () => {
    const [a, b] = [await freshBox(), await freshBox()];
    b.handle.text = 'box b';
    const refusals = captureConsole('error'); // attr="style" is refused until allowed
    try {
      const el = await fixture(html`<div>
        <twin-bind id="store" store=${a.name} key="text"></twin-bind>
        <twin-bind id="attr" store=${a.name} key="text" attr="title"><span></span></twin-bind>
        <twin-bind id="toggle" store=${a.name} key="text" toggle="on"><span></span></twin-bind>
        <twin-bind id="prop" store=${a.name} key="n" prop="count"><span></span></twin-bind>
        <twin-bind id="unsafe" store=${a.name} key="choice" attr="style"><span></span></twin-bind>
      </div>`);
      const $ = (id: string) => el.querySelector(`#${id}`)!;
      const span = (id: string) => $(id).firstElementChild as HTMLElement & Record<string, unknown>;
      $('store').setAttribute('store', b.name);
      expect($('store').textContent).to.equal('box b');
      $('attr').setAttribute('attr', 'data-text');
      expect(span('attr').getAttribute('data-text')).to.equal('hello');
      $('toggle').setAttribute('toggle', 'lit');
      expect(span('toggle').classList.contains('lit')).to.equal(true);
      $('prop').setAttribute('prop', 'total');
      expect(span('prop').total).to.equal(0);
      expect(span('unsafe').hasAttribute('style'), 'refused').to.equal(false);
      $('unsafe').setAttribute('allow-unsafe', 'style');
      expect(span('unsafe').getAttribute('style')).to.equal('b');
    } finally {
      refusals.stop();
    }
  });
});

describe('<twin-bind> with nothing to bind to', () => {
  it('attr, toggle and prop without an element child do nothing, quietly', async () => {
    const { name, handle } = await freshBox();
    const warnings = captureConsole('warn');
    const uncaught = captureErrors();
    try {
      const el = await fixture(html`<div>
        <twin-bind store=${name} key="text" attr="title"></twin-bind>
        <twin-bind store=${name} key="flag" toggle="on"></twin-bind>
        <twin-bind store=${name} key="n" prop="count"></twin-bind>
      </div>`);
      handle.text = 'changed';
      handle.flag = true;
      handle.n = 2;
      await flush();
      expect(el.textContent!.trim()).to.equal('');
    } finally {
      warnings.stop();
      uncaught.stop();
    }
    expect(uncaught.errors).to.deep.equal([]);
    expect(warnings.lines).to.deep.equal([]);
  });

  it('a presence binding is never marked pending (presence is not a store write)', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} presence key="name"><input></twin-bind>`);
    type(el.querySelector('input')!, 'Ada');
    await flush();
    expect(el.hasAttribute('pending')).to.equal(false);
  });
});

describe('<twin-bind attr|toggle> names the DOM refuses', () => {
  it('warn once each, naming the binding', async () => {
    const { name, handle } = await freshBox();
    const warnings = captureConsole('warn');
    try {
      await fixture(html`<div>
        <twin-bind store=${name} key="text" attr="data x"><span></span></twin-bind>
        <twin-bind store=${name} key="flag" toggle="two words"><span></span></twin-bind>
      </div>`);
      handle.text = 'changed';
      handle.flag = true;
      await flush();
    } finally {
      warnings.stop();
    }
    expect(warnings.lines).to.deep.equal([
      '[twin-state] <twin-bind attr="data x">: that is not a valid attribute name.',
      '[twin-state] <twin-bind toggle="two words">: that is not a valid class name.',
    ]);
  });
});

describe('<twin-bind attr> and server-rendered attributes', () => {
  it('leaves one that is right alone, and removes one whose key leads nowhere', async () => {
    const { name } = await freshBox();
    const host = await fixture(html`<div></div>`);
    const recorder = recordMutations(host);
    host.innerHTML = `<twin-bind store="${name}" key="text" attr="title"><span id="right" title="hello"></span></twin-bind>`
      + `<twin-bind store="${name}" key="obj.missing" attr="title"><span id="stale" title="stale"></span></twin-bind>`;
    await flush();
    const records = recorder.stop().filter((r) => r.type === 'attributes');
    expect(records.map((r) => `${(r.target as Element).id} ${r.attributeName}`)).to.deep.equal(['stale title']);
    expect(host.querySelector('#right')!.getAttribute('title')).to.equal('hello');
    expect(host.querySelector('#stale')!.hasAttribute('title')).to.equal(false);
  });
});

describe('<twin-bind> form controls, values of other kinds', () => {
  it('a text control bound to an object shows its JSON and follows changes inside it', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="obj"><textarea></textarea></twin-bind>`);
    const area = el.querySelector('textarea')!;
    expect(area.value).to.equal('{"a":1,"b":[1,2]}');
    handle.obj.a = 5;
    await until(() => area.value === '{"a":5,"b":[1,2]}', 'the change inside the object');
    area.value = 'plain text';
    area.dispatchEvent(new Event('input'));
    expect((handle as Box).obj, 'the text replaces the object').to.equal('plain text');
  });

  it('a checkbox follows the store; a radio button on its own is checked only for its value', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key="flag"><input type="checkbox"></twin-bind>
      <twin-bind store=${name} key="choice"><input id="a" type="radio" value="a"></twin-bind>
      <twin-bind store=${name} key="choice"><input id="b" type="radio" name="other" value="b"></twin-bind>
    </div>`);
    const box = el.querySelector<HTMLInputElement>('[type=checkbox]')!;
    const radio = (id: string) => el.querySelector<HTMLInputElement>(`#${id}`)!;
    expect([box.checked, radio('a').checked, radio('b').checked]).to.deep.equal([false, false, true]);
    handle.flag = true;
    handle.choice = 'a';
    await until(() => box.checked, 'the checkbox');
    expect([radio('a').checked, radio('b').checked]).to.deep.equal([true, false]);
  });

  it('number and range fields write numbers whatever the store held; blank text is no number', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key="obj.count"><input id="num" type="number"></twin-bind>
      <twin-bind store=${name} key="obj.level"><input id="range" type="range" min="0" max="10"></twin-bind>
      <twin-bind store=${name} key="n"><input id="plain"></twin-bind>
    </div>`);
    const input = (id: string) => el.querySelector<HTMLInputElement>(`#${id}`)!;
    type(input('num'), '42');
    type(input('range'), '7');
    expect((handle as Box).obj).to.deep.equal({ a: 1, b: [1, 2], count: 42, level: 7 });
    handle.n = 5;
    type(input('plain'), '  ');
    expect(handle.n, 'nothing written').to.equal(5);
  });
});

describe('<twin-bind> binding policy, in the development sources', () => {
  it('refuses script-bearing names and URLs, each with a coded console error', async () => {
    const { name, handle } = await freshBox();
    handle.text = 'javascript:alert(1)';
    handle.tags[0] = 'javascript:alert(2)';
    const refusals = captureConsole('error');
    try {
      const el = await fixture(html`<div>
        <twin-bind store=${name} key="choice" attr="onclick"><button id="on"></button></twin-bind>
        <twin-bind store=${name} key="choice" attr="onclick"><button></button></twin-bind>
        <twin-bind store=${name} key="choice" prop="innerHTML"><p id="inner">kept</p></twin-bind>
        <twin-bind store=${name} key="text" attr="href"><a id="attr-url" href="/start">x</a></twin-bind>
        <twin-bind store=${name} key="tags.0" prop="href"><a id="prop-url" href="/start">x</a></twin-bind>
      </div>`);
      const $ = (id: string) => el.querySelector<HTMLElement>(`#${id}`)!;
      expect($('on').hasAttribute('onclick')).to.equal(false);
      expect($('inner').innerHTML).to.equal('kept');
      expect($('attr-url').hasAttribute('href'), 'a refused URL removes the attribute').to.equal(false);
      expect($('prop-url').getAttribute('href'), 'a property keeps its value').to.equal('/start');
    } finally {
      refusals.stop();
    }
    expect(refusals.lines.every((line) => line.includes('TWIN_ERR_UNSAFE'))).to.equal(true);
    expect(refusals.lines.filter((line) => line.includes('refused to bind onclick of a <button>')), 'once per message').to.have.length(1);
    expect(refusals.lines.filter((line) => line.includes('refused to bind innerHTML of a <p>'))).to.have.length(1);
    expect(refusals.lines.filter((line) => line.includes('refused a URL for href'))).to.have.length(2);
  });
});

describe('where <twin-bind> keys lead', () => {
  it('no key is the scope itself; a key through null, or a property of an array, leads nowhere', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<div>
      <twin-list store=${name} key="tags"><template><twin-bind class="tag"></twin-bind></template></twin-list>
      <twin-bind id="null" store=${name} key="forbidden.deeper"></twin-bind>
      <twin-bind id="length" store=${name} key="tags.length"></twin-bind>
      <twin-bind id="named" store=${name} key="items.first"></twin-bind>
    </div>`);
    expect([...el.querySelectorAll('.tag')].map((tag) => tag.textContent)).to.deep.equal(['x', 'y']);
    expect(['null', 'length', 'named'].map((id) => el.querySelector(`#${id}`)!.textContent)).to.deep.equal(['', '', '']);
  });

  it('a filled {param} store name binds without a warning', async () => {
    const { id } = await freshBox();
    const before = location.href;
    history.replaceState(null, '', `${location.pathname}?box=${id}`);
    const warnings = captureConsole('warn');
    try {
      const el = await fixture(html`<twin-bind store="box/{box}" key="text"></twin-bind>`);
      expect(el.textContent).to.equal('hello');
    } finally {
      warnings.stop();
      history.replaceState(null, '', before);
    }
    expect(warnings.lines).to.deep.equal([]);
  });

  it('a write below a list item that is not an object is refused, and said so', async () => {
    const { name, handle } = await freshBox();
    const list = await fixture(html`<twin-list store=${name} key="tags"><template><twin-bind key="label"><input></twin-bind></template></twin-list>`);
    const rejects: RejectDetail[] = [];
    const onReject = (event: Event) => void rejects.push((event as CustomEvent<RejectDetail>).detail);
    pageClient().addEventListener('reject', onReject);
    const warnings = captureConsole('warn');
    try {
      type(list.querySelector('input')!, 'typed');
    } finally {
      warnings.stop();
      pageClient().removeEventListener('reject', onReject);
    }
    expect(rejects.map((r) => [r.store, r.code])).to.deep.equal([[name, 'TWIN_ERR_VALUE']]);
    expect(rejects[0]!.message).to.contain('cannot write "typed" here: the key must name a property of an object');
    expect(handle.tags).to.deep.equal(['x', 'y']);
  });
});

describe('<twin-bind> text over server-rendered content', () => {
  it('replaces markup with its text, and leaves text that is already right alone', async () => {
    const { name } = await freshBox();
    const host = await fixture(html`<div></div>`);
    host.innerHTML = `<twin-bind id="markup" store="${name}" key="text"><b>hello</b></twin-bind>`
      + `<twin-bind id="mixed" store="${name}" key="text">hello<i>!</i></twin-bind>`;
    await flush();
    for (const id of ['markup', 'mixed']) {
      const el = host.querySelector(`#${id}`)!;
      expect([el.childNodes.length, el.firstChild!.nodeType, el.textContent], id).to.deep.equal([1, Node.TEXT_NODE, 'hello']);
    }
    // Two text nodes that read "hello" together: already right.
    const split = document.createElement('twin-bind');
    split.append('hel', 'lo');
    split.setAttribute('store', name);
    split.setAttribute('key', 'text');
    const recorder = recordMutations(host);
    host.append(split);
    await flush();
    expect(recorder.stop().length, 'only the insertion').to.equal(1);
  });
});

describe('twin elements leaving the page', () => {
  it('a key changed while out of the page binds nothing; removed, put back and removed in one turn is fine', async () => {
    const { handle, name } = await freshBox();
    const uncaught = captureErrors();
    try {
      const control = await fixture(html`<twin-bind store=${name} key="text"><input></twin-bind>`);
      control.remove();
      await flush();
      expect(unstable_watchers(handle), 'a control out of the page watches nothing').to.equal(0);
      const el = await fixture(html`<twin-bind store=${name} key="text"></twin-bind>`);
      const parent = el.parentElement!;
      el.remove();
      await flush();
      el.setAttribute('key', 'n');
      await flush();
      expect(unstable_watchers(handle), 'nothing watched by an element out of the page').to.equal(0);
      parent.append(el);
      expect(el.textContent).to.equal('0');
      el.remove();
      parent.append(el);
      el.remove();
      await flush();
      expect(unstable_watchers(handle)).to.equal(0);
    } finally {
      uncaught.stop();
    }
    expect(uncaught.errors).to.deep.equal([]);
  });

  it('a second copy of an element module defines nothing twice', async () => {
    // What a page gets with two bundles that both carry the elements (a second URL, a second copy).
    await import(new URL('../../elements/twin-show.ts?second-copy', import.meta.url).href);
    expect(customElements.get('twin-show')).to.be.a('function');
  });
});
