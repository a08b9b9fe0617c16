// SPDX-License-Identifier: MIT
/**
 * Mistakes named in development: a store the server does not have, a key a loaded store
 * lacks, an action the server does not have — each one warning in the console, once. The
 * production bundle carries none of these sentences (prod-bundle.test.ts).
 */
import { expect, fixture, html } from '@open-wc/testing';
import { settled, store } from '../../src/index.js';
import type { TwinActionEvent } from '../../elements/index.js';
import { captureConsole, connectPage, flush, freshBox, nextEvent, uniq, until } from './helpers.js';

/** Collects what `console.warn` is given until `stop()`. */
function captureWarnings(): { warnings: string[]; stop(): void } {
  const { lines, stop } = captureConsole('warn');
  return { warnings: lines, stop };
}

describe('dev-mode warnings for names the server or the store does not know', () => {
  it('warn once for a store the server does not have', async () => {
    connectPage();
    const name = uniq('no_such_store_');
    const seen = captureWarnings();
    try {
      await fixture(html`<div><twin-bind store=${name} key="x"></twin-bind><twin-show store=${name} key="x"></twin-show></div>`);
      await until(() => seen.warnings.some((w) => w.includes(name)), 'the warning');
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      seen.stop();
    }
    const about = seen.warnings.filter((w) => w.includes(name));
    expect(about).to.have.length(1);
    expect(about[0]).to.contain(`The server has no store "${name}"`);
  });

  it('warn once for a top-level key the loaded store lacks, and not for deeper keys or list item fields', async () => {
    const { name, handle } = await freshBox();
    handle.n = 1; // a version above 0: the server's value is here
    await settled(handle);
    const seen = captureWarnings();
    try {
      await fixture(html`<div>
        <twin-bind store=${name} key="scroe"></twin-bind>
        <twin-bind store=${name} key="scroe"></twin-bind>
        <twin-show store=${name} key="txet"></twin-show>
        <twin-show store=${name} key="obj.c"></twin-show>
        <twin-bind store=${name} key="items.9.text"></twin-bind>
        <twin-bind store=${name} key="text"></twin-bind>
        <twin-bind store=${name} key="forbidden.x"></twin-bind>
        <twin-list store=${name} key="items"><template><twin-bind key="done"></twin-bind></template></twin-list>
      </div>`);
      await flush();
    } finally {
      seen.stop();
    }
    const keys = seen.warnings.filter((w) => w.includes('check the key'));
    expect(keys).to.have.length(2);
    expect(keys[0]).to.contain('<twin-bind').and.contain(`key="scroe"`).and.contain('no key "scroe"');
    expect(keys[1]).to.contain('<twin-show').and.contain(`key="txet"`);
  });

  it('do not warn for a key a shared store gets when it loads, nor later, when the key is gone', async () => {
    connectPage();
    const name = `box/${uniq('late')}`; // not loaded yet: its keys are unknown until it is
    const seen = captureWarnings();
    try {
      await fixture(html`<div>
        <twin-bind store=${name} key="text"></twin-bind>
        <twin-bind store=${name} key="flag"></twin-bind>
      </div>`);
      const handle = store<{ text?: string; n?: number; flag?: boolean }>(name);
      await until(() => handle.text === 'hello', 'the store to load');
      handle.n = 1; // a version above 0: the server's value is here
      await settled(handle);
      await flush();
      delete handle.flag; // checked once: a key removed later is the app's business
      await settled(handle);
      await flush();
    } finally {
      seen.stop();
    }
    expect(seen.warnings.filter((w) => w.includes('check the key'))).to.deep.equal([]);
  });

  it('do not take another refusal of a store an element names for a missing store', async () => {
    const { name, handle } = await freshBox();
    await fixture(html`<twin-bind store=${name} key="text"></twin-bind>`);
    const seen = captureWarnings();
    try {
      handle.forbidden = 'nope';
      await settled(handle).catch(() => undefined);
      await flush();
    } finally {
      seen.stop();
    }
    expect(seen.warnings.filter((w) => w.includes('The server has no store'))).to.deep.equal([]);
  });

  it('warn once for a twin-action the server does not have', async () => {
    connectPage();
    const action = uniq('no_such_action_');
    const button = await fixture<HTMLButtonElement>(html`<button twin-action=${action}>x</button>`);
    const seen = captureWarnings();
    try {
      for (let i = 0; i < 2; i++) {
        const failed = nextEvent(button, 'twin-fail');
        button.click();
        expect(((await failed) as TwinActionEvent).error).to.have.property('code', 'TWIN_ERR_ACTION');
      }
    } finally {
      seen.stop();
    }
    const about = seen.warnings.filter((w) => w.includes(action));
    expect(about).to.have.length(1);
    expect(about[0]).to.contain('the server has no action of that name');
  });
});
