// SPDX-License-Identifier: MIT
/**
 * Tests of the Origin check (ARCHITECTURE.md rules; issue 13.6): origins are configured, never inferred
 * from the Host header. Against a real server with real `ws` clients: DNS rebinding, a scheme
 * or port mismatch and a prefix match are refused with close 4403 and `TWIN_ERR_ORIGIN`;
 * configured origins, `publicUrl`, loopback pages (when nothing is configured) and clients
 * without an Origin are welcome; the refusal is logged once, saying how to configure.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp, ErrorCode } from '../src/index.js';
import { CloseCode, parseCloseReason } from '../src/close-codes.js';
import { isLoopbackOrigin, normalizeOrigin, originPolicy } from './origins.js';
import type { TwinOptions } from './index.js';
import { startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { greeting, recordingLogger } from '../test/helpers/refused.js';

function makeApp() {
  const app = defineApp();
  app.shared('board', () => ({ n: 0 }));
  return app;
}

async function serve(t: TestContext, options: TwinOptions): Promise<TestServer> {
  const srv = await startServer(makeApp(), options);
  t.after(() => srv.close());
  return srv;
}

/** Connects with `origin` (and Host, if given) and says hello; resolves with how it went. */
async function attempt(srv: TestServer, origin: string | undefined, host?: string): Promise<'welcome' | { code: number; reason: string }> {
  const headers: Record<string, string> = {};
  if (origin !== undefined) headers.Origin = origin;
  if (host !== undefined) headers.Host = host;
  const outcome = await greeting(srv.url, { headers });
  if (outcome === 'welcome') return outcome;
  assert.equal(outcome.status, undefined, 'refused by a close code, not an HTTP status a browser would hide');
  return { code: outcome.code, reason: outcome.reason };
}

function assertOriginRefused(result: Awaited<ReturnType<typeof attempt>>, what: string): void {
  assert.notEqual(result, 'welcome', `${what} must be refused`);
  const { code, reason } = result as { code: number; reason: string };
  assert.equal(code, CloseCode.ORIGIN_REFUSED, what);
  assert.equal(parseCloseReason(reason).code, ErrorCode.ORIGIN, what);
  assert.ok(Buffer.byteLength(reason) <= 123, 'a reason that fits a close frame');
}

describe('normalizeOrigin / originPolicy', () => {
  it('normalizes scheme, host case and default ports, and refuses what is not a page origin', () => {
    assert.equal(normalizeOrigin('HTTPS://App.Example:443/'), 'https://app.example');
    assert.equal(normalizeOrigin('http://app.example:8080/path?q'), 'http://app.example:8080');
    assert.equal(normalizeOrigin('null'), undefined);
    assert.equal(normalizeOrigin('file:///etc/passwd'), undefined);
    assert.ok(isLoopbackOrigin('http://localhost:5173'));
    assert.ok(isLoopbackOrigin('http://[::1]:3000'));
    assert.ok(!isLoopbackOrigin('http://localhost.evil.example'));
  });

  it('matches exactly: no scheme, port or prefix slack', () => {
    const policy = originPolicy(['https://app.example'], 'https://www.app.example/some/path');
    assert.ok(policy.configured);
    assert.ok(policy.allows('https://app.example'));
    assert.ok(policy.allows('https://www.app.example'));
    assert.ok(!policy.allows('http://app.example'));
    assert.ok(!policy.allows('https://app.example:8443'));
    assert.ok(!policy.allows('https://app.example.evil.com'));
    assert.ok(!policy.allows('http://localhost:3000'), 'loopback only when nothing is configured');
  });

  it('throws a TypeError naming a configured entry that is not an origin', () => {
    assert.throws(() => originPolicy(['app.example']), { name: 'TypeError', message: /"origins".*"app\.example"/ });
    assert.throws(() => originPolicy(undefined, 'ftp://app.example'), { name: 'TypeError', message: /"publicUrl"/ });
    assert.throws(() => originPolicy('all' as never), { name: 'TypeError' });
  });
});

