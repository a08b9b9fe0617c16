// SPDX-License-Identifier: MIT
/**
 * Elements subscribe while connected and release everything when disconnected.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { unstable_watchers } from '../../src/index.js';
import { flush, freshBox } from './helpers.js';

const COUNT = 1000;

describe('element subscriptions', () => {
  it(`adding and removing ${COUNT} bound elements leaves no watcher behind`, async () => {
    const { name, handle } = await freshBox();
    expect(unstable_watchers(handle)).to.equal(0);
    const host = await fixture(html`<div></div>`);
    const kinds = [
      (i: number) => `<twin-bind store="${name}" key="items.${i % 3}.text"></twin-bind>`,
      () => `<twin-bind store="${name}" key="flag" toggle="on"><i></i></twin-bind>`,
      () => `<twin-bind store="${name}" key="text"><input></twin-bind>`,
      () => `<twin-show store="${name}" key="flag" not>x</twin-show>`,
      () => `<twin-list store="${name}" key="tags"><template><twin-bind key="."></twin-bind></template></twin-list>`,
      () => `<twin-error store="${name}"></twin-error>`,
    ];
    host.innerHTML = Array.from({ length: COUNT }, (_, i) => kinds[i % kinds.length]!(i)).join('');
    expect(host.querySelectorAll('twin-bind, twin-show, twin-list, twin-error').length).to.be.greaterThan(COUNT - 1);
    expect(unstable_watchers(handle)).to.be.greaterThan(0);
    handle.text = 'changed';
    handle.tags.push('z');
    await flush();
    expect(host.querySelector('input')!.value).to.equal('changed');

    host.innerHTML = '';
    await flush();
    expect(unstable_watchers(handle)).to.equal(0);

    // And again, moved around before removal: moves keep bindings, removal releases them.
    host.innerHTML = Array.from({ length: COUNT }, (_, i) => kinds[i % kinds.length]!(i)).join('');
    const other = document.createElement('div');
    document.body.append(other);
    other.append(...host.childNodes);
    await flush();
    expect(unstable_watchers(handle)).to.be.greaterThan(0);
    other.remove();
    await flush();
    expect(unstable_watchers(handle)).to.equal(0);
  });
});
