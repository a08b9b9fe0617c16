// SPDX-License-Identifier: MIT
/**
 * Writes waiting for the server, as the page sees them: `hasPendingWrites(store, key)` and the
 * `pending` attribute of `<twin-bind>` — on the values written, not their neighbours; on the
 * items pushed to a list, not the ones before; gone once the server confirms.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { connect, hasPendingWrites, lastWrite, pageClient } from '../../src/index.js';
import { flush, freshBox, serverRead, until, WS_URL } from './helpers.js';

describe('pending writes', () => {
  it('mark what they write until the server confirms it, queued offline or sent', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind id="text" store=${name} key="text"></twin-bind>
      <twin-bind id="n" store=${name} key="n"></twin-bind>
      <twin-bind id="obj" store=${name} key="obj"></twin-bind>
      <twin-list store=${name} key="items"><template><li><twin-bind key="text"></twin-bind></li></template></twin-list>
    </div>`);
    const statusEl = await fixture(html`<twin-status></twin-status>`);
    const pending = () => [...el.querySelectorAll('twin-bind')].filter((b) => b.hasAttribute('pending')).map((b) => b.id || b.textContent);
    expect(pending()).to.deep.equal([]);

    // Offline: the writes are queued.
    pageClient().close();
    try {
      handle.text = 'queued';
      handle.obj.b.push(3);
      handle.items.push({ id: 4, text: 'four' }, { id: 5, text: 'five' });
      await flush();
      expect(pending()).to.deep.equal(['text', 'obj', 'four', 'five']);
      expect(hasPendingWrites(handle, 'text')).to.equal(true);
      expect(hasPendingWrites(handle.obj, 'a')).to.equal(false);
      expect(hasPendingWrites(handle.obj, ['b', 2])).to.equal(true);
      expect(hasPendingWrites(handle.items, [0, 'text'])).to.equal(false);
      expect(hasPendingWrites(handle.items[4]!)).to.equal(true);
      expect(hasPendingWrites(handle)).to.equal(true);
      expect(lastWrite(handle)).to.deep.equal({ state: 'queued' });
      // The writes of one turn are one batch; the page says how many wait.
      expect(pageClient().pending).to.equal(1);
      expect(statusEl.getAttribute('pending')).to.equal('1');
      expect(statusEl.getAttribute('state')).to.equal('offline');
    } finally {
      connect(WS_URL);
    }

    // Back online: sent, confirmed, unmarked.
    await until(() => pending().length === 0, 'every write to be confirmed');
    expect(hasPendingWrites(handle)).to.equal(false);
    expect(pageClient().pending).to.equal(0);
    expect(lastWrite(handle)?.state).to.equal('confirmed');
    expect(lastWrite(handle)?.v).to.be.a('number');
    await until(() => !statusEl.hasAttribute('pending'), 'the status to show nothing waiting');
    const stored = await serverRead<{ text: string; items: { text: string }[] }>(name);
    expect(stored!.text).to.equal('queued');
    expect(stored!.items.map((i) => i.text)).to.deep.equal(['one', 'two', 'three', 'four', 'five']);
  });
});