describe('twin({ origins, publicUrl }): the upgrade', () => {
  it('refuses DNS rebinding (Origin and Host both the attacker\'s name) with 4403, by default and configured', async (t) => {
    const logger = recordingLogger();
    const bare = await serve(t, { logger });
    assertOriginRefused(await attempt(bare, 'http://evil.example', 'evil.example'), 'a rebinding page on a default server');
    assertOriginRefused(await attempt(bare, `http://evil.example:${bare.port}`, `evil.example:${bare.port}`), 'a rebinding page with the port');
    const configured = await serve(t, { publicUrl: 'https://app.example', logger });
    assertOriginRefused(await attempt(configured, 'http://evil.example', 'evil.example'), 'a rebinding page on a configured server');
  });

  it('refuses an Origin that differs only in scheme, or only in port, and a prefix match', async (t) => {
    const srv = await serve(t, { origins: ['https://app.example'], logger: recordingLogger() });
    assertOriginRefused(await attempt(srv, 'http://app.example'), 'another scheme');
    assertOriginRefused(await attempt(srv, 'https://app.example:8443'), 'another port');
    assertOriginRefused(await attempt(srv, 'https://app.example.evil.com'), 'a prefix match');
    assertOriginRefused(await attempt(srv, 'null'), 'an opaque origin');
  });

  it('allows the documented origins list, publicUrl, and clients with no Origin', async (t) => {
    const srv = await serve(t, { publicUrl: 'https://chat.example', origins: ['https://admin.chat.example', 'http://localhost:5173'] });
    assert.equal(await attempt(srv, 'https://chat.example'), 'welcome');
    assert.equal(await attempt(srv, 'https://CHAT.example:443'), 'welcome', 'as a browser may spell it');
    assert.equal(await attempt(srv, 'https://admin.chat.example'), 'welcome');
    assert.equal(await attempt(srv, 'http://localhost:5173'), 'welcome');
    assert.equal(await attempt(srv, undefined), 'welcome', 'not a browser: auth is its gate');
  });

  it('with nothing configured allows loopback pages only, and logs once how to configure', async (t) => {
    const logger = recordingLogger();
    const srv = await serve(t, { logger });
    assert.equal(await attempt(srv, srv.http), 'welcome');
    assert.equal(await attempt(srv, `http://localhost:${srv.port}`), 'welcome');
    assert.equal(await attempt(srv, 'http://[::1]:8080'), 'welcome');
    assertOriginRefused(await attempt(srv, 'https://app.example'), 'a public origin nobody configured');
    assertOriginRefused(await attempt(srv, 'https://other.example'), 'another one');
    assert.equal(logger.lines.length, 1, `one line for both refusals: ${JSON.stringify(logger.lines)}`);
    assert.equal(logger.lines[0]!.level, 'warn');
    assert.match(logger.lines[0]!.text, /https:\/\/app\.example/);
    assert.match(logger.lines[0]!.text, /publicUrl/);
    assert.match(logger.lines[0]!.text, /PUBLIC_URL/);
    assert.match(logger.lines[0]!.text, /origins/);
    assert.match(logger.lines[0]!.text, /proxy/);
  });

  it('a predicate decides (one that throws refuses); "*" allows any page', async (t) => {
    const srv = await serve(t, {
      logger: recordingLogger(),
      origins: (origin) => {
        if (origin.includes('boom')) throw new Error('origins hook failed');
        return origin.endsWith('.partner.example');
      },
    });
    assert.equal(await attempt(srv, 'https://a.partner.example'), 'welcome');
    assertOriginRefused(await attempt(srv, 'https://partner.example.evil.com'), 'refused by the predicate');
    assertOriginRefused(await attempt(srv, 'https://boom.example'), 'a predicate that throws');
    const any = await serve(t, { origins: '*' });
    assert.equal(await attempt(any, 'https://anything.example'), 'welcome');
  });
});
