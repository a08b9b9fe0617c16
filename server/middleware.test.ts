// SPDX-License-Identifier: MIT
/**
 * @module middleware.test
 * The Koa side of a twin server over real HTTP: pages from a folder rendered with current
 * values and hydration data, HTML bodies of later middleware rendered too, per-request local
 * state, the health check, the client bundle, static files with ETags, and requests that try
 * to leave the pages folder.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineApp, settled, snapshot, status } from '../src/index.js';
import type { Json } from '../src/index.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';

const SECRET = 'TOP-SECRET-OUTSIDE-PAGES';
const BUNDLE = fileURLToPath(new URL('../dist/twin.min.js', import.meta.url));

const INDEX = `<!doctype html>
<html><head><title>Game</title></head>
<body>
  <p>Score: <twin-bind store="s" key="score"></twin-bind></p>
  <p>Name: <twin-bind store="s" key="name"></twin-bind></p>
  <p>Tab: <twin-bind store="ui" key="tab_id"></twin-bind></p>
  <p>Hidden: <twin-bind store="hidden" key="code"></twin-bind></p>
</body></html>
`;

interface Hydration {
  shared: Record<string, { value: Json; v: number }>;
  local: Record<string, { value: Json; persist?: string }>;
}

/** The JSON of the page's `#twin-hydration` script. */
function hydrationOf(html: string): Hydration {
  const match = /<script type="application\/json" id="twin-hydration">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(match, `no hydration script in ${html}`);
  return JSON.parse(match[1]!) as Hydration;
}

/** The rendered text of `<twin-bind store=… key=…>`. */
function boundText(html: string, store: string, key: string): string | undefined {
  const match = new RegExp(`<twin-bind store="${store}" key="${key}">([^<]*)</twin-bind>`).exec(html);
  return match?.[1];
}

