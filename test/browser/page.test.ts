// SPDX-License-Identifier: MIT
/**
 * Plain pages, as a twin server serves them: rendered on the server (values, list items,
 * hydration data), then made live by the production bundle `/_twin/twin.js` alone — no
 * script of the page's own — connecting by itself to `/_twin/ws` on its origin. And a page
 * that writes Lit elements with `/_twin/lit.js`, sharing twin.js's stores and signals.
 */
import { expect } from '@open-wc/testing';
import { executeServerCommand } from '@web/test-runner-commands';
import { loadFrame, removeFrames, serverRead, serverWrite, uniq, until } from './helpers.js';

type Win = Window & typeof globalThis & { __warnings: string[]; renders?: number };

before(async function () {
  // The runner builds the bundles (and their manifest) on first request: slow on a busy machine.
  this.timeout(120_000);
  await fetch('/_twin/twin.js');
});

afterEach(removeFrames);

/** Loads `url` in an iframe of this (same-origin) page. */
const load = (url: string) => loadFrame<Win>(url);

/** A new box on the server with some state, so the server-rendered page differs from the initial value. */
async function boxOnServer(): Promise<{ id: string; name: string }> {
  const id = uniq('p');
  const name = `box/${id}`;
  await serverWrite(name, 'text', 'rendered by the server');
  await serverWrite(name, 'items.1.text', 'second, edited');
  return { id, name };
}

describe('a plain page with no script of its own', () => {
  it('is rendered on the server with current values, list items and hydration data', async () => {
    const { id } = await boxOnServer();
    const text = await (await fetch(`/twin-pages/plain.html?box=${id}`)).text();
    expect(text).to.contain('<twin-bind store="box/{box}" key="text">rendered by the server</twin-bind>');
    expect(text).to.contain('<li data-twin-ssr=""><twin-bind key="text">second, edited</twin-bind></li>');
    expect(text).to.contain('<script type="application/json" id="twin-hydration">');
  });

  it('comes alive with /_twin/twin.js: bindings, two-way input, lists, actions, forms, status', async () => {
    await executeServerCommand('twin-reset', { store: 'page_state' });
    const { id, name } = await boxOnServer();
    const { doc, win } = await load(`/twin-pages/plain.html?box=${id}`);
    const $ = (selector: string) => doc.querySelector(selector)!;
    await until(() => $('#status').getAttribute('state') === 'online', 'the page to connect by itself');
    expect($('#status').textContent).to.equal('online');
    expect($('#text').textContent).to.equal('rendered by the server');
    expect(($('#edit input') as HTMLInputElement).value).to.equal('rendered by the server');
    expect($('#flagged').hasAttribute('hidden')).to.equal(true);
    expect(doc.querySelectorAll('[data-twin-ssr]')).to.have.length(0);
    expect([...doc.querySelectorAll('#items li')].map((li) => li.textContent)).to.deep.equal(['one', 'second, edited', 'three']);
    expect(win.__warnings, 'no warnings (one copy of the runtime)').to.deep.equal([]);

    // Typing writes to the server.
    const input = $('#edit input') as HTMLInputElement;
    input.value = 'typed in the page';
    input.dispatchEvent(new win.Event('input'));
    await until(() => $('#text').textContent === 'typed in the page', 'the text binding');
    await until(async () => (await serverRead<{ text: string }>(name))?.text === 'typed in the page', 'the write on the server');

    // The server's writes show.
    await serverWrite(name, 'flag', true);
    await serverWrite(name, 'items.0.text', 'first, from the server');
    await until(() => !$('#flagged').hasAttribute('hidden'), 'twin-show');
    await until(() => $('#items li').textContent === 'first, from the server', 'the list item');

    // Actions: a click with twin-args, a form's fields.
    ($('#add') as HTMLButtonElement).click();
    await until(() => $('#count').textContent === '5', 'the action result');
    ($('#send input[name=text]') as HTMLInputElement).value = 'hi from the form';
    ($('#send button') as HTMLButtonElement).click();
    await until(() => doc.querySelectorAll('#messages li').length === 1, 'the message');
    expect($('#messages li').textContent).to.equal('plain page: hi from the form');
    expect(($('#send input[name=text]') as HTMLInputElement).value).to.equal('');
    expect((await serverRead<{ n: number }>('page_state'))!.n).to.equal(5);
    expect($('#error').hasAttribute('hidden')).to.equal(true);
  });

  it('with no shared store, still connects to show <twin-status>', async () => {
    const { doc } = await load('/twin-pages/status.html');
    const status = doc.querySelector('#status')!;
    await until(() => status.getAttribute('state') === 'online', 'the page to connect for its status');
    expect(status.textContent).to.equal('online');
  });
});

describe('a Lit page with /_twin/lit.js', () => {
  it('re-renders a SignalWatcher element from the same stores as twin.js, with one copy of the core', async () => {
    const { id, name } = await boxOnServer();
    const { doc, win } = await load(`/twin-pages/lit.html?box=${id}`);
    const view = () => doc.querySelector('box-view')!.shadowRoot;
    await until(() => view()?.querySelector('p')?.textContent === 'rendered by the server', 'the Lit element');
    await until(() => win.renders === 1, 'the first render');
    const renders = win.renders!;

    // A twin-bind (twin.js) writes; the Lit element (lit.js) sees it through watch(), without re-rendering.
    const input = doc.querySelector<HTMLInputElement>('#n input')!;
    input.value = '12';
    input.dispatchEvent(new win.Event('input'));
    await until(() => view()!.querySelector('b')!.textContent === '12', 'the watched binding');
    expect(win.renders).to.equal(renders);

    await serverWrite(name, 'text', 'changed on the server');
    await until(() => view()!.querySelector('p')!.textContent === 'changed on the server', 'the re-render');
    expect(win.renders).to.equal(renders + 1);
    expect(win.__warnings.filter((w) => !w.includes('Lit is in dev mode'))).to.deep.equal([]);
    expect(win.__warnings.join()).to.not.contain('Lit is in dev mode');
    const scripts = win.performance.getEntriesByType('resource').map((r) => new URL(r.name).pathname).filter((p) => p.startsWith('/_twin/'));
    expect(scripts.sort()).to.deep.equal(['/_twin/lit.js', '/_twin/twin.js']);
  });
});
