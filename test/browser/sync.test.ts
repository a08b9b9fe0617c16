// SPDX-License-Identifier: MIT
/**
 * The page runtime against the real server: two runtimes in one page converge, writes made
 * offline are sent once back online, a refused write is rolled back and shown, and a persisted
 * local store survives into a new client. Bad input in the page breaks nothing: a corrupted
 * stored value, a full storage, hydration data that is not JSON.
 */
import { expect, fixture, html } from '@open-wc/testing';
import * as v from 'valibot';
import { createClient, defineApp, increment, pageClient, settled, snapshot, status } from '../../src/index.js';
import type { Client, StandardSchemaV1 } from '../../src/index.js';
import { prefs } from './app.js';
import { flush, freshBox, recordMutations, serverRead, uniq, until, WS_URL } from './helpers.js';

type Box = Record<string, any>;

const clients: Client[] = [];
function otherClient(): Client {
  const client = createClient({ url: WS_URL, hydration: {} }).connect();
  clients.push(client);
  return client;
}
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

describe('two runtimes in one page', () => {
  it('converge on concurrent writes, increments and list pushes', async () => {
    const { name, handle: a } = await freshBox();
    const other = otherClient();
    const b = other.store<Box>(name);
    void b.text;
    await until(() => other.state === 'online' && status(b).v === status(a).v, 'the second runtime to catch up');
    a.text = 'from a';
    b.flag = true;
    increment(a, 'n', 2);
    increment(b, 'n', 3);
    a.items.push({ id: 4, text: 'a4' });
    b.items.push({ id: 5, text: 'b5' });
    await Promise.all([settled(a), settled(b)]);
    await until(() => JSON.stringify(snapshot(a)) === JSON.stringify(snapshot(b)), 'the runtimes to converge');
    const server = await serverRead<Box>(name);
    expect(snapshot(a)).to.deep.equal(server);
    expect(server!.n).to.equal(5);
    expect(server!.text).to.equal('from a');
    expect(server!.flag).to.equal(true);
    expect(server!.items.map((i: { id: number }) => i.id).sort()).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('elements bound to one runtime follow writes made by the other', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="text"></twin-bind>`);
    const other = otherClient();
    const b = other.store<Box>(name);
    void b.text;
    await until(() => other.state === 'online' && b.text === 'hello', 'the second runtime');
    b.text = 'written by b';
    await until(() => el.textContent === 'written by b', 'the element');
  });
});

describe('offline', () => {
  it('queues writes while offline and sends them once back online; both sides converge', async () => {
    const { name, handle: a } = await freshBox();
    const other = otherClient();
    const b = other.store<Box>(name);
    void b.text;
    await until(() => other.state === 'online' && b.text === 'hello', 'the second runtime');
    const el = await fixture(html`<twin-bind store=${name} key="text"></twin-bind>`);

    other.close();
    expect(other.state).to.equal('offline');
    b.text = 'written offline';
    increment(b, 'n', 10);
    b.items.push({ id: 9, text: 'offline item' });
    a.flag = true; // meanwhile, online
    increment(a, 'n', 1);
    await settled(a);
    await flush();
    expect(status(b).pending).to.be.greaterThan(0);
    expect(el.textContent, 'not sent yet').to.equal('hello');
    expect((await serverRead<Box>(name))!.text).to.equal('hello');

    other.connect();
    await settled(b);
    await until(() => el.textContent === 'written offline', 'the offline write to arrive');
    await until(() => JSON.stringify(snapshot(a)) === JSON.stringify(snapshot(b)), 'convergence');
    const server = await serverRead<Box>(name);
    expect(snapshot(b)).to.deep.equal(server);
    expect(server!.n).to.equal(11);
    expect(server!.flag).to.equal(true);
    expect(server!.items.at(-1).text).to.equal('offline item');
    expect(status(b).pending).to.equal(0);
  });

  it('<twin-status> shows the page connection state', async () => {
    await freshBox();
    const el = await fixture(html`<twin-status></twin-status>`);
    expect(el.textContent).to.equal('online');
    expect(el.getAttribute('state')).to.equal('online');
    pageClient().close();
    await until(() => el.getAttribute('state') === 'offline', 'offline');
    expect(el.textContent).to.equal('offline');
    pageClient().connect();
    expect(el.getAttribute('state')).to.be.oneOf(['connecting', 'offline']);
    await until(() => el.getAttribute('state') === 'online', 'online again');
  });

  it('<twin-status> leaves server-rendered markup that is right alone, and stops following once removed', async () => {
    await freshBox();
    const host = await fixture(html`<div></div>`);
    const recorder = recordMutations(host);
    host.innerHTML = '<twin-status state="online">online</twin-status>';
    await flush();
    expect(recorder.stop().length, 'only the insertion').to.equal(1);
    const el = host.querySelector('twin-status')!;
    el.remove();
    await flush();
    pageClient().close();
    try {
      await flush();
      expect(el.getAttribute('state'), 'removed: no longer follows').to.equal('online');
      expect(el.textContent).to.equal('online');
    } finally {
      pageClient().connect();
    }
    await until(() => pageClient().state === 'online', 'online again');
  });
});

describe('a refused write', () => {
  it('is rolled back, shown by <twin-error>, and reported by status(store).error', async () => {
    const { name, handle } = await freshBox();
    const wrap = await fixture(html`<div>
      <twin-bind store=${name} key="forbidden"></twin-bind>
      <twin-error store=${name}></twin-error>
      <twin-error store="box/other"></twin-error>
      <twin-error></twin-error>
    </div>`);
    const [mine, others, any] = [...wrap.querySelectorAll('twin-error')];
    expect(mine!.hidden).to.equal(true);
    handle.forbidden = 'nope';
    handle.text = 'allowed'; // same turn, same batch: refused with it
    await flush();
    expect(wrap.querySelector('twin-bind')!.textContent, 'optimistic').to.equal('nope');
    const refused = settled(handle).then(() => undefined, (err: { code: string }) => err);
    expect((await refused)?.code).to.equal('TWIN_ERR_FORBIDDEN');
    await until(() => wrap.querySelector('twin-bind')!.textContent === '', 'the rollback');
    expect(handle.text).to.equal('hello');
    expect(status(handle).error?.code).to.equal('TWIN_ERR_FORBIDDEN');
    await until(() => !mine!.hidden, '<twin-error> to show');
    expect(mine!.getAttribute('code')).to.equal('TWIN_ERR_FORBIDDEN');
    expect(mine!.textContent).to.contain(name);
    expect(others!.hidden, 'another store').to.equal(true);
    expect(any!.hidden).to.equal(false);
    mine!.click();
    expect(mine!.hidden, 'dismissed').to.equal(true);
    expect((await serverRead<Box>(name))!.forbidden).to.equal(null);

    // Shown also when connected after the refusal (from status().error).
    const late = await fixture<HTMLElement>(html`<twin-error store=${name}></twin-error>`);
    expect(late.hidden).to.equal(false);
    expect(late.getAttribute('code')).to.equal('TWIN_ERR_FORBIDDEN');
  });

  it('a refused two-way write puts the control back to the store value', async () => {
    const { name } = await freshBox();
    const el = await fixture(html`<twin-bind store=${name} key="forbidden"><input></twin-bind>`);
    const input = el.querySelector('input')!;
    input.value = 'typed';
    input.dispatchEvent(new Event('input'));
    await until(() => input.value === '', 'the rollback in the input');
  });
});

describe('a persisted local store', () => {
  it('is restored by a new client from the same storage', async () => {
    const key = 'twin:test_prefs';
    localStorage.removeItem(key);
    prefs.theme = 'dark';
    prefs.size = 3;
    await flush();
    expect(JSON.parse(localStorage.getItem(key)!)).to.deep.equal({ theme: 'dark', size: 3 });
    const el = await fixture(html`<twin-bind store="test_prefs" key="theme"></twin-bind>`);
    expect(el.textContent).to.equal('dark');

    const hydration = { local: { test_prefs: { value: { theme: 'light', size: 1 }, persist: 'local' as const } } };
    const next = createClient({ hydration, storage: { local: localStorage } });
    expect(snapshot(next.store('test_prefs'))).to.deep.equal({ theme: 'dark', size: 3 });
    expect(status(next.store('test_prefs')).connection).to.equal('local');
  });

  it('falls back to its default, with exactly one warning, when the stored value is corrupted', async () => {
    const name = uniq('prefs_');
    localStorage.setItem(`twin:${name}`, '{"theme": "da');
    const warnings = await warningsOf(async () => {
      const hydration = { local: { [name]: { value: { theme: 'light' }, persist: 'local' as const } } };
      const client = createClient({ hydration, storage: { local: localStorage } });
      const local = client.store<{ theme: string }>(name);
      expect(local.theme).to.equal('light');
      expect(snapshot(local)).to.deep.equal({ theme: 'light' });
      local.theme = 'blue';
      await flush();
    });
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain('corrupted');
    expect(JSON.parse(localStorage.getItem(`twin:${name}`)!)).to.deep.equal({ theme: 'blue' });
    localStorage.removeItem(`twin:${name}`);
  });

  it('keeps working in memory, with one warning, when the storage is full', async () => {
    const name = uniq('prefs_');
    const filler: string[] = [];
    try {
      // Fill this origin's localStorage to its real quota.
      const chunk = 'x'.repeat(1 << 20);
      for (let i = 0; i < 64; i++) {
        try {
          localStorage.setItem(`fill:${i}`, chunk);
          filler.push(`fill:${i}`);
        } catch {
          break;
        }
      }
      const hydration = { local: { [name]: { value: { n: 0, text: '' }, persist: 'local' as const } } };
      const client = createClient({ hydration, storage: { local: localStorage } });
      const local = client.store<{ n: number; text: string }>(name);
      const warnings = await warningsOf(async () => {
        local.text = 'y'.repeat(1 << 20); // more than is left
        await flush();
        local.n = 1;
        await flush();
      });
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.contain('memory');
      expect(snapshot(local).n).to.equal(1);
      expect(local.text.length).to.equal(1 << 20);
      expect(localStorage.getItem(`twin:${name}`)).to.equal(null);
    } finally {
      for (const key of filler) localStorage.removeItem(key);
    }
  });
});

describe('a persisted local store with a schema', () => {
  const app = defineApp();
  const define = (schema: StandardSchemaV1<object, object>) => {
    const name = uniq('prefs_');
    return { name, prefs: app.local(name, () => ({ theme: 'light' }), { persist: 'local', schema }) as { theme: string } };
  };
  afterEach(() => {
    for (const key of Object.keys(localStorage)) if (key.startsWith('twin:prefs_')) localStorage.removeItem(key);
  });

  it('restores a stored value the schema accepts, and falls back, with one warning, from one it refuses', async () => {
    const schema = v.object({ theme: v.picklist(['light', 'dark']) });
    const kept = define(schema);
    localStorage.setItem(`twin:${kept.name}`, '{"theme":"dark"}');
    const refused = define(schema);
    localStorage.setItem(`twin:${refused.name}`, '{"theme":"neon"}');
    const warnings = await warningsOf(() => {
      expect(kept.prefs.theme).to.equal('dark');
      expect(refused.prefs.theme).to.equal('light');
    });
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain('schema');
    expect(localStorage.getItem(`twin:${refused.name}`)).to.equal(null);
  });

  it('with an async schema, shows the stored value until the schema refuses it, then the default', async () => {
    const schema = v.objectAsync({ theme: v.pipeAsync(v.string(), v.checkAsync(async (theme) => theme !== 'neon')) });
    const kept = define(schema);
    localStorage.setItem(`twin:${kept.name}`, '{"theme":"dark"}');
    const refused = define(schema);
    localStorage.setItem(`twin:${refused.name}`, '{"theme":"neon"}');
    const warnings = await warningsOf(async () => {
      expect(kept.prefs.theme).to.equal('dark');
      expect(refused.prefs.theme).to.equal('neon');
      await until(() => refused.prefs.theme === 'light', 'the refused value to give way to the default');
    });
    expect(kept.prefs.theme).to.equal('dark');
    expect(warnings).to.have.length(1);
    expect(localStorage.getItem(`twin:${refused.name}`)).to.equal(null);
    refused.prefs.theme = 'dark'; // the store works on, and persists again
    await flush();
    expect(JSON.parse(localStorage.getItem(`twin:${refused.name}`)!)).to.deep.equal({ theme: 'dark' });
  });
});

describe('a page whose hydration data is not JSON', () => {
  it('starts without it, with one warning, and still syncs from the server', async () => {
    const { name, handle } = await freshBox();
    handle.text = 'from the server';
    await settled(handle);
    const script = Object.assign(document.createElement('script'), { type: 'application/json', id: 'twin-hydration', textContent: '{"shared": {' });
    document.body.append(script);
    let client: Client;
    const warnings = await warningsOf(() => {
      client = createClient({ url: WS_URL }).connect();
      clients.push(client);
    });
    script.remove();
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain('hydration');
    const other = client!.store<Box>(name);
    await until(() => other.text === 'from the server', 'the store from the server');
  });
});

/** What `console.warn` was called with while `fn` ran, each call's arguments as one string. */
async function warningsOf(fn: () => unknown): Promise<string[]> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  try {
    await fn();
  } finally {
    console.warn = warn;
  }
  return warnings;
}