/** A GET with the path sent exactly as given (fetch would normalize `..` away). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(2000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('server.middleware()', () => {
  const app = defineApp();
  const s = app.shared('s', () => ({ score: 7, name: '<b>bold</b> & co' }));
  app.shared('hidden', () => ({ code: 'swordfish' }), { canRead: () => false });
  app.local('ui', () => ({ tab_id: randomUUID(), theme: 'light' }));
  let root: string;
  let srv: TestServer;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'twin-middleware-'));
    const pages = join(root, 'pages');
    await mkdir(join(pages, 'sub'), { recursive: true });
    await writeFile(join(pages, 'index.html'), INDEX);
    await writeFile(join(pages, 'about.html'), '<p>About <twin-bind store="s" key="score"></twin-bind></p>');
    await writeFile(join(pages, 'style.css'), 'body { color: red }');
    await writeFile(join(pages, 'sub', 'index.html'), '<p>Sub</p>');
    await writeFile(join(root, 'secret.txt'), SECRET);
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: SECRET }));
    srv = await startServer(app, { pages }, {
      after: (koa) => koa.use((ctx) => {
        if (ctx.path === '/dynamic') {
          ctx.type = 'html';
          ctx.body = '<twin-bind store="s" key="score"></twin-bind>';
        }
      }),
    });
  });
  after(async () => {
    await srv?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('pages', () => {
    it('renders the current values and puts {value, v} in the hydration data', async () => {
      const res = await fetch(`${srv.http}/`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const html = await res.text();
      assert.equal(boundText(html, 's', 'score'), '7');
      assert.equal(boundText(html, 's', 'name'), '&lt;b&gt;bold&lt;/b&gt; &amp; co');
      const hydration = hydrationOf(html);
      assert.deepEqual(hydration.shared.s, { value: { score: 7, name: '<b>bold</b> & co' }, v: status(s).v });
      // A store the reader may not see is neither rendered nor hydrated.
      assert.ok(!html.includes('swordfish'));
      assert.equal(hydration.shared.hidden, undefined);
      assert.equal(boundText(html, 'hidden', 'code'), '');
    });

    it('shows a value written after start in the next request', async () => {
      const v = status(s).v;
      s.score = 42;
      await settled(s);
      const html = await (await fetch(`${srv.http}/`)).text();
      assert.equal(boundText(html, 's', 'score'), '42');
      assert.deepEqual(hydrationOf(html).shared.s, { value: { score: 42, name: '<b>bold</b> & co' }, v: v + 1 });
      const about = await (await fetch(`${srv.http}/about`)).text();
      assert.match(about, /About <twin-bind store="s" key="score">42<\/twin-bind>/);
    });

    it('computes local stores per request: initial values present, never shared between two requests', async () => {
      const [one, two] = await Promise.all([fetch(`${srv.http}/`).then((r) => r.text()), fetch(`${srv.http}/`).then((r) => r.text())]);
      const a = hydrationOf(one).local.ui;
      const b = hydrationOf(two).local.ui;
      assert.ok(a && b);
      assert.equal((a.value as { theme: string }).theme, 'light');
      const idA = (a.value as { tab_id: string }).tab_id;
      const idB = (b.value as { tab_id: string }).tab_id;
      assert.match(idA, /^[0-9a-f-]{36}$/);
      assert.notEqual(idA, idB);
      assert.equal(boundText(one, 'ui', 'tab_id'), idA);
      assert.equal(boundText(two, 'ui', 'tab_id'), idB);
      assert.ok(!two.includes(idA), "one request's local state never reaches another's page");
    });

    it('renders an HTML body set by a later middleware', async () => {
      const res = await fetch(`${srv.http}/dynamic`);
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.equal(boundText(html, 's', 'score'), String(snapshot(s).score));
      assert.deepEqual(hydrationOf(html).shared.s?.v, status(s).v);
    });

    it('serves index.html for a folder and 404 for what is not there', async () => {
      assert.match(await (await fetch(`${srv.http}/sub/`)).text(), /<p>Sub<\/p>/);
      const missing = await fetch(`${srv.http}/nope.html`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    });

    it('serves other files with their type and an ETag, and 304 when it matches', async () => {
      const res = await fetch(`${srv.http}/style.css`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/css/);
      assert.equal(await res.text(), 'body { color: red }');
      const etag = res.headers.get('etag');
      assert.ok(etag);
      const again = await fetch(`${srv.http}/style.css`, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), '');
    });
  });

  describe('/_twin/health', () => {
    it('returns JSON with ok: true', async () => {
      const res = await fetch(`${srv.http}/_twin/health`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = (await res.json()) as { ok: boolean; connections: number };
      assert.equal(body.ok, true);
      assert.equal(body.connections, srv.server.connectionCount);
    });
  });

  describe('/_twin/twin.js', () => {
    it('serves the built bundle with an ETag (304 on a match), or says to build it', async () => {
      const res = await fetch(`${srv.http}/_twin/twin.js`);
      if (existsSync(BUNDLE)) {
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
        assert.equal(res.headers.get('cache-control'), 'no-cache');
        const etag = res.headers.get('etag');
        assert.ok(etag, 'an ETag');
        assert.ok((await res.arrayBuffer()).byteLength > 0);
        const again = await fetch(`${srv.http}/_twin/twin.js`, { headers: { 'If-None-Match': etag } });
        assert.equal(again.status, 304);
        assert.equal(again.headers.get('etag'), etag);
        assert.equal(await again.text(), '');
      } else {
        assert.equal(res.status, 404);
        assert.match(await res.text(), /npm run build/);
        assert.equal(res.headers.get('etag'), null);
      }
    });
  });

  describe('path traversal', () => {
    const attempts = [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/sub/../../secret.txt',
      '/sub/%2e%2e/%2e%2e/secret.txt',
      '/../package.json',
      '/%2e%2e/package.json',
      '/../pages/../secret.txt',
      '/%2e%2e/secret',
      '/..',
      '/%00/../secret.txt',
      '/%ff/../secret.txt',
    ];
    for (const path of attempts) {
      it(`never serves a file outside the pages folder: ${path}`, async () => {
        const res = await rawGet(srv.http, path);
        assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
        assert.ok(!res.body.includes(SECRET), `leaked: ${res.body.slice(0, 200)}`);
      });
    }

    it('still serves what is inside', async () => {
      const res = await rawGet(srv.http, '/sub/../style.css');
      assert.equal(res.status, 200);
      assert.equal(res.body, 'body { color: red }');
    });
  });
});
