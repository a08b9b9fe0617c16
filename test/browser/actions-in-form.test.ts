// SPDX-License-Identifier: MIT
/**
 * A `twin-action` control inside a form: a checkbox still toggles (elements/actions.ts used to
 * prevent the default of any button or input in a form, so it called its action but stayed
 * unchecked). That a button in a form does not submit it is actions.test.ts's.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { connectPage, nextEvent, uniq } from './helpers.js';

before(() => connectPage());

describe('twin-action on a checkbox inside a form', () => {
  it('calls the action and still toggles', async () => {
    const id = uniq('c');
    const form = await fixture(html`<form><input type="checkbox" twin-action="add_count" twin-args=${JSON.stringify([id, 1])}></form>`);
    const box = form.querySelector('input')!;
    const done = nextEvent(box, 'twin-done');
    box.click();
    expect((await done).result).to.equal(1);
    expect(box.checked).to.equal(true);
  });
});
