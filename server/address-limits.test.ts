// SPDX-License-Identifier: MIT
/**
 * Tests of the limits that follow the client, not the connection (issue 13.5): the per-address
 * connection cap (1013 `TWIN_ERR_OVERLOAD` with a retry hint past it), the address's token
 * bucket that reconnecting does not refill, `trustProxy`, and the bounded, self-expiring map of
 * addresses. The class alone first, then a real server with real `ws` clients.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { defineApp, ErrorCode } from '../src/index.js';
import { CloseCode, parseCloseReason } from '../src/close-codes.js';
import { addressKey, AddressLimits, clientAddress } from './address-limits.js';
import type { TwinOptions } from './index.js';
import { newClientId, startServer, until } from '../test/helpers/server.js';
import type { RawClient, TestServer } from '../test/helpers/server.js';
import { greeting, recordingLogger } from '../test/helpers/refused.js';

const LIMITS = { rate: 100, burst: 100, addressRate: 10, addressBurst: 5, maxConnectionsPerAddress: 2 };

describe('AddressLimits', () => {
  it('caps connections per address, counting each close', () => {
    const limits = new AddressLimits(LIMITS);
    assert.ok(limits.open('a'));
    assert.ok(limits.open('a'));
    assert.equal(limits.open('a'), undefined, 'a third connection from a');
    assert.ok(limits.open('b'), 'another address is not affected');
    limits.close('a');
    assert.ok(limits.open('a'), 'room again after a close');
    assert.equal(limits.connections('a'), 2);
  });

  it('shares one bucket between an address\'s connections, before and after a reconnect', () => {
    const limits = new AddressLimits(LIMITS);
    const first = limits.open('a')!;
    assert.ok(first.take(5));
    assert.ok(!first.take(1), 'the address burst is spent');
    limits.close('a');
    const again = limits.open('a')!;
    assert.ok(!again.take(1), 'reconnecting buys no fresh burst');
    const other = limits.open('b')!;
    assert.ok(other.take(5), 'other addresses have their own');
  });

  it('keeps each connection within its own rate too', () => {
    const limits = new AddressLimits({ ...LIMITS, rate: 1, burst: 2, addressBurst: 100 });
    const one = limits.open('a')!;
    const two = limits.open('a')!;
    assert.ok(one.take(2));
    assert.ok(!one.take(1), 'one connection cannot take the address\'s whole allowance');
    assert.ok(two.take(2));
  });

  it('forgets idle addresses once refilled and keeps at most maxAddresses idle ones', () => {
    const limits = new AddressLimits({ ...LIMITS, maxAddresses: 10 });
    const now = Date.now();
    for (let i = 0; i < 50; i++) {
      limits.open(`idle-${i}`, now)!.take(5);
      limits.close(`idle-${i}`);
    }
    limits.open('live', now);
    assert.equal(limits.size, 51);
    limits.sweep(now);
    assert.equal(limits.size, 11, '10 idle (still refilling) and the live one');
    limits.sweep(now + 60_000);
    assert.equal(limits.size, 1, 'refilled idle addresses hold nothing worth keeping');
    assert.equal(limits.connections('live'), 1);
  });

  it('refuses limits that are not positive numbers', () => {
    assert.throws(() => new AddressLimits({ ...LIMITS, addressRate: 0 }), { name: 'RangeError', message: /"addressRate"/ });
  });
});

describe('addressKey', () => {
  it('counts IPv6 by its /64 and IPv4 (mapped or not) by its address', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:0DB8:0000:0001::1'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('not:an::address::'), 'not:an::address::', 'left as it is');
  });

  it('makes a new address from the same /64 share its cap', () => {
    const limits = new AddressLimits({ ...LIMITS, maxConnectionsPerAddress: 2 });
    assert.ok(limits.open('2001:db8:0:1::a'));
    assert.ok(limits.open('2001:db8:0:1::b'));
    assert.equal(limits.open('2001:db8:0:1:ffff::c'), undefined);
    assert.ok(limits.open('2001:db8:0:2::a'), 'another /64');
  });
});

describe('clientAddress', () => {
  const request = (xff?: string) => ({ socket: { remoteAddress: '10.0.0.9' }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

  it('takes the peer address unless trustProxy is set', () => {
    assert.equal(clientAddress(request('1.2.3.4'), undefined), '10.0.0.9');
    assert.equal(clientAddress(request('1.2.3.4'), false), '10.0.0.9');
  });

  it('with trustProxy: the first X-Forwarded-For address, or the n-th from the right', () => {
    assert.equal(clientAddress(request(' 1.2.3.4 , 5.6.7.8'), true), '1.2.3.4');
    assert.equal(clientAddress(request('6.6.6.6, 1.2.3.4'), 1), '1.2.3.4', 'the entry the one proxy appended');
    assert.equal(clientAddress(request('6.6.6.6, 1.2.3.4, 10.1.1.1'), 2), '1.2.3.4');
    assert.equal(clientAddress(request(), true), '10.0.0.9', 'no header: the peer');
  });
});

function makeApp() {
  const app = defineApp();
  app.shared('board', () => ({ n: 0 }));
  return app;
}

async function serve(t: TestContext, options: TwinOptions): Promise<TestServer> {
  const srv = await startServer(makeApp(), { logger: recordingLogger(), ...options });
  t.after(() => srv.close());
  return srv;
}

describe('twin({ limits, trustProxy }): per address', () => {
  it('closes a connection over the per-address cap with 1013 and TWIN_ERR_OVERLOAD; others are unaffected', async (t) => {
    const logger = recordingLogger();
    const srv = await serve(t, { logger, limits: { maxConnectionsPerAddress: 3 } });
    const held: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const raw = await srv.raw();
      await raw.hello();
      held.push(raw);
    }
    for (let i = 0; i < 5; i++) {
      const over = await greeting(srv.url);
      assert.notEqual(over, 'welcome');
      if (over === 'welcome') return;
      assert.equal(over.code, CloseCode.TRY_LATER);
      const reason = parseCloseReason(over.reason);
      assert.equal(reason.code, ErrorCode.OVERLOAD);
      assert.ok(reason.retry !== undefined && reason.retry > 0, `a retry hint: ${over.reason}`);
    }
    assert.equal(srv.server.connectionCount, 3);
    assert.equal(logger.lines.filter((l) => l.text.includes('maxConnectionsPerAddress')).length, 1, 'logged once, not five times');
    // The connections held still work, and a close makes room.
    held[0]!.send({ t: 'ping' });
    await held[0]!.next((m) => m.t === 'pong');
    await held[1]!.close();
    await until(() => srv.server.connectionCount === 2, 'the close to be counted');
    assert.equal(await greeting(srv.url), 'welcome');
  });

  it('closes a connection over the total cap (maxConnections) with 1013', async (t) => {
    const logger = recordingLogger();
    const srv = await serve(t, { logger, limits: { maxConnections: 2 } });
    for (let i = 0; i < 2; i++) await (await srv.raw()).hello();
    const over = await greeting(srv.url);
    assert.ok(over !== 'welcome' && over.code === CloseCode.TRY_LATER && parseCloseReason(over.reason).code === ErrorCode.OVERLOAD);
    assert.equal(srv.server.connectionCount, 2);
    assert.match(logger.lines[0]?.text ?? '', /maxConnections/);
  });

  it('a flood of connections from one address: the cap holds, the rest are refused by code, another client is served', async (t) => {
    const CAP = 20;
    const FLOOD = 200;
    const srv = await serve(t, { trustProxy: true, limits: { maxConnectionsPerAddress: CAP } });
    const flooder = { headers: { 'X-Forwarded-For': '198.51.100.66' } };
    const healthy = await srv.raw({ headers: { 'X-Forwarded-For': '203.0.113.9' } });
    await healthy.hello(undefined, { board: 0 });
    const sockets = Array.from({ length: FLOOD }, () => new WebSocket(srv.url, flooder));
    const endings = sockets.map((ws) => new Promise<number | 'open'>((resolve) => {
      ws.on('error', () => undefined);
      ws.once('close', (code: number) => resolve(code));
      ws.once('open', () => setTimeout(() => ws.readyState === WebSocket.OPEN && resolve('open'), 200));
    }));
    const results = await Promise.all(endings);
    assert.equal(results.filter((r) => r === 'open').length, CAP, 'exactly the cap stays open');
    assert.equal(results.filter((r) => r === CloseCode.TRY_LATER).length, FLOOD - CAP, 'the rest: 1013');
    healthy.send({ t: 'op', id: `${healthy.clientId}:1`, store: 'board', ops: [{ op: 'add', path: ['n'], delta: 1 }] });
    await healthy.next((m) => m.t === 'sync' && m.id === `${healthy.clientId}:1`);
    for (const ws of sockets) ws.terminate();
    await until(() => srv.server.connectionCount === 1, 'the flood to be gone');
    assert.equal(await greeting(srv.url, flooder), 'welcome', 'the address may connect again');
  });

  it('counts the X-Forwarded-For address with trustProxy, and ignores the header without it', async (t) => {
    const trusting = await serve(t, { trustProxy: true, limits: { maxConnectionsPerAddress: 1 } });
    const a = await trusting.raw({ headers: { 'X-Forwarded-For': '203.0.113.1' } });
    await a.hello();
    const secondA = await greeting(trusting.url, { headers: { 'X-Forwarded-For': '203.0.113.1, 10.0.0.1' } });
    assert.notEqual(secondA, 'welcome');
    assert.equal(await greeting(trusting.url, { headers: { 'X-Forwarded-For': '203.0.113.2' } }), 'welcome', 'another client behind the proxy');

    const plain = await serve(t, { limits: { maxConnectionsPerAddress: 1 } });
    const b = await plain.raw({ headers: { 'X-Forwarded-For': '203.0.113.1' } });
    await b.hello();
    const spoofed = await greeting(plain.url, { headers: { 'X-Forwarded-For': '198.51.100.7' } });
    assert.notEqual(spoofed, 'welcome', 'a client cannot name itself a new address');
  });

  it('a rate limit that survives reconnects: reconnecting buys no fresh burst', async (t) => {
    // Per connection: plenty. Per address: a burst of 12 messages, then 1 a second.
    const srv = await serve(t, { limits: { rate: 1000, burst: 1000, addressRate: 1, addressBurst: 12 } });
    let acked = 0;
    let sent = 0;
    for (let round = 0; round < 4; round++) {
      const raw = await srv.raw();
      const id = newClientId();
      raw.send({ t: 'hello', proto: 1, client: id, subs: { board: 0 } });
      for (let seq = 1; seq <= 8; seq++) {
        raw.send({ t: 'op', id: `${id}:${seq}`, store: 'board', ops: [{ op: 'add', path: ['n'], delta: 1 }] });
        sent++;
      }
      // Every write is answered: confirmed, or refused by id (TWIN_ERR_RATE).
      const answered = () => raw.messages.filter((m) => (m.t === 'sync' || m.t === 'reject') && typeof m.id === 'string' && m.id.startsWith(id));
      await until(() => answered().length >= 8, 'an answer to every write', 5000);
      acked += answered().filter((m) => m.t === 'sync').length;
      await raw.close();
    }
    assert.equal(sent, 32);
    // 12 tokens, one of them per hello, and about 1 more a second (the test takes < 2 s).
    assert.ok(acked >= 5 && acked <= 12, `acknowledged ${acked} of ${sent} writes over 4 connections`);
  });
});
