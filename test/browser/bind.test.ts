// SPDX-License-Identifier: MIT
/**
 * <twin-bind> and <twin-show>: text, attribute, class and two-way bindings, where keys
 * resolve (own store, ancestor store, `{param}`), and conditional display.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { store } from '../../src/index.js';
import { TwinBindElement } from '../../elements/index.js';
import { flush, freshBox, recordMutations, serverRead, serverWrite, until } from './helpers.js';

type Box = Record<string, any>;

describe('<twin-bind> text', () => {
  it('shows each kind of value as the server renders it', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind id="s" store=${name} key="text"></twin-bind>
      <twin-bind id="n" store=${name} key="n"></twin-bind>
      <twin-bind id="f" store=${name} key="flag"></twin-bind>
      <twin-bind id="o" store=${name} key="obj"></twin-bind>
      <twin-bind id="a" store=${name} key="obj.b"></twin-bind>
      <twin-bind id="i" store=${name} key="obj.b.1"></twin-bind>
      <twin-bind id="d" store=${name} key="items.0.text"></twin-bind>
      <twin-bind id="m" store=${name} key="obj.missing.deeper"></twin-bind>
      <twin-bind id="z" store=${name} key="forbidden"></twin-bind>
      <twin-bind id="p" store=${name} key="text.length"></twin-bind>
    </div>`);
    const text = (id: string) => el.querySelector(`#${id}`)!.textContent;
    expect(text('s')).to.equal('hello');
    expect(text('n')).to.equal('0');
    expect(text('f')).to.equal('false');
    expect(text('o')).to.equal('{"a":1,"b":[1,2]}');
    expect(text('a')).to.equal('[1,2]');
    expect(text('i')).to.equal('2');
    expect(text('d')).to.equal('one');
    expect(text('m')).to.equal('');
    expect(text('z')).to.equal(''); // null
    expect(text('p')).to.equal(''); // not an own property: as the server renders it
    handle.obj.b.push(3);
    handle.n = 1.5;
    await until(() => text('o') === '{"a":1,"b":[1,2,3]}' && text('n') === '1.5', 'the new values');
    expect(text('a')).to.equal('[1,2,3]');
  });

  it('follows writes from the server, touching only its own text node', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<p><twin-bind store=${name} key="text"></twin-bind> <twin-bind store=${name} key="n"></twin-bind></p>`);
    const node = el.querySelector('twin-bind')!.firstChild;
    const recorder = recordMutations(el);
    await serverWrite(name, 'text', 'from the server');
    await until(() => el.querySelector('twin-bind')!.textContent === 'from the server', 'the server write');
    await flush();
    const records = recorder.stop();
    expect(records.map((r) => r.type)).to.deep.equal(['characterData']);
    expect(el.querySelector('twin-bind')!.firstChild).to.equal(node);
  });

  it('does not touch the DOM when what it shows is already there (server-rendered text)', async () => {
    const { name } = await freshBox();
    const host = await fixture(html`<div></div>`);
    const recorder = recordMutations(host);
    host.innerHTML = `<twin-bind store="${name}" key="text">hello</twin-bind>`;
    await flush();
    const records = recorder.stop();
    expect(records.length, 'only the insertion').to.equal(1);
    expect(host.textContent).to.equal('hello');
  });

  it('takes its store from the nearest ancestor with a store attribute, through a shadow root', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<section store=${name}><div><twin-bind key="text"></twin-bind></div></section>`);
    expect(el.querySelector('twin-bind')!.textContent).to.equal('hello');
    const host = await fixture(html`<div store=${name}></div>`);
    host.attachShadow({ mode: 'open' }).innerHTML = '<twin-bind key="items.1.text"></twin-bind>';
    expect(host.shadowRoot!.querySelector('twin-bind')!.textContent).to.equal('two');
  });

  it('fills {param} in store names from the query string', async () => {
    const { id } = await freshBox();
    const before = location.href;
    history.replaceState(null, '', `${location.pathname}${location.search}${location.search ? '&' : '?'}box=${id}`);
    try {
      const el = await fixture(html`<twin-bind store="box/{box}" key="text"></twin-bind>`);
      expect(el.textContent).to.equal('hello');
      const warnings: string[] = [];
      const warn = console.warn;
      console.warn = (...args: unknown[]) => void warnings.push(args.join(' '));
      const unbound = await fixture(html`<twin-bind store="box/{nope}" key="text">as rendered</twin-bind>`).finally(() => void (console.warn = warn));
      expect(unbound.textContent).to.equal('as rendered');
      expect(warnings.some((w) => w.includes('"box/{nope}" needs a query parameter'))).to.equal(true);
    } finally {
      history.replaceState(null, '', before);
    }
  });

  it('binds again when its key changes', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="text"></twin-bind>`);
    el.setAttribute('key', 'items.2.text');
    expect(el.textContent).to.equal('three');
  });
});

describe('<twin-bind attr|toggle|prop>', () => {
  it('attr sets, empties and removes an attribute of its first element child', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key="text" attr="title"><span id="t"></span></twin-bind>
      <twin-bind store=${name} key="flag" attr="data-on"><span id="f"></span></twin-bind>
      <twin-bind store=${name} key="n" attr="aria-valuenow"><span id="n"></span></twin-bind>
    </div>`);
    const t = el.querySelector('#t')!;
    const f = el.querySelector('#f')!;
    const n = el.querySelector('#n')!;
    expect(t.getAttribute('title')).to.equal('hello');
    expect(f.hasAttribute('data-on')).to.equal(false);
    expect(n.getAttribute('aria-valuenow')).to.equal('0');
    handle.flag = true;
    handle.n = 4;
    handle.text = null as unknown as string;
    await until(() => f.getAttribute('data-on') === '' && n.getAttribute('aria-valuenow') === '4', 'the attributes');
    expect(t.hasAttribute('title')).to.equal(false);
  });

  it('toggle adds a class while the value is truthy, keeping the others', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="flag" toggle="on"><span class="keep"></span></twin-bind>`);
    const span = el.querySelector('span')!;
    expect(span.className).to.equal('keep');
    handle.flag = true;
    await until(() => span.classList.contains('on'), 'the class');
    expect(span.classList.contains('keep')).to.equal(true);
    handle.flag = false;
    await until(() => !span.classList.contains('on'), 'the class to go');
  });

  it('prop sets a property of its first element child', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="items" prop="items"><div></div></twin-bind>`);
    const div = el.querySelector('div') as HTMLDivElement & { items?: { text: string }[] };
    expect(div.items![1]!.text).to.equal('two');
    handle.items.push({ id: 4, text: 'four' });
    await until(() => div.items!.length === 4, 'the property');
  });
});

describe('<twin-bind> two-way', () => {
  it('binds a text input: shows the value, writes what the user types', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="text"><input></twin-bind>`);
    const input = el.querySelector('input')!;
    expect(input.value).to.equal('hello');
    input.value = 'typed';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    expect(handle.text).to.equal('typed');
    await until(async () => (await serverRead<Box>(name))?.text === 'typed', 'the write on the server');
    await serverWrite(name, 'text', 'server says');
    await until(() => input.value === 'server says', 'the server value in the input');
  });

  it('keeps numbers numbers, and leaves "1.50" alone while it means 1.5', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key="n"><input id="plain"></twin-bind>
      <twin-bind store=${name} key="obj.a"><input id="num" type="number"></twin-bind>
      <twin-bind store=${name} key="n"><input id="range" type="range" min="0" max="10"></twin-bind>
    </div>`);
    const plain = el.querySelector<HTMLInputElement>('#plain')!;
    const num = el.querySelector<HTMLInputElement>('#num')!;
    expect(plain.value).to.equal('0');
    plain.value = '1.50';
    plain.dispatchEvent(new Event('input'));
    expect(handle.n).to.equal(1.5);
    await flush();
    expect(plain.value).to.equal('1.50');
    plain.value = '1.5x';
    plain.dispatchEvent(new Event('input'));
    expect(handle.n, 'not a number: nothing written').to.equal(1.5);
    num.value = '42';
    num.dispatchEvent(new Event('input'));
    expect(handle.obj.a).to.equal(42);
    const range = el.querySelector<HTMLInputElement>('#range')!;
    range.value = '7';
    range.dispatchEvent(new Event('input'));
    expect(handle.n).to.equal(7);
    await until(async () => (await serverRead<Box>(name))?.n === 7, 'the number on the server');
  });

  it('binds a textarea and a select', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key="text"><textarea></textarea></twin-bind>
      <twin-bind store=${name} key="choice"><select><option>a</option><option>b</option><option value="c">C!</option></select></twin-bind>
    </div>`);
    const area = el.querySelector('textarea')!;
    const select = el.querySelector('select')!;
    expect(area.value).to.equal('hello');
    expect(select.value).to.equal('b');
    area.value = 'line 1\nline 2';
    area.dispatchEvent(new Event('input'));
    expect(handle.text).to.equal('line 1\nline 2');
    select.value = 'c';
    select.dispatchEvent(new Event('change'));
    expect(handle.choice).to.equal('c');
    handle.choice = 'a';
    await until(() => select.value === 'a', 'the select to follow');
  });

  it('binds checkboxes (booleans) and radio buttons (checked when the value matches)', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key="flag"><input type="checkbox"></twin-bind>
      <twin-bind store=${name} key="choice"><input type="radio" name="r" value="a"></twin-bind>
      <twin-bind store=${name} key="choice"><input type="radio" name="r" value="b"></twin-bind>
    </div>`);
    const box = el.querySelector<HTMLInputElement>('[type=checkbox]')!;
    const [a, b] = [...el.querySelectorAll<HTMLInputElement>('[type=radio]')];
    expect(box.checked).to.equal(false);
    expect(b!.checked).to.equal(true);
    box.click();
    expect(handle.flag).to.equal(true);
    a!.click();
    expect(handle.choice).to.equal('a');
    handle.flag = false;
    handle.choice = 'b';
    await flush();
    await until(() => !box.checked && b!.checked && !a!.checked, 'the controls to follow');
    await until(async () => (await serverRead<Box>(name))?.choice === 'b', 'the server');
  });

  it('writes through a key whose objects do not exist yet', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="profile.name"><input></twin-bind>`);
    const input = el.querySelector('input')!;
    expect(input.value).to.equal('');
    input.value = 'Ada';
    input.dispatchEvent(new Event('input'));
    expect((handle as Box).profile).to.deep.equal({ name: 'Ada' });
  });
});

describe('<twin-show>', () => {
  it('is hidden unless the value is truthy; `not` inverts; `equals` compares the text', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-show id="on" store=${name} key="flag">on</twin-show>
      <twin-show id="off" store=${name} key="flag" not>off</twin-show>
      <twin-show id="b" store=${name} key="choice" equals="b">b</twin-show>
      <twin-show id="notb" store=${name} key="choice" equals="b" not>not b</twin-show>
      <twin-show id="zero" store=${name} key="n" equals="0">zero</twin-show>
    </div>`);
    const hidden = (id: string) => el.querySelector(`#${id}`)!.hasAttribute('hidden');
    expect([hidden('on'), hidden('off'), hidden('b'), hidden('notb'), hidden('zero')]).to.deep.equal([true, false, false, true, false]);
    handle.flag = true;
    handle.choice = 'c';
    handle.n = 1;
    await until(() => !hidden('on'), 'the change');
    expect([hidden('on'), hidden('off'), hidden('b'), hidden('notb'), hidden('zero')]).to.deep.equal([false, true, true, false, true]);
    expect(getComputedStyle(el.querySelector('#off')!).display).to.equal('none');
  });

  it('tests again when its store, key, equals or not attribute changes', async () => {
    const [a, b] = [await freshBox(), await freshBox()];
    b.handle.flag = true;
    const el = await fixture<HTMLElement>(html`<twin-show store=${a.name} key="flag">x</twin-show>`);
    expect(el.hidden, 'a.flag is false').to.equal(true);
    el.setAttribute('store', b.name);
    expect(el.hidden, 'b.flag is true').to.equal(false);
    el.setAttribute('key', 'n');
    expect(el.hidden, 'b.n is 0').to.equal(true);
    el.setAttribute('equals', '0');
    expect(el.hidden, 'b.n is "0"').to.equal(false);
    el.setAttribute('not', '');
    expect(el.hidden, 'not "0"').to.equal(true);
    el.removeAttribute('not');
    expect(el.hidden).to.equal(false);
  });
});

describe('moving bound elements', () => {
  it('keeps the binding through a move, and binds again when moved under another store', async () => {
    const [a, b] = [await freshBox(), await freshBox()];
    b.handle.text = 'box b';
    const wrap = await fixture(html`<div><section id="a" store=${a.name}><twin-bind key="text"></twin-bind></section><section id="b" store=${b.name}></section></div>`);
    const el = wrap.querySelector('twin-bind')!;
    const node = el.firstChild;
    wrap.querySelector('#a')!.append(el); // moved in place: same binding, same text node
    await flush();
    expect(el.firstChild).to.equal(node);
    wrap.querySelector('#b')!.append(el);
    expect(el.textContent).to.equal('box b');
    a.handle.text = 'a changed';
    b.handle.text = 'b changed';
    await until(() => el.textContent === 'b changed', 'the new store');
  });
});

describe('dev-mode warnings', () => {
  it('warn once about an element without a store and about bad twin-args', async () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.join(' '));
    try {
      await fixture(html`<div><twin-bind key="orphan"></twin-bind><twin-bind key="orphan"></twin-bind></div>`);
      const button = await fixture<HTMLButtonElement>(html`<button twin-action="add_count" twin-args="[oops">x</button>`);
      button.click();
    } finally {
      console.warn = warn;
    }
    expect(warnings.filter((w) => w.includes('has no store'))).to.have.length(1);
    expect(warnings.filter((w) => w.includes('twin-args="[oops" is not JSON'))).to.have.length(1);
  });
});

describe('element classes', () => {
  it('are registered under their tags', () => {
    expect(document.createElement('twin-bind')).to.be.instanceOf(TwinBindElement);
    expect(customElements.get('twin-show')).to.be.a('function');
    expect(customElements.get('twin-list')).to.be.a('function');
    expect(customElements.get('twin-status')).to.be.a('function');
    expect(customElements.get('twin-error')).to.be.a('function');
    expect(store).to.be.a('function');
  });
});
