// SPDX-License-Identifier: MIT
/**
 * Refusals a user can see and an operator can read (issue 12.4, server side): the close reason
 * format shared with the browser client (`CODE[ retry=MS]: message`, at most 123 bytes), the
 * rate-limited logger, and a real server that refuses by `auth` with close 4401 and logs each
 * reason once however often it refuses.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp, ErrorCode } from '../src/index.js';
import { CloseCode, formatCloseReason, MAX_CLOSE_REASON_BYTES, parseCloseReason } from '../src/close-codes.js';
import { RateLimitedLogger } from './logger.js';
import type { TwinOptions } from './index.js';
import { delay, startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { greeting, recordingLogger } from '../test/helpers/refused.js';

describe('formatCloseReason / parseCloseReason', () => {
  it('round-trips a code, a retry hint and a message', () => {
    const reason = formatCloseReason(ErrorCode.UNAVAILABLE, 'The server is restarting.', 2000);
    assert.equal(reason, 'TWIN_ERR_UNAVAILABLE retry=2000: The server is restarting.');
    assert.deepEqual(parseCloseReason(reason), { code: ErrorCode.UNAVAILABLE, message: 'The server is restarting.', retry: 2000 });
    assert.deepEqual(parseCloseReason('TWIN_ERR_AUTH: No.'), { code: ErrorCode.AUTH, message: 'No.' });
    assert.deepEqual(parseCloseReason('Going away'), { code: undefined, message: 'Going away' });
    assert.deepEqual(parseCloseReason(''), { code: undefined, message: '' });
  });

  it('cuts a long reason at a character to fit a close frame', () => {
    const reason = formatCloseReason(ErrorCode.ORIGIN, `Pages from https://${'é'.repeat(5000)}🙂.example may not connect.`);
    assert.ok(Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES, `${Buffer.byteLength(reason)} bytes`);
    assert.ok(reason.endsWith('…'));
    assert.ok(!reason.includes('\uFFFD'), 'no half character');
    assert.equal(parseCloseReason(reason).code, ErrorCode.ORIGIN);
  });
});

describe('RateLimitedLogger', () => {
  it('logs a key once per interval, then says how many were left out', async () => {
    const sink = recordingLogger();
    const log = new RateLimitedLogger(sink, 50);
    assert.equal(log.warn('origin', 'first'), true);
    assert.equal(log.warn('origin', 'second'), false);
    assert.equal(log.warn('origin', 'third'), false);
    assert.equal(log.error('auth', 'another key'), true);
    await delay(60);
    assert.equal(log.warn('origin', 'fourth'), true);
    assert.deepEqual(sink.lines, [
      { level: 'warn', text: '[twin-state] first' },
      { level: 'error', text: '[twin-state] another key' },
      { level: 'warn', text: '[twin-state] fourth (2 more like this since the last one was logged)' },
    ]);
  });

  it('survives a logger that throws, and refuses one without warn/error', () => {
    const log = new RateLimitedLogger({ warn: () => { throw new Error('disk full'); }, error: () => undefined });
    assert.equal(log.warn('k', 'message'), true);
    assert.throws(() => new RateLimitedLogger({ warn() {} } as never), { name: 'TypeError', message: /"logger"/ });
  });
});

async function serve(t: TestContext, options: TwinOptions): Promise<TestServer> {
  const app = defineApp();
  app.shared('board', () => ({ n: 0 }));
  const srv = await startServer(app, options);
  t.after(() => srv.close());
  return srv;
}

describe('twin({ auth, logger }): refused upgrades', () => {
  it('closes with 4401 and TWIN_ERR_AUTH, logging the reason once for many refusals', async (t) => {
    const logger = recordingLogger();
    const srv = await serve(t, { logger, auth: ({ url }) => url.searchParams.get('token') === 'ok' && { name: 'ann' } });
    for (let i = 0; i < 10; i++) {
      const ending = await greeting(`${srv.url}?token=bad`);
      assert.notEqual(ending, 'welcome');
      if (ending === 'welcome') return;
      assert.equal(ending.opened, true, 'the upgrade is accepted, so the page can read the close');
      assert.equal(ending.status, undefined);
      assert.equal(ending.code, CloseCode.AUTH_REFUSED);
      const reason = parseCloseReason(ending.reason);
      assert.equal(reason.code, ErrorCode.AUTH);
      assert.ok(reason.message.length > 10, `a readable message: ${ending.reason}`);
    }
    assert.equal(await greeting(`${srv.url}?token=ok`), 'welcome');
    assert.notEqual(await greeting(srv.url, { origin: 'https://evil.example' }), 'welcome');
    assert.deepEqual(logger.lines.map((l) => l.level), ['warn', 'warn'], `one line per reason: ${JSON.stringify(logger.lines)}`);
    assert.match(logger.lines[0]!.text, /"auth" hook refused/);
    assert.match(logger.lines[1]!.text, /evil\.example/);
    assert.equal(srv.server.connectionCount, 0);
  });

  it('logs an auth hook that throws as an error, once, with what it threw', async (t) => {
    const logger = recordingLogger();
    const thrown: unknown[] = [];
    const srv = await serve(t, {
      logger: { warn: logger.warn, error: (...args: unknown[]) => (thrown.push(args[1]), logger.error(...args)) },
      auth: () => {
        throw new Error('session store down');
      },
    });
    for (let i = 0; i < 3; i++) {
      const ending = await greeting(srv.url);
      assert.ok(ending !== 'welcome' && ending.code === CloseCode.AUTH_REFUSED);
    }
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 1);
    assert.match(String((thrown[0] as Error).message), /session store down/);
  });
});
