// SPDX-License-Identifier: MIT
/**
 * Persisted local stores across documents of one origin, and their cookie mirror. A write to
 * `localStorage` from another document (a same-origin frame here: the `storage` event fires in
 * every other document, never the writer's) resets this page's store, and its bindings, after
 * the same checks as a restore; a corrupted or refused value is ignored with one coded warning.
 * A store with `cookie: true` keeps a `twin.<name>` cookie equal to its value, and refuses, with
 * a coded error, to write one over the size bound (the localStorage copy stays).
 */
import { expect, fixture, html } from '@open-wc/testing';
import * as v from 'valibot';
import { defineApp } from '../../src/index.js';
import type { StandardSchemaV1 } from '../../src/index.js';
import { flush, uniq, until } from './helpers.js';

const app = defineApp();

/** A same-origin document other than this one: its writes fire `storage` events here. */
let other: Window;
before(async () => {
  const frame = document.createElement('iframe');
  document.body.append(frame);
  other = frame.contentWindow!;
});

afterEach(() => {
  for (const key of Object.keys(localStorage)) if (key.startsWith('twin:tabs_')) localStorage.removeItem(key);
  for (const part of document.cookie.split(';')) {
    const name = part.split('=')[0]!.trim();
    if (name.startsWith('twin.tabs_')) document.cookie = `${name}=;path=/;max-age=0`;
  }
});

/** What `console[level]` printed while `fn` ran (and not to the console). */
async function logged(level: 'warn' | 'error', fn: () => unknown): Promise<string[]> {
  const lines: string[] = [];
  const original = console[level];
  console[level] = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  try {
    await fn();
  } finally {
    console[level] = original;
  }
  return lines;
}

/** A new local store in localStorage, read once (so this page follows it). */
function define(options: { schema?: StandardSchemaV1<object, object>; cookie?: boolean; persist?: 'local' | 'session' } = {}) {
  const name = uniq('tabs_');
  const prefs = app.local(name, () => ({ theme: 'light', name: '' }), { persist: 'local', ...options } as { persist: 'local' }) as { theme: string; name: string };
  void prefs.theme;
  return { name, prefs };
}

/** The value of cookie `name` in this document, decoded, or undefined. */
function cookie(name: string): unknown {
  const part = document.cookie.split(';').map((p) => p.trim()).find((p) => p.startsWith(`${name}=`));
  return part === undefined ? undefined : JSON.parse(decodeURIComponent(part.slice(name.length + 1)));
}

const schema = v.object({ theme: v.picklist(['light', 'dark']), name: v.string() });

