// SPDX-License-Identifier: MIT
/**
 * <twin-presence>: one copy of the template per peer (keys relative to the peer's state), the
 * page's own copy marked `self`, a peer's change, leave and the page's own input through
 * `<twin-bind presence>`. The other peer is a second client in the page, on its own socket.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { createClient, presence, setPresence } from '../../src/index.js';
import type { Client } from '../../src/index.js';
import { html as litHtml, LitElement, presence as litPresence, SignalWatcher } from '../../elements/lit.js';
import { freshBox, uniq, until, WS_URL } from './helpers.js';

const rows = (root: Element) => [...root.querySelectorAll(':scope > li')].map((li) => `${li.hasAttribute('self') ? '*' : ''}${(li as HTMLElement).innerText.trim()}`);

describe('<twin-presence>', () => {
  let other: Client | undefined;
  afterEach(() => other?.close());

  it('renders each peer from the template, marks the page\'s own, follows changes and leaves', async () => {
    const { name, handle } = await freshBox();
    other = createClient({ url: WS_URL }).connect();
    const theirs = other.store(name);
    const el = await fixture(html`<twin-presence store=${name}><template><li><twin-bind key="name"></twin-bind><twin-show key="typing"> …</twin-show></li></template></twin-presence>`);
    expect(rows(el)).to.deep.equal([]);

    setPresence(handle, { name: 'me' });
    await until(() => rows(el).length === 1, 'the own entry, at once');
    expect(rows(el)).to.deep.equal(['*me']);

    setPresence(theirs, { name: 'Bob' });
    await until(() => rows(el).length === 2, 'the other peer');
    expect(rows(el)).to.deep.equal(['*me', 'Bob']);
    const bobRow = el.querySelectorAll('li')[1]!;

    setPresence(theirs, { name: 'Bob', typing: true });
    await until(() => rows(el)[1] === 'Bob …', 'the peer\'s change');
    expect(el.querySelectorAll('li')[1]).to.equal(bobRow, 'the same nodes, updated in place');

    setPresence(theirs, undefined);
    await until(() => rows(el).length === 1, 'the peer to leave');
    expect(rows(el)).to.deep.equal(['*me']);
    expect(presence(handle).map((p) => p.self)).to.deep.equal([true]);
  });

  it('<twin-bind presence key> writes the page\'s own presence from a control', async () => {
    const { name } = await freshBox();
    other = createClient({ url: WS_URL }).connect();
    const theirs = other.store(name);
    void (theirs as Record<string, unknown>).text; // subscribes the other client
    const el = await fixture(html`<div>
      <twin-bind store=${name} presence key="name"><input></twin-bind>
      <twin-presence store=${name}><template><li><twin-bind key="name"></twin-bind></li></template></twin-presence>
    </div>`);
    const input = el.querySelector('input')!;
    input.value = 'Ada';
    input.dispatchEvent(new Event('input'));
    const list = el.querySelector('twin-presence')!;
    await until(() => rows(list)[0] === '*Ada', 'the own entry from the input');
    // The other client sees it, not marked as its own.
    await until(() => presence(theirs).some((p) => !p.self && (p.state as { name?: string }).name === 'Ada'), 'the other client to see Ada');
  });

  it('Lit: presence($store) in a SignalWatcher render re-renders when peers change', async () => {
    const { name, handle } = await freshBox();
    other = createClient({ url: WS_URL }).connect();
    const theirs = other.store(name);
    const tag = uniq('lit-peers-').toLowerCase();
    customElements.define(tag, class extends SignalWatcher(LitElement) {
      override render() {
        return litHtml`<p>${litPresence(handle).map((p) => `${p.self ? '*' : ''}${(p.state as { name: string }).name}`).join(',')}</p>`;
      }
    });
    const el = await fixture(`<${tag}></${tag}>`) as LitElement;
    const text = () => el.shadowRoot!.querySelector('p')!.textContent;
    setPresence(handle, { name: 'me' });
    await until(() => text() === '*me', 'the own entry');
    setPresence(theirs, { name: 'Lit' });
    await until(() => text() === '*me,Lit', 'the other peer');
  });
});
