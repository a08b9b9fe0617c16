// SPDX-License-Identifier: MIT
/**
 * <twin-error> beyond the first refusal (sync.test.ts): a refusal made in the page before the
 * write left it, a change of its `store`, a dismissed message that stays dismissed while the
 * store changes on, and an element that is no longer in the page.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { settled } from '../../src/index.js';
import { captureConsole, flush, freshBox, until } from './helpers.js';

/** Writes `forbidden` (refused by the test app's `authorize`) and waits for the refusal. */
async function refuseWrite(handle: { forbidden: unknown }): Promise<void> {
  handle.forbidden = 'nope';
  const code = await settled(handle).then(() => 'accepted', (err: { code: string }) => err.code);
  expect(code).to.equal('TWIN_ERR_FORBIDDEN');
}

describe('<twin-error>', () => {
  it('shows a write its store refused in the page, before sending it; others stay hidden', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<div>
      <twin-bind store=${name} key=""><input></twin-bind>
      <twin-error id="mine" store=${name}></twin-error>
      <twin-error id="other" store="box/other"></twin-error>
    </div>`);
    const mine = el.querySelector<HTMLElement>('#mine')!;
    const input = el.querySelector('input')!;
    const warnings = captureConsole('warn');
    try {
      input.value = 'typed'; // key="" is the store itself: there is no property to write
      input.dispatchEvent(new Event('input'));
    } finally {
      warnings.stop();
    }
    expect(mine.hidden).to.equal(false);
    expect(mine.getAttribute('code')).to.equal('TWIN_ERR_VALUE');
    expect(mine.textContent).to.contain('cannot write');
    expect(el.querySelector<HTMLElement>('#other')!.hidden).to.equal(true);
  });

  it('without a store, shows nothing until something is refused', async () => {
    const { handle } = await freshBox();
    const el = await fixture<HTMLElement>(html`<twin-error></twin-error>`);
    handle.text = 'accepted';
    await settled(handle); // a round trip: whatever the element asked the server has its answer
    await flush();
    expect(el.hidden).to.equal(true);
    expect(el.hasAttribute('code')).to.equal(false);
  });

  it('follows a change of its store attribute', async () => {
    const [a, b] = [await freshBox(), await freshBox()];
    const el = await fixture<HTMLElement>(html`<twin-error store=${a.name}></twin-error>`);
    el.setAttribute('store', b.name);
    await refuseWrite(b.handle);
    await until(() => !el.hidden, 'the refusal of the new store');
    expect(el.textContent).to.contain(b.name);
  });

  it('stays dismissed while the store changes on, and keeps nothing of the message', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture<HTMLElement>(html`<twin-error store=${name}></twin-error>`);
    await refuseWrite(handle);
    await until(() => !el.hidden, 'the refusal');
    el.click();
    expect(el.hidden).to.equal(true);
    expect(el.textContent, 'no text left').to.equal('');
    expect(el.hasAttribute('code'), 'no code left').to.equal(false);
    handle.text = 'accepted';
    handle.n = 2;
    await settled(handle);
    await flush();
    expect(el.hidden, 'the same refusal is not shown again').to.equal(true);
  });

  it('once removed from the page, no longer shows refusals', async () => {
    const { name, handle } = await freshBox();
    const el = await fixture<HTMLElement>(html`<twin-error store=${name}></twin-error>`);
    el.remove();
    await flush();
    await refuseWrite(handle);
    await flush();
    expect(el.hidden).to.equal(true);
    expect(el.textContent).to.equal('');
  });
});
