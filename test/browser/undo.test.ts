// SPDX-License-Identifier: MIT
/**
 * The `twin-undo` and `twin-redo` buttons: disabled while there is nothing to undo (redo), a
 * click undoes (redoes) the page's own last write, and an undo refused because another client
 * changed the value since — by the server, or here at once — shows in `<twin-error>`, the
 * other's value kept. The other client is a second `Client` of the same server in this page.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { canUndo, connect, createClient, ErrorCode, pageClient, settled, status } from '../../src/index.js';
import type { Client } from '../../src/index.js';
import { captureConsole, confirmed, freshBox, serverRead, until, WS_URL } from './helpers.js';

interface Box { text: string }

async function buttons(name: string): Promise<{ undo: HTMLButtonElement; redo: HTMLButtonElement; text: () => string; error: HTMLElement }> {
  const el = await fixture(html`<div>
    <button class="undo" twin-undo store=${name}>Undo</button>
    <button class="redo" twin-redo store=${name}>Redo</button>
    <twin-bind store=${name} key="text"></twin-bind>
    <twin-error store=${name}></twin-error>
  </div>`);
  return {
    undo: el.querySelector<HTMLButtonElement>('.undo')!,
    redo: el.querySelector<HTMLButtonElement>('.redo')!,
    text: () => el.querySelector('twin-bind')!.textContent!,
    error: el.querySelector('twin-error')!,
  };
}

/** Another client of the server, writing `text` of store `name`. */
async function otherWrites(name: string, text: string): Promise<Client> {
  const other = createClient({ url: WS_URL }).connect();
  const box = other.store<Box>(name);
  await until(() => box.text !== undefined, 'the other client to load the store');
  box.text = text;
  await settled(box);
  return other;
}

describe('twin-undo and twin-redo buttons', () => {
  it('are disabled while there is nothing to undo or redo; a click undoes, then redoes', async () => {
    const { name, handle } = await freshBox();
    const b = await buttons(name);
    await until(() => b.text() === 'hello', 'the value');
    expect(b.undo.disabled).to.equal(true);
    expect(b.redo.disabled).to.equal(true);

    handle.text = 'one';
    await confirmed(handle);
    await until(() => !b.undo.disabled, 'Undo to be enabled once the write is confirmed');
    expect(b.redo.disabled).to.equal(true);

    b.undo.click();
    expect(status(handle).pending).to.equal(1, 'a batch of its own');
    await until(() => b.text() === 'hello', 'the undo to show');
    await confirmed(handle);
    expect((await serverRead<Box>(name))!.text).to.equal('hello');
    await until(() => b.undo.disabled && !b.redo.disabled, 'Redo enabled, Undo disabled');

    b.redo.click();
    await confirmed(handle);
    expect((await serverRead<Box>(name))!.text).to.equal('one');
    await until(() => !b.undo.disabled && b.redo.disabled, 'Undo enabled again, Redo disabled');
    expect(b.error.hasAttribute('hidden')).to.equal(true);
  });

  it('an undo the server refuses (another client changed the value) shows in <twin-error>, the other\'s value kept', async () => {
    const { name, handle } = await freshBox();
    const b = await buttons(name);
    handle.text = 'mine';
    await confirmed(handle);
    await until(() => !b.undo.disabled, 'Undo to be enabled');
    // This page does not hear of the other's write before it undoes: it is offline meanwhile.
    pageClient().close();
    let other: Client | undefined;
    try {
      other = await otherWrites(name, 'theirs');
      b.undo.click();
      await until(() => b.text() === 'hello', 'the undo to show, queued');
    } finally {
      connect(WS_URL);
    }
    await until(() => b.error.getAttribute('code') === ErrorCode.CHANGED, 'the refusal in <twin-error>');
    expect(b.error.textContent).to.contain('text');
    await until(() => b.text() === 'theirs', "the other's value shown");
    expect((await serverRead<Box>(name))!.text).to.equal('theirs');
    expect(b.undo.disabled).to.equal(true);
    other?.close();
  });

  it('an undo this page already knows to conflict is refused at once and shows in <twin-error>', async () => {
    const { name, handle } = await freshBox();
    const b = await buttons(name);
    handle.text = 'mine';
    await confirmed(handle);
    const other = await otherWrites(name, 'theirs');
    await until(() => b.text() === 'theirs', 'the other\'s write to arrive');
    expect(canUndo(handle)).to.equal(true);
    const warnings = captureConsole('warn');
    try {
      b.undo.click();
    } finally {
      warnings.stop();
    }
    expect(b.error.getAttribute('code')).to.equal(ErrorCode.CHANGED);
    expect(b.text()).to.equal('theirs');
    expect(pageClient().pending).to.equal(0);
    expect((await serverRead<Box>(name))!.text).to.equal('theirs');
    await until(() => b.undo.disabled, 'Undo disabled: that step is gone');
    other.close();
  });
});
