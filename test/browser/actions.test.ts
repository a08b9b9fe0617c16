// SPDX-License-Identifier: MIT
/**
 * The `twin-action` attribute: a click calls the action with `twin-args`, a form submit calls
 * it with the form's fields, `aria-busy` marks the call in flight, and a refused call shows.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { status } from '../../src/index.js';
import type { TwinActionEvent } from '../../elements/index.js';
import { board, checked, writeChecked } from './app.js';
import { captureConsole, connectPage, nextEvent, serverRead, uniq, until } from './helpers.js';

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

describe('twin-action arguments', () => {
  it('no twin-args: no arguments; a JSON value that is not an array: that one argument', async () => {
    const id = uniq('a');
    const el = await fixture(html`<div>
      <a twin-action="always_fail">fail</a>
      <button twin-action="log_push" twin-args=${JSON.stringify(id)}>one</button>
    </div>`);
    const link = el.querySelector('a')!;
    const failed = nextEvent(link, 'twin-fail');
    link.click();
    expect((await failed).args).to.deep.equal([]);
    const button = el.querySelector('button')!;
    const done = nextEvent(button, 'twin-done');
    button.click();
    expect((await done).args).to.deep.equal([id]);
    expect((await serverRead<Board>('board'))!.calls[id]).to.deep.equal(['']);
  });

  it('twin-args that is not JSON: one warning, and no call', async () => {
    const el = await fixture<HTMLButtonElement>(html`<button twin-action="add_count" twin-args="[1, oops">+1</button>`);
    const warnings = captureConsole('warn');
    try {
      el.click();
    } finally {
      warnings.stop();
    }
    expect(el.hasAttribute('aria-busy'), 'no call in flight').to.equal(false);
    expect(warnings.lines).to.have.length(1);
    expect(warnings.lines[0]).to.contain('twin-args="[1, oops" is not JSON: write a JSON array');
  });
});

describe('twin-action events', () => {
  it('bubble, and leave the shadow root they were fired in', async () => {
    const id = uniq('e');
    const el = await fixture<HTMLElement>(html`<div><button twin-action="log_push" twin-args=${JSON.stringify([id, 'light'])}>light</button><p></p></div>`);
    const host = el.querySelector('p')!;
    host.attachShadow({ mode: 'open' }).innerHTML = `<button twin-action="log_push" twin-args='${JSON.stringify([id, 'shadow'])}'>shadow</button>`;
    // (The target as the listener sees it: once dispatched, an event from a shadow tree has none.)
    const heard: { event: TwinActionEvent; target: EventTarget | null }[] = [];
    el.addEventListener('twin-done', (event) => void heard.push({ event, target: event.target }));
    const light = nextEvent(el, 'twin-done');
    el.querySelector('button')!.click();
    await light;
    const shadow = nextEvent(el, 'twin-done');
    host.shadowRoot!.querySelector('button')!.click();
    await shadow;
    expect(heard.map(({ event }) => [event.action, event.args[1]])).to.deep.equal([['log_push', 'light'], ['log_push', 'shadow']]);
    expect(heard[0]!.target).to.equal(el.querySelector('button'));
    expect(heard[1]!.target, 'seen from outside: its host').to.equal(host);
  });
});

describe('what twin-action leaves alone', () => {
  it('clicks and focus outside twin-action elements, and a checkbox with twin-action outside a form', async () => {
    const id = uniq('n');
    const errors: string[] = [];
    const onError = (event: ErrorEvent) => void errors.push(event.message);
    window.addEventListener('error', onError);
    try {
      const el = await fixture(html`<div>
        <button id="plain">plain</button><input id="field">
        <input type="checkbox" twin-action="add_count" twin-args=${JSON.stringify([id, 1])}>
      </div>`);
      el.querySelector<HTMLButtonElement>('#plain')!.click();
      el.querySelector<HTMLInputElement>('#field')!.focus();
      const box = el.querySelector<HTMLInputElement>('[type=checkbox]')!;
      const done = nextEvent(box, 'twin-done');
      box.click();
      expect(box.checked, 'the click still checks it').to.equal(true);
      expect((await done).result).to.equal(1);
    } finally {
      window.removeEventListener('error', onError);
    }
    expect(errors).to.deep.equal([]);
  });

  it('a failed call of an action the server has gives no warning (only unknown actions do)', async () => {
    // An action no other twin-action of this file calls: a warning is shown once per action.
    await until(() => checked.texts, 'the checked store');
    const button = await fixture<HTMLButtonElement>(html`<button twin-action="write_checked" twin-args=${JSON.stringify([uniq('k'), 'far too long'])}>x</button>`);
    const warnings = captureConsole('warn');
    try {
      const failed = nextEvent(button, 'twin-fail');
      button.click();
      expect(((await failed).error as { code: string }).code).to.equal('TWIN_ERR_SCHEMA');
    } finally {
      warnings.stop();
    }
    expect(warnings.lines).to.deep.equal([]);
  });

  it('the submit of a form without twin-action', async () => {
    const form = await fixture<HTMLFormElement>(html`<form><input name="text" value="kept"><button>Send</button></form>`);
    let prevented: boolean | undefined;
    // Last in line (after the document's listener): see what it did, then keep the page here.
    const onSubmit = (event: Event) => {
      prevented = event.defaultPrevented;
      event.preventDefault();
    };
    window.addEventListener('submit', onSubmit);
    try {
      form.querySelector('button')!.click();
    } finally {
      window.removeEventListener('submit', onSubmit);
    }
    expect(prevented, 'not prevented by twin-action').to.equal(false);
    expect(form.querySelector('input')!.value, 'not reset').to.equal('kept');
    expect(form.hasAttribute('aria-busy')).to.equal(false);
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

  it('sends a file field as the file\'s name', async () => {
    const id = uniq('p');
    const form = await fixture<HTMLFormElement>(html`<form twin-action="log_push">
      <input type="hidden" name="id" value=${id}><input type="file" name="photo"><button>Send</button>
    </form>`);
    const files = new DataTransfer();
    files.items.add(new File(['png'], 'photo.png', { type: 'image/png' }));
    form.querySelector<HTMLInputElement>('[type=file]')!.files = files.files;
    const done = nextEvent(form, 'twin-done');
    form.requestSubmit();
    expect((await done).args).to.deep.equal([id, 'photo.png']);
    expect((await serverRead<Board>('board'))!.calls[id]).to.deep.equal(['photo.png']);
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

describe('two copies of the elements in one page', () => {
  it('install one set of listeners: a click calls its action once', async () => {
    // What a page gets with two bundles that both carry the elements (a second URL, a second copy).
    await import(new URL('../../elements/actions.ts?second-copy', import.meta.url).href);
    const id = uniq('d');
    const button = await fixture<HTMLButtonElement>(html`<button twin-action="add_count" twin-args=${JSON.stringify([id, 1])}>+1</button>`);
    let heard = 0;
    button.addEventListener('twin-done', () => void heard++);
    const done = nextEvent(button, 'twin-done');
    button.click();
    await done;
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a second call, were there one
    expect(heard).to.equal(1);
    expect((await serverRead<Board>('board'))!.counts[id]).to.equal(1);
  });
});