describe('a local store in localStorage, written by another document of the origin', () => {
  it('takes the value there, and its bindings show it', async () => {
    const { name, prefs } = define({ schema });
    const el = await fixture(html`<twin-bind store=${name} key="theme"></twin-bind>`);
    expect(el.textContent).to.equal('light');
    other.localStorage.setItem(`twin:${name}`, JSON.stringify({ theme: 'dark', name: 'Ada' }));
    await until(() => el.textContent === 'dark', 'the binding to show the other document\'s write');
    expect(prefs.name).to.equal('Ada');
    // And this page's next write goes back to the shared storage.
    prefs.name = 'Bob';
    await flush();
    expect(JSON.parse(other.localStorage.getItem(`twin:${name}`)!)).to.deep.equal({ theme: 'dark', name: 'Bob' });
  });

  it('ignores, with one coded warning each, a corrupted value and one its schema refuses', async () => {
    const { name, prefs } = define({ schema });
    prefs.theme = 'dark';
    await flush();
    const warnings = await logged('warn', async () => {
      other.localStorage.setItem(`twin:${name}`, '{"theme": "da');
      other.localStorage.setItem(`twin:${name}`, '{"theme":"neon","name":""}');
      other.localStorage.setItem(`twin:${name}`, '["dark"]');
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    expect(warnings).to.have.length(3);
    for (const warning of warnings) expect(warning).to.contain('TWIN_ERR_SCHEMA').and.contain(name);
    expect(prefs.theme).to.equal('dark');
    // The store works on.
    prefs.theme = 'light';
    await flush();
    expect(JSON.parse(localStorage.getItem(`twin:${name}`)!).theme).to.equal('light');
  });

  it('waits for an async schema before taking a value', async () => {
    const { name, prefs } = define({ schema: v.objectAsync({ theme: v.pipeAsync(v.string(), v.checkAsync(async (theme) => theme !== 'neon')), name: v.string() }) });
    const warnings = await logged('warn', async () => {
      other.localStorage.setItem(`twin:${name}`, '{"theme":"neon","name":""}');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(prefs.theme).to.equal('light');
      other.localStorage.setItem(`twin:${name}`, '{"theme":"blue","name":""}');
      await until(() => prefs.theme === 'blue', 'the accepted value');
    });
    expect(warnings).to.have.length(1);
  });

  it('keeps its value when the other document removes the key, and leaves stores kept elsewhere alone', async () => {
    const { name, prefs } = define();
    prefs.theme = 'dark';
    await flush();
    const session = define({ persist: 'session' });
    const warnings = await logged('warn', async () => {
      other.localStorage.removeItem(`twin:${name}`);
      other.localStorage.setItem(`twin:${session.name}`, '{"theme":"dark","name":""}');
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    expect(warnings).to.deep.equal([]);
    expect(prefs.theme).to.equal('dark');
    expect(session.prefs.theme).to.equal('light');
  });
});

describe('a local store mirrored to a cookie', () => {
  it('writes its value to twin.<name> at each write, and when first read', async () => {
    const name = uniq('tabs_');
    localStorage.setItem(`twin:${name}`, '{"theme":"dark","name":"Ada"}');
    const prefs = app.local(name, () => ({ theme: 'light', name: '' }), { persist: 'local', cookie: true });
    expect(prefs.theme).to.equal('dark');
    expect(cookie(`twin.${name}`)).to.deep.equal({ theme: 'dark', name: 'Ada' });
    prefs.name = 'Ada & <Bob>; x=1';
    await flush();
    expect(cookie(`twin.${name}`)).to.deep.equal({ theme: 'dark', name: 'Ada & <Bob>; x=1' });
  });

  it('refuses, with one coded error, a value too big for a cookie: no cookie, the localStorage copy kept', async () => {
    const { name, prefs } = define({ cookie: true });
    prefs.theme = 'dark';
    await flush();
    expect(cookie(`twin.${name}`)).to.deep.equal({ theme: 'dark', name: '' });
    const errors = await logged('error', async () => {
      prefs.name = 'x'.repeat(3000);
      await flush();
      prefs.name = 'y'.repeat(3000);
      await flush();
    });
    expect(errors).to.have.length(1);
    expect(errors[0]).to.contain('TWIN_ERR_TOO_BIG').and.contain(name);
    // No stale cookie either: the server renders the default rather than an old value.
    expect(cookie(`twin.${name}`)).to.equal(undefined);
    expect(JSON.parse(localStorage.getItem(`twin:${name}`)!).name).to.equal('y'.repeat(3000));
    prefs.name = 'short';
    await flush();
    expect(cookie(`twin.${name}`)).to.deep.equal({ theme: 'dark', name: 'short' });
  });

  it('with an async schema, holds the cookie until the verdict: the default for a refused value', async () => {
    const asyncSchema = v.objectAsync({ theme: v.pipeAsync(v.string(), v.checkAsync(async (theme) => theme !== 'neon')), name: v.string() });
    const name = uniq('tabs_');
    localStorage.setItem(`twin:${name}`, '{"theme":"neon","name":""}');
    const warnings = await logged('warn', async () => {
      const prefs = app.local(name, () => ({ theme: 'light', name: '' }), { persist: 'local', cookie: true, schema: asyncSchema });
      expect(prefs.theme).to.equal('neon');
      expect(cookie(`twin.${name}`)).to.equal(undefined);
      await until(() => prefs.theme === 'light', 'the refused value to give way to the default');
      await until(() => cookie(`twin.${name}`) !== undefined, 'the cookie');
    });
    expect(warnings).to.have.length(1);
    expect(cookie(`twin.${name}`)).to.deep.equal({ theme: 'light', name: '' });
  });

  it('is not written for a store without cookie: true', async () => {
    const { name, prefs } = define();
    prefs.theme = 'dark';
    await flush();
    expect(cookie(`twin.${name}`)).to.equal(undefined);
  });
});
