// SPDX-License-Identifier: MIT
/**
 * @module local-cookies.test
 * A local store with `cookie: true` is rendered from the request's mirror cookie, as a plain
 * fetch with a Cookie header gets it (what curl sees): the visitor's value in the bindings
 * and the hydration data. The cookie is the request's, so untrusted: markup, invalid JSON, a
 * value the schema refuses, one too big or too deep each render the default, leave the page
 * whole, and log one warning (rate-limited), never a crash.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { defineApp } from '../src/index.js';
import type { Json } from '../src/index.js';
import { startServer } from '../test/helpers/server.js';

const PAGE = `<!doctype html>
<html><head><title>Prefs</title></head>
<body>
  <twin-bind store="prefs" key="theme" attr="data-theme"><main id="themed">themed</main></twin-bind>
  <p id="name"><twin-bind store="prefs" key="name"></twin-bind></p>
  <p id="plain"><twin-bind store="plain" key="name"></twin-bind></p>
  <p id="end">end of page</p>
</body></html>
`;

const DEFAULT = { theme: 'light' as 'light' | 'dark', name: 'anonymous' };

function defineStores() {
  const app = defineApp();
  app.local('prefs', () => ({ ...DEFAULT }), {
    persist: 'local',
    cookie: true,
    schema: v.object({ theme: v.picklist(['light', 'dark']), name: v.pipe(v.string(), v.maxLength(100)) }),
  });
  // Persisted but not mirrored: a cookie by its name is not read.
  app.local('plain', () => ({ name: 'plain default' }), { persist: 'local' });
  return app;
}

/** A mirror cookie's value as the browser writes it. */
const encoded = (value: unknown) => encodeURIComponent(JSON.stringify(value));

interface Rendered {
  html: string;
  local: Record<string, { value: Json; persist?: string; cookie?: boolean }>;
}

/** Takes the page apart as a browser would see it: hydration data, and that nothing ran together. */
function parse(html: string): Rendered {
  const scripts = html.match(/<script\b/g) ?? [];
  assert.equal(scripts.length, 1, `one script element (the hydration data) in ${html}`);
  const match = /<script type="application\/json" id="twin-hydration">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(match, `no hydration script in ${html}`);
  assert.match(html, /<p id="end">end of page<\/p>\s*<\/body><\/html>/, 'the page is whole after the bindings');
  return { html, local: (JSON.parse(match[1]!) as { local: Rendered['local'] }).local };
}

describe('a local store mirrored to a cookie, rendered by the server', () => {
  let root: string;
  let srv: Awaited<ReturnType<typeof startServer>>;
  const warnings: string[] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args.join(' ')), error: (...args: unknown[]) => warnings.push(args.join(' ')) };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'twin-cookie-'));
    await writeFile(join(root, 'index.html'), PAGE);
    srv = await startServer(defineStores(), { pages: root, logger });
  });
  after(async () => {
    await srv?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** GET / with `cookie` as the Cookie header, as curl -H 'Cookie: …' would. */
  async function get(cookie?: string): Promise<Rendered> {
    const res = await fetch(`${srv.http}/`, cookie === undefined ? {} : { headers: { cookie } });
    assert.equal(res.status, 200);
    return parse(await res.text());
  }

  function assertDefault(page: Rendered): void {
    assert.deepEqual(page.local.prefs, { value: DEFAULT, persist: 'local', cookie: true });
    assert.match(page.html, /<main id="themed" data-theme="light">themed<\/main>/);
    assert.match(page.html, /<p id="name"><twin-bind store="prefs" key="name">anonymous<\/twin-bind><\/p>/);
  }

  it('renders the default without a cookie, and says the store is mirrored', async () => {
    const page = await get();
    assertDefault(page);
    assert.deepEqual(page.local.plain, { value: { name: 'plain default' }, persist: 'local' });
    assert.deepEqual(warnings, []);
  });

  it('renders the value of the cookie in the bindings and the hydration data (what curl gets)', async () => {
    const value = { theme: 'dark', name: 'Ada & <Bob>' };
    const page = await get(`other=1; twin.prefs=${encoded(value)}; twin.plain=${encoded({ name: 'from cookie' })}`);
    assert.deepEqual(page.local.prefs, { value, persist: 'local', cookie: true });
    assert.match(page.html, /<main id="themed" data-theme="dark">themed<\/main>/);
    assert.match(page.html, /<twin-bind store="prefs" key="name">Ada &amp; &lt;Bob&gt;<\/twin-bind>/);
    // A store not mirrored ignores a cookie of its name.
    assert.deepEqual(page.local.plain!.value, { name: 'plain default' });
    assert.deepEqual(warnings, []);
  });

  it('escapes markup in a value the schema accepts', async () => {
    const value = { theme: 'dark', name: '</script><script>alert(1)</script>' };
    const page = await get(`twin.prefs=${encoded(value)}`);
    assert.deepEqual(page.local.prefs!.value, value);
    assert.ok(!page.html.includes('<script>alert'));
    assert.match(page.html, /<twin-bind store="prefs" key="name">&lt;\/script&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/twin-bind>/);
    assert.deepEqual(warnings, []);
  });

  const deep = (levels: number): Json => (levels === 0 ? 'x' : { a: deep(levels - 1) });
  const bad: [string, string][] = [
    ['markup, raw', '</script><script>alert(1)</script>'],
    ['markup, URI-encoded', encodeURIComponent('</script><script>alert(1)</script>')],
    ['invalid JSON', encodeURIComponent('{"theme": "da')],
    ['a bad URI escape', '%E0%A4%A'],
    ['a value the schema refuses', encoded({ theme: 'neon', name: 'Ada' })],
    ['a value the schema refuses, with markup', encoded({ theme: '"><script>alert(1)</script>', name: 'Ada' })],
    ['not an object', encoded(['dark'])],
    ['a forbidden key', encodeURIComponent('{"theme":"dark","name":"Ada","__proto__":{"x":1}}')],
    ['too deep', encoded({ theme: 'dark', name: 'Ada', extra: deep(40) })],
    ['too big', encoded({ theme: 'dark', name: 'Ada', pad: 'x'.repeat(8000) })],
  ];
  for (const [what, cookie] of bad) {
    it(`renders the default, keeps the page whole and logs a warning for a cookie holding ${what}`, async () => {
      // Each case on a fresh server: the log is rate-limited per server.
      const logged: string[] = [];
      const own = await startServer(defineStores(), { pages: root, logger: { warn: (...args: unknown[]) => logged.push(args.join(' ')), error: () => {} } });
      try {
        const res = await fetch(`${own.http}/`, { headers: { cookie: `twin.prefs=${cookie}` } });
        assert.equal(res.status, 200);
        const page = parse(await res.text());
        assertDefault(page);
        assert.ok(!page.html.includes('alert(1)'), 'nothing of the cookie is rendered');
        assert.equal(logged.length, 1, `one warning: ${logged.join('\n')}`);
        assert.match(logged[0]!, /TWIN_ERR_SCHEMA.*twin\.prefs/);
      } finally {
        await own.close();
      }
    });
  }

  it('logs bad cookies at a bounded rate, and keeps serving', async () => {
    for (let i = 0; i < 5; i++) assertDefault(await get('twin.prefs=%7Bnope'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /TWIN_ERR_SCHEMA/);
  });
});
