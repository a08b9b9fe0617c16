// SPDX-License-Identifier: MIT
/**
 * The `twin-action` attribute: a click calls the action with `twin-args`, a form submit calls
 * it with the form's fields, `aria-busy` marks the call in flight, and a refused call shows.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { status } from '../../src/index.js';
import { board, checked, writeChecked } from './app.js';
import { connectPage, nextEvent, serverRead, uniq, until } from './helpers.js';

interface Board { calls: Record<string, string[]>; counts: Record<string, number> }

before(() => connectPage());

describe('twin-action on a click', () => {
  it('calls the action with twin-args, marks it busy meanwhile, and shows its result', async () => {
    const id = uniq('c');
    const el = await fixture(html`<div store="board">
      <button twin-action="add_count" twin-args=${JSON.stringify([id, 2])}>+2</button>
      <span twin-action="slow_add" twin-args=${JSON.stringify([id])}>slow</span>
      <twin-bind key=${`counts.${id}`}></twin-bind>
    </div>`);
    const button = el.querySelector('button')!;
    const done = nextEvent(button, 'twin-done');
    button.click();
    expect(button.getAttribute('aria-busy')).to.equal('true');
    const event = await done;
    expect(event.result).to.equal(2);
    expect(button.hasAttribute('aria-busy')).to.equal(false);
    await until(() => el.querySelector('twin-bind')!.textContent === '2', 'the count');

    const span = el.querySelector('span')!;
    const slow = nextEvent(span, 'twin-done');
    span.click();
    span.click();
    expect(span.getAttribute('aria-busy')).to.equal('true');
    await slow;
    await until(() => !span.hasAttribute('aria-busy'), 'both calls to finish');
    await until(() => el.querySelector('twin-bind')!.textContent === '4', 'the count');
    expect((await serverRead<Board>('board'))!.counts[id]).to.equal(4);
    expect(board.counts[id]).to.equal(4);
  });

  it('a click inside the element counts; a button in a form does not submit it', async () => {
    const id = uniq('c');
    let submitted = 0;
    const el = await fixture(html`<form @submit=${(e: Event) => { submitted++; e.preventDefault(); }}>
      <button twin-action="log_push" twin-args=${JSON.stringify([id, 'clicked'])}><b>inner</b></button>
    </form>`);
    const button = el.querySelector('button')!;
    const done = nextEvent(button, 'twin-done');
    el.querySelector('b')!.click();
    await done;
    expect(submitted).to.equal(0);
    expect((await serverRead<Board>('board'))!.calls[id]).to.deep.equal(['clicked']);
  });

  it('a refused call fires twin-fail and shows in <twin-error>', async () => {
    const el = await fixture(html`<div><a href="#nowhere" twin-action="always_fail">fail</a><twin-error></twin-error></div>`);
    const link = el.querySelector('a')!;
    const failed = nextEvent(link, 'twin-fail');
    link.click();
    const event = await failed;
    expect((event.error as { code: string }).code).to.equal('TWIN_ERR_ACTION_FAILED');
    expect(location.hash).to.not.equal('#nowhere');
    const error = el.querySelector('twin-error')!;
    await until(() => !error.hidden, 'the error');
    expect(error.textContent).to.equal('This action always fails.');
    expect(error.getAttribute('code')).to.equal('TWIN_ERR_ACTION_FAILED');
  });
});

describe('an optimistic action refused by the server', () => {
  it('shows in <twin-error> for each store its local run wrote, and in status().error', async () => {
    await until(() => checked.texts, 'the checked store');
    const key = uniq('k');
    const el = await fixture(html`<div><twin-error store="checked"></twin-error><twin-error store="board"></twin-error></div>`);
    const [mine, other] = [...el.querySelectorAll('twin-error')];
    const refused = writeChecked(key, 'far too long').catch((err: { code: string }) => err.code);
    expect(checked.texts[key], 'shown at once').to.equal('far too long');
    expect(await refused).to.equal('TWIN_ERR_SCHEMA');
    await until(() => !mine!.hidden, 'the error on the store written');
    expect(mine!.getAttribute('code')).to.equal('TWIN_ERR_SCHEMA');
    expect(status(checked).error?.code).to.equal('TWIN_ERR_SCHEMA');
    expect(other!.hidden, 'a store it did not write hears nothing').to.equal(true);
    expect(checked.texts[key], 'rolled back').to.equal(undefined);
  });
});

describe('twin-action on a form', () => {
  it('calls the action with the named fields in document order, then resets the form', async () => {
    const id = uniq('f');
    const el = await fixture(html`<div>
      <form twin-action="log_push">
        <input type="hidden" name="id" value=${id}>
        <input name="text">
        <input name="unnamed-but-named" value="2">
        <input value="ignored: no name">
        <button name="via" value="send">Send</button>
      </form>
      <ul><twin-list store="board" key=${`calls.${id}`}><template><li><twin-bind key="."></twin-bind></li></template></twin-list></ul>
    </div>`);
    const form = el.querySelector('form')!;
    const text = form.querySelector<HTMLInputElement>('[name=text]')!;
    text.value = 'hello there';
    const done = nextEvent(form, 'twin-done');
    form.querySelector('button')!.click();
    expect(text.value, 'reset at once').to.equal('');
    expect(form.getAttribute('aria-busy')).to.equal('true');
    const event = await done;
    expect(event.args).to.deep.equal([id, 'hello there', '2', 'send']);
    expect(event.result).to.equal(1);
    await until(() => el.querySelectorAll('li').length === 1, 'the list item');
    expect(el.querySelector('li')!.textContent).to.equal('hello there|2|send');

    text.value = 'second';
    const again = nextEvent(form, 'twin-done');
    form.requestSubmit();
    await again;
    await until(() => el.querySelectorAll('li').length === 2, 'the second item');
  });

  it('works inside a shadow root, submitted by a click or after the focus moved in', async () => {
    const id = uniq('s');
    // method="dialog": were the submit not handled, the test page would not navigate away.
    const formIn = (host: Element) => {
      host.attachShadow({ mode: 'open' }).innerHTML = `<form method="dialog" twin-action="log_push">
        <input type="hidden" name="id" value="${id}"><input name="text"><button>Send</button></form>`;
      return host.shadowRoot!.querySelector('form')!;
    };
    const el = await fixture(html`<div><p></p><p></p></div>`);
    const [clicked, focused] = [...el.querySelectorAll('p')].map(formIn) as [HTMLFormElement, HTMLFormElement];

    clicked.querySelector('input[name=text]')!.setAttribute('value', 'by click');
    const done = nextEvent(clicked, 'twin-done');
    clicked.querySelector('button')!.click();
    expect((await done).args).to.deep.equal([id, 'by click']);

    const text = focused.querySelector<HTMLInputElement>('input[name=text]')!;
    text.focus();
    text.value = 'by enter';
    const again = nextEvent(focused, 'twin-done');
    focused.requestSubmit(); // what pressing Enter in the field does
    expect((await again).args).to.deep.equal([id, 'by enter']);
    expect((await serverRead<Board>('board'))!.calls[id]).to.deep.equal(['by click', 'by enter']);
  });
});
