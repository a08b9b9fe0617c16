// SPDX-License-Identifier: MIT
/**
 * <twin-list>: items rendered from the template with item-relative keys, and a change
 * touching only what changed (counted with a MutationObserver).
 */
import { expect, fixture, html } from '@open-wc/testing';
import { captureConsole, flush, freshBox, recordMutations, serverRead, serverWrite, until } from './helpers.js';

type Box = Record<string, any>;

const texts = (root: Element) => [...root.querySelectorAll(':scope > li')].map((li) => li.textContent!.trim());

async function listOf(name: string): Promise<Element> {
  return fixture(html`<twin-list store=${name} key="items"><template><li><twin-bind key="id"></twin-bind>:<twin-bind key="text"></twin-bind></li></template></twin-list>`);
}

/** Whether `node` is `item` or inside it. */
const within = (node: Node, item: Element) => node === item || item.contains(node);

describe('<twin-list>', () => {
  it('renders one copy of the template per item, keys relative to the item', async () => {
    const { name } = await freshBox();
    const list = await listOf(name);
    expect(texts(list)).to.deep.equal(['1:one', '2:two', '3:three']);
    expect(list.querySelector('template')).to.exist;
  });

  it('a changed field inside one item touches only that item\'s bound text node', async () => {
    const { name, handle } = await freshBox();
    const list = await listOf(name);
    const second = list.querySelectorAll('li')[1]!;
    const recorder = recordMutations(list);
    handle.items[1]!.text = 'TWO';
    await until(() => second.textContent === '2:TWO', 'the item to change');
    await flush();
    let records = recorder.stop();
    expect(records).to.have.length(1);
    expect(records[0]!.type).to.equal('characterData');
    expect(within(records[0]!.target, second)).to.equal(true);

    const again = recordMutations(list);
    await serverWrite(name, 'items.2.text', 'THREE'); // from the server
    await until(() => texts(list)[2] === '3:THREE', 'the server write');
    await flush();
    records = again.stop();
    expect(records).to.have.length(1);
    expect(within(records[0]!.target, list.querySelectorAll('li')[2]!)).to.equal(true);
  });

  it('adds and removes only the items that came and went, reusing the others', async () => {
    const { name, handle } = await freshBox();
    const list = await listOf(name);
    const [one, two, three] = [...list.querySelectorAll('li')];
    let recorder = recordMutations(list);
    handle.items.push({ id: 4, text: 'four' });
    await until(() => texts(list).length === 4, 'the new item');
    await flush();
    let records = recorder.stop();
    const four = list.querySelectorAll('li')[3]!;
    // Inserting the new item's nodes, then its bindings filling in their text: nothing else.
    for (const r of records) {
      const inNew = within(r.target, four) || [...r.addedNodes].some((n) => n === four || four.contains(n) || (n.nodeType === 3 && r.target === list));
      expect(inNew, `a mutation outside the new item: ${r.type} on ${(r.target as Element).outerHTML ?? r.target.nodeName}`).to.equal(true);
      expect(r.removedNodes.length).to.equal(0);
    }
    expect([...list.querySelectorAll('li')].slice(0, 3)).to.deep.equal([one, two, three]);

    recorder = recordMutations(list);
    handle.items.splice(1, 1);
    await until(() => texts(list).length === 3, 'the removal');
    await flush();
    records = recorder.stop();
    expect(records.every((r) => r.type === 'childList' && r.addedNodes.length === 0 && r.target === list)).to.equal(true);
    expect([...records.flatMap((r) => [...r.removedNodes])]).to.include(two);
    expect([...list.querySelectorAll('li')]).to.deep.equal([one, three, four]);
    expect(texts(list)).to.deep.equal(['1:one', '3:three', '4:four']);
    await until(async () => (await serverRead<Box>(name))?.items.length === 3, 'the server');
  });

  it('moves the DOM of moved items (sort, reverse, splice out and back) without re-rendering them', async () => {
    const { name, handle } = await freshBox();
    const list = await listOf(name);
    const [one, two, three] = [...list.querySelectorAll('li')];
    let recorder = recordMutations(list);
    handle.items.reverse();
    await until(() => texts(list)[0] === '3:three', 'the reverse');
    await flush();
    let records = recorder.stop();
    expect([...list.querySelectorAll('li')]).to.deep.equal([three, two, one]);
    expect(records.filter((r) => r.type !== 'childList' || r.target !== list), 'only moves of items').to.deep.equal([]);
    // Two of three moved (one stays): each move is a removal and an insertion.
    expect(records.filter((r) => r.addedNodes.length).length).to.equal(2);

    recorder = recordMutations(list);
    const [first] = handle.items.splice(0, 1);
    handle.items.push(first!);
    await until(() => texts(list)[2] === '3:three', 'the move');
    await flush();
    records = recorder.stop();
    expect([...list.querySelectorAll('li')]).to.deep.equal([two, one, three]);
    expect(records.filter((r) => r.type !== 'childList')).to.deep.equal([]);
    expect(records.filter((r) => r.addedNodes.length).length).to.equal(1);
  });

  it('renders arrays of plain values, two-way with key="."', async () => {
    const { name, handle } = await freshBox();
    const list = await fixture(html`<twin-list store=${name} key="tags"><template><li><twin-bind key="."></twin-bind><twin-bind key=""><input></twin-bind></li></template></twin-list>`);
    expect(texts(list)).to.deep.equal(['x', 'y']);
    const input = list.querySelectorAll('input')[1]!;
    expect(input.value).to.equal('y');
    input.value = 'why';
    input.dispatchEvent(new Event('input'));
    expect(handle.tags).to.deep.equal(['x', 'why']);
    await until(() => texts(list)[1] === 'why', 'the item text');
    handle.tags.unshift('w');
    await until(() => texts(list).join() === 'w,x,why', 'the new first item');
  });

  it('nests: a list inside an item reads from the item', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<twin-list store=${name} key="nested.lists"><template>
      <section><h3><twin-bind key="name"></twin-bind></h3>
        <twin-list key="items"><template><p><twin-bind key="text"></twin-bind></p></template></twin-list>
      </section></template></twin-list>`);
    expect(el.querySelector('h3')!.textContent).to.equal('first');
    expect([...el.querySelectorAll('p')].map((p) => p.textContent)).to.deep.equal(['ten']);
    handle.nested.lists[0]!.items.push({ id: 11, text: 'eleven' });
    handle.nested.lists.push({ name: 'second', items: [{ id: 20, text: 'twenty' }] });
    await until(() => el.querySelectorAll('p').length === 3, 'the nested items');
    expect([...el.querySelectorAll('h3')].map((h) => h.textContent)).to.deep.equal(['first', 'second']);
    expect([...el.querySelectorAll('p')].map((p) => p.textContent)).to.deep.equal(['ten', 'eleven', 'twenty']);
  });

  it('replaces server-rendered items (data-twin-ssr) on upgrade', async () => {
    const { name } = await freshBox();
    const host = await fixture(html`<div></div>`);
    host.innerHTML = `<twin-list store="${name}" key="items"><template><li><twin-bind key="text"></twin-bind></li></template>
<li data-twin-ssr><twin-bind key="text">one</twin-bind></li>
<li data-twin-ssr><twin-bind key="text">stale</twin-bind></li></twin-list>`;
    const list = host.querySelector('twin-list')!;
    expect(list.querySelectorAll('[data-twin-ssr]')).to.have.length(0);
    expect(texts(list)).to.deep.equal(['one', 'two', 'three']);
    expect(list.querySelector(':scope > template'), 'the template stays').to.exist;
  });

  it('leaves children that are neither its template nor server-rendered items alone', async () => {
    const { name } = await freshBox();
    const list = await fixture(html`<twin-list store=${name} key="tags"><p class="note">Tags:</p><template><li><twin-bind key="."></twin-bind></li></template></twin-list>`);
    expect(texts(list)).to.deep.equal(['x', 'y']);
    expect(list.querySelector(':scope > p.note')!.textContent).to.equal('Tags:');
  });

  it('without a <template> child, renders nothing and warns once', async () => {
    const { name } = await freshBox();
    const errors: string[] = [];
    const onError = (event: ErrorEvent) => void errors.push(event.message);
    window.addEventListener('error', onError);
    const warnings = captureConsole('warn');
    let list: Element;
    try {
      list = await fixture(html`<twin-list store=${name} key="items"><li>static</li></twin-list>`);
      await flush();
    } finally {
      warnings.stop();
      window.removeEventListener('error', onError);
    }
    expect(errors).to.deep.equal([]);
    expect(texts(list)).to.deep.equal(['static']);
    expect(warnings.lines.filter((w) => w.includes('needs a <template> child: the markup of one item'))).to.have.length(1);
  });

  it('renders again from the new array when its key or store changes, and only then', async () => {
    const [a, b] = [await freshBox(), await freshBox()];
    b.handle.items[0]!.text = 'b one';
    const list = await fixture(html`<twin-list store=${a.name} key="items"><template><li><twin-bind key="text"></twin-bind></li></template></twin-list>`);
    expect(texts(list)).to.deep.equal(['one', 'two', 'three']);
    const first = list.querySelector('li');
    list.setAttribute('key', 'items'); // the same key: nothing to do
    list.parentElement!.append(list); // moved, still under the same store: the same binding
    await flush();
    expect(list.querySelector('li'), 'the same items').to.equal(first);
    expect(texts(list)).to.deep.equal(['one', 'two', 'three']);
    list.setAttribute('key', 'nested.lists.0.items');
    expect(texts(list)).to.deep.equal(['ten']);
    list.setAttribute('store', b.name);
    list.setAttribute('key', 'items');
    expect(texts(list)).to.deep.equal(['b one', 'two', 'three']);
  });

  it('follows an array replaced or changed by value: copies, other values, repeated values', async () => {
    const { name, handle } = await freshBox();
    const list = await listOf(name);
    handle.items.push({ ...handle.items[0]! }); // a copy: an item of its own
    await until(() => texts(list).length === 4, 'the copy');
    expect(texts(list)).to.deep.equal(['1:one', '2:two', '3:three', '1:one']);
    (handle as Box).items = [{ id: 9, text: 'nine' }, { id: 8, text: 'eight' }];
    await until(() => texts(list)[0] === '9:nine', 'the new array');
    expect(texts(list)).to.deep.equal(['9:nine', '8:eight']);

    const tags = await fixture(html`<twin-list store=${name} key="tags"><template><li><twin-bind key="."></twin-bind></li></template></twin-list>`);
    handle.tags = ['y', 'z'];
    await until(() => texts(tags).join() === 'y,z', 'the new tags');
    expect(tags.querySelectorAll('li')).to.have.length(2);
    handle.tags = ['x', 'x', 'y'];
    await until(() => texts(tags).join() === 'x,x,y', 'repeated tags');
    const [x1, x2, y] = [...tags.querySelectorAll('li')];
    handle.tags.reverse();
    await until(() => texts(tags).join() === 'y,x,x', 'the reverse');
    const after = [...tags.querySelectorAll('li')];
    // The same three items; only "y" moved (equal values keep their order: the fewest moves).
    expect([after[0] === y, after[1] === x1, after[2] === x2]).to.deep.equal([true, true, true]);
  });

  it('keeps each object\'s DOM with it, even among objects of equal content', async () => {
    const { name, handle } = await freshBox();
    handle.items = [{ id: 7, text: 'same' }, { id: 7, text: 'same' }];
    const list = await listOf(name);
    const [first, second] = [...list.querySelectorAll('li')];
    first!.classList.add('opened'); // state of the page's own, in the DOM of the first object
    handle.items.splice(0, 1);
    await until(() => list.querySelectorAll('li').length === 1, 'the removal');
    expect(list.querySelector('li') === second, 'the second object keeps its DOM; the first\'s goes with it').to.equal(true);
    expect(first!.isConnected).to.equal(false);
  });

  it('shows nothing for a value that is not an array, and follows it becoming one', async () => {
    const { name, handle } = await freshBox();
    const list = await fixture(html`<twin-list store=${name} key="later"><template><li><twin-bind key="."></twin-bind></li></template></twin-list>`);
    expect(texts(list)).to.deep.equal([]);
    (handle as Box).later = ['a', 'b'];
    await until(() => texts(list).join() === 'a,b', 'the array');
    (handle as Box).later = 'no longer';
    await until(() => texts(list).length === 0, 'the items to go');
  });
});

describe('<twin-list> item writes', () => {
  const type = (input: HTMLInputElement, text: string) => {
    input.value = text;
    input.dispatchEvent(new Event('input'));
  };

  it('an input writes to its own item after items were added in front (unshift), strings and objects', async () => {
    const { name, handle } = await freshBox();
    const tags = await fixture(html`<twin-list store=${name} key="tags"><template><li><twin-bind key="."><input></twin-bind></li></template></twin-list>`);
    const items = await fixture(html`<twin-list store=${name} key="items"><template><li><twin-bind key="text"><input></twin-bind></li></template></twin-list>`);
    handle.tags.unshift('v', 'w');
    handle.items.unshift({ id: 0, text: 'zero' });
    await until(() => tags.querySelectorAll('input').length === 4 && items.querySelectorAll('input').length === 4, 'the new rows');
    type(tags.querySelectorAll('input')[3]!, 'why'); // row 4 shows 'y', now tags[3]
    type(items.querySelectorAll('input')[2]!, 'TWO'); // row 3 shows 'two', now items[2]
    expect(handle.tags).to.deep.equal(['v', 'w', 'x', 'why']);
    expect(handle.items.map((item: { text: string }) => item.text)).to.deep.equal(['zero', 'one', 'TWO', 'three']);
    await until(async () => (await serverRead<Box>(name))?.tags.join() === 'v,w,x,why', 'the server');
    expect((await serverRead<Box>(name))!.items.map((item: { text: string }) => item.text)).to.deep.equal(['zero', 'one', 'TWO', 'three']);
  });

  it('an input event in the same turn as an unshift writes to the item where it is now', async () => {
    const { name, handle } = await freshBox();
    const list = await fixture(html`<twin-list store=${name} key="tags"><template><li><twin-bind key="."><input></twin-bind></li></template></twin-list>`);
    const y = list.querySelectorAll('input')[1]!; // shows 'y', tags[1]
    handle.tags.unshift('w'); // 'y' is tags[2] now; the list re-renders in a microtask
    type(y, 'why');
    expect(handle.tags).to.deep.equal(['w', 'x', 'why']);
    await until(() => texts(list).length === 3, 'the rows');
    expect([...list.querySelectorAll('input')].map((input) => input.value)).to.deep.equal(['w', 'x', 'why']);
    await until(async () => (await serverRead<Box>(name))?.tags.join() === 'w,x,why', 'the server');
  });

  it('the first item\'s input writes; an input whose item left the array in the same turn writes nothing', async () => {
    const { name, handle } = await freshBox();
    const tags = await fixture(html`<twin-list store=${name} key="tags"><template><li><twin-bind key="."><input></twin-bind></li></template></twin-list>`);
    const items = await fixture(html`<twin-list store=${name} key="items"><template><li><twin-bind key="text"><input></twin-bind></li></template></twin-list>`);
    const [x, y] = [...tags.querySelectorAll('input')];
    type(x!, 'ex');
    expect(handle.tags).to.deep.equal(['ex', 'y']);
    const one = items.querySelector('input')!;
    const warnings = captureConsole('warn');
    try {
      handle.tags.splice(1, 1);
      type(y!, 'why');
      handle.items.splice(0, 1);
      type(one, 'ONE');
    } finally {
      warnings.stop();
    }
    expect(warnings.lines).to.deep.equal([]);
    expect(handle.tags).to.deep.equal(['ex']);
    expect(handle.items.map((item: { text: string }) => item.text)).to.deep.equal(['two', 'three']);
    await until(async () => (await serverRead<Box>(name))?.tags.join() === 'ex', 'the server');
  });

  it('typing into an item of plain values keeps its input (and the focus) in place', async () => {
    const { name, handle } = await freshBox();
    const list = await fixture(html`<twin-list store=${name} key="tags"><template><li><twin-bind key="."><input></twin-bind></li></template></twin-list>`);
    const input = list.querySelectorAll('input')[1]!;
    input.focus();
    for (const text of ['y1', 'y12', 'y123']) {
      type(input, text);
      await flush();
    }
    expect(handle.tags).to.deep.equal(['x', 'y123']);
    expect(input.isConnected, 'the same input element').to.equal(true);
    expect(document.activeElement).to.equal(input);
    expect(list.querySelectorAll('input')[1]).to.equal(input);
  });
});
