// SPDX-License-Identifier: MIT
/**
 * A two-way `<twin-bind>` whose write is refused puts its control back to the store's value:
 * refused by the server (the store's schema, after the optimistic write showed), and refused
 * in the page before it leaves (a key that cannot be written).
 */
import { expect, fixture, html } from '@open-wc/testing';
import { pageClient, settled } from '../../src/index.js';
import type { RejectDetail } from '../../src/index.js';
import { checked } from './app.js';
import type { Checked } from './app.js';
import { captureConsole, connectPage, freshBox, serverRead, uniq, until } from './helpers.js';

/** Types `text` into `input` as a user would (one input event). */
function type(input: HTMLInputElement, text: string): void {
  input.value = text;
  input.dispatchEvent(new Event('input'));
}

/** Collects what `console.warn` is given and the page client's `reject` events until `stop()`. */
function capture(): { warnings: string[]; rejects: RejectDetail[]; stop(): void } {
  const warnings = captureConsole('warn');
  const rejects: RejectDetail[] = [];
  const onReject = (event: Event) => void rejects.push((event as CustomEvent<RejectDetail>).detail);
  pageClient().addEventListener('reject', onReject);
  return {
    warnings: warnings.lines,
    rejects,
    stop() {
      warnings.stop();
      pageClient().removeEventListener('reject', onReject);
    },
  };
}

describe('<twin-bind> two-way, refused writes', () => {
  it('puts the control back to the stored value when the server refuses the write (schema)', async () => {
    connectPage();
    const key = uniq('k');
    await until(() => pageClient().state === 'online' && checked.texts, 'the store');
    checked.texts[key] = 'fine';
    await settled(checked);
    const el = await fixture(html`<twin-bind store="checked" key=${`texts.${key}`}><input></twin-bind>`);
    const input = el.querySelector('input')!;
    expect(input.value).to.equal('fine');

    const seen = capture();
    try {
      type(input, 'far too long for the schema');
      expect(checked.texts[key], 'the optimistic value').to.equal('far too long for the schema');
      await until(() => seen.rejects.length > 0, 'the refusal');
      await until(() => input.value === 'fine', 'the control to show the stored value again');
    } finally {
      seen.stop();
    }
    expect(seen.rejects[0]!.code).to.equal('TWIN_ERR_SCHEMA');
    expect(checked.texts[key]).to.equal('fine');
    expect((await serverRead<Checked>('checked'))!.texts[key]).to.equal('fine');

    // The control still works after the refusal.
    type(input, 'ok');
    await until(async () => (await serverRead<Checked>('checked'))?.texts[key] === 'ok', 'the next write');
  });

  it('puts the control back when the page refuses the write before sending it', async () => {
    const { name, handle } = await freshBox();
    // key="" names the store itself: there is no property to write a text into.
    const el = await fixture(html`<twin-bind store=${name} key=""><input></twin-bind>`);
    const input = el.querySelector('input')!;
    const before = input.value;
    const seen = capture();
    try {
      type(input, 'typed');
    } finally {
      seen.stop();
    }
    expect(input.value, 'the control shows the value again').to.equal(before);
    expect(seen.rejects.map((r) => r.code)).to.have.length(1);
    expect(seen.warnings.some((w) => w.includes('cannot write'))).to.equal(true);
    expect(handle.text).to.equal('hello');
  });
});
