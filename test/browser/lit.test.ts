// SPDX-License-Identifier: MIT
/**
 * The Lit entry (elements/lit.ts): a SignalWatcher element re-renders when what it read
 * changes and only then; `watch(signalOf(...))` updates one binding without a re-render.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { html as litHtml, LitElement, SignalWatcher, signalOf, store, watch } from '../../elements/lit.js';
import { flush, freshBox, serverWrite, uniq, until } from './helpers.js';

interface Box { text: string; n: number; obj: { a: number } }

describe('SignalWatcher(LitElement) over a store', () => {
  it('re-renders when what render() read changes, and only then', async () => {
    const { name } = await freshBox();
    const tag = uniq('lit-counter-').toLowerCase();
    let renders = 0;
    customElements.define(tag, class extends SignalWatcher(LitElement) {
      override render() {
        renders++;
        return litHtml`<p>${store<Box>(name).text} ${store<Box>(name).obj.a}</p>`;
      }
    });
    const el = await fixture(`<${tag}></${tag}>`) as LitElement;
    await el.updateComplete;
    const text = () => el.shadowRoot!.querySelector('p')!.textContent;
    expect(text()).to.equal('hello 1');
    const before = renders;

    store<Box>(name).n = 5; // not read in render
    await flush();
    await el.updateComplete;
    expect(renders, 'a write to a key render() did not read').to.equal(before);

    store<Box>(name).text = 'bye';
    await until(() => text() === 'bye 1', 'the re-render');
    expect(renders).to.equal(before + 1);

    await serverWrite(name, 'obj.a', 2); // from the server
    await until(() => text() === 'bye 2', 'the re-render after a server write');
    expect(renders).to.equal(before + 2);
  });

  it('watch(signalOf(store, path)) updates its binding without re-rendering', async () => {
    const { name } = await freshBox();
    const tag = uniq('lit-watch-').toLowerCase();
    let renders = 0;
    customElements.define(tag, class extends SignalWatcher(LitElement) {
      override render() {
        renders++;
        return litHtml`<b>${watch(signalOf(store(name), 'n'))}</b>`;
      }
    });
    const el = await fixture(`<${tag}></${tag}>`) as LitElement;
    await el.updateComplete;
    const b = () => el.shadowRoot!.querySelector('b')!.textContent;
    expect(b()).to.equal('0');
    store<Box>(name).n = 7;
    await until(() => b() === '7', 'the watched binding');
    expect(renders).to.equal(1);
  });

  it('<twin-bind prop> sets a Lit property, and re-renders on a change inside an object', async () => {
    const { name } = await freshBox();
    const tag = uniq('score-board-').toLowerCase();
    class ScoreBoard extends LitElement {
      static override properties = { score: {}, obj: {} };
      declare score: unknown;
      declare obj: { a: number } | undefined;
      override render() {
        return litHtml`<i>${String(this.score)}</i><u>${this.obj?.a}</u>`;
      }
    }
    customElements.define(tag, ScoreBoard);
    const wrap = await fixture(`<div>
      <twin-bind store="${name}" key="n" prop="score"><${tag}></${tag}></twin-bind>
      <twin-bind store="${name}" key="obj" prop="obj"><${tag}></${tag}></twin-bind>
    </div>`);
    const [first, second] = [...wrap.querySelectorAll(tag)] as ScoreBoard[];
    await first!.updateComplete;
    expect(first!.score).to.equal(0);
    expect(first!.shadowRoot!.querySelector('i')!.textContent).to.equal('0');
    store<Box>(name).n = 3;
    await until(() => first!.shadowRoot!.querySelector('i')!.textContent === '3', 'the score property');
    await second!.updateComplete;
    expect(second!.shadowRoot!.querySelector('u')!.textContent).to.equal('1');
    store<Box>(name).obj.a = 9; // same object, changed inside
    await until(() => second!.shadowRoot!.querySelector('u')!.textContent === '9', 'the object property');
  });
});

describe('lit entry', () => {
  it('re-exports Lit, the signals integration and the twin API', async () => {
    const lit = await import('../../elements/lit.js');
    for (const name of ['LitElement', 'css', 'nothing', 'html', 'svg', 'SignalWatcher', 'watch', 'withWatch', 'store', 'signalOf', 'status', 'connect', 'Signal', 'TwinBindElement']) {
      expect(lit, name).to.have.property(name);
    }
    expect(html).to.be.a('function');
  });
});
