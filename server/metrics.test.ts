// SPDX-License-Identifier: MIT
/**
 * Tests of the Prometheus endpoint (issue 13.8) with a real server and real `ws` clients: off by
 * default; with `metrics: true`, `/_twin/metrics` shows connections, loaded stores, commits and
 * their latency per store family (from a write a client really commits), refusals by code
 * (a refused upgrade, a refused batch), bytes sent and log bytes; a predicate guards who reads.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defineApp } from '../src/index.js';
import type { TwinOptions } from './index.js';
import { newClientId, startServer } from '../test/helpers/server.js';
import type { TestServer } from '../test/helpers/server.js';
import { greeting, recordingLogger } from '../test/helpers/refused.js';

function makeApp() {
  const app = defineApp();
  app.shared('board', () => ({ n: 0 }));
  app.shared('room', () => ({ text: '' }), { family: true, authorize: ({ ops }) => !JSON.stringify(ops).includes('forbidden') });
  return app;
}

async function serve(t: TestContext, options: TwinOptions): Promise<TestServer> {
  const srv = await startServer(makeApp(), { logger: recordingLogger(), ...options });
  t.after(() => srv.close());
  return srv;
}

/** The metrics as text, and the value of one sample (`name{labels}`), 0 if absent. */
async function scrape(srv: TestServer): Promise<{ text: string; value(sample: string): number }> {
  const res = await fetch(`${srv.http}/_twin/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  return {
    text,
    value(sample) {
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      return line ? Number(line.slice(sample.length + 1)) : 0;
    },
  };
}

describe('twin({ metrics })', () => {
  it('serves no metrics unless asked', async (t) => {
    const srv = await serve(t, {});
    const res = await fetch(`${srv.http}/_twin/metrics`);
    assert.equal(res.status, 404);
    assert.equal(srv.server.metrics, undefined);
  });

  it('counts connections, stores, commits per family with their latency, refusals by code and bytes out', async (t) => {
    const srv = await serve(t, { metrics: true, origins: ['https://app.example'] });
    const before = await scrape(srv);
    assert.equal(before.value('twin_connections'), 0);
    assert.equal(before.value('twin_stores_loaded'), 1, 'board, loaded at startup');

    const raw = await srv.raw();
    const id = newClientId();
    await raw.hello(id, { 'room/a': 0, board: 0 });
    await raw.next((m) => m.t === 'snapshot' && m.store === 'room/a');
    raw.send({ t: 'op', id: `${id}:1`, store: 'room/a', ops: [{ op: 'set', path: ['text'], value: 'hello' }] });
    await raw.next((m) => m.t === 'sync' && m.id === `${id}:1`);
    raw.send({ t: 'op', id: `${id}:2`, store: 'board', ops: [{ op: 'set', path: ['n'], value: 1 }] });
    await raw.next((m) => m.t === 'sync' && m.id === `${id}:2`);
    raw.send({ t: 'op', id: `${id}:3`, store: 'room/a', ops: [{ op: 'set', path: ['text'], value: 'forbidden' }] });
    await raw.next((m) => m.t === 'reject');
    assert.notEqual(await greeting(srv.url, { origin: 'https://evil.example' }), 'welcome');

    const after = await scrape(srv);
    assert.equal(after.value('twin_connections'), 1);
    assert.equal(after.value('twin_stores_loaded'), 2, 'board and room/a');
    assert.equal(after.value('twin_commits_total{family="room"}'), 1);
    assert.equal(after.value('twin_commits_total{family="board"}'), 1);
    assert.equal(after.value('twin_commit_duration_seconds_count{family="room"}'), 1);
    assert.ok(after.value('twin_commit_duration_seconds_sum{family="room"}') >= 0);
    assert.equal(after.value('twin_refusals_total{code="TWIN_ERR_ORIGIN"}'), 1);
    assert.equal(after.value('twin_refusals_total{code="TWIN_ERR_FORBIDDEN"}'), 1);
    assert.ok(after.value('twin_bytes_out_total') >= raw.bytesReceived, `bytes out ${after.value('twin_bytes_out_total')} ≥ ${raw.bytesReceived} received`);
    assert.ok(after.value('twin_log_bytes') > 0);
    assert.match(after.text, /process_resident_memory_bytes/, 'the process figures too');

    // Bytes out only go up: a closed connection's bytes stay counted.
    await raw.close();
    const last = await scrape(srv);
    assert.equal(last.value('twin_connections'), 0);
    assert.ok(last.value('twin_bytes_out_total') >= after.value('twin_bytes_out_total'));
  });

  it('a predicate decides who may read them (403 for the others)', async (t) => {
    const srv = await serve(t, { metrics: (req) => req.headers.authorization === 'Bearer scrape' });
    assert.equal((await fetch(`${srv.http}/_twin/metrics`)).status, 403);
    const res = await fetch(`${srv.http}/_twin/metrics`, { headers: { Authorization: 'Bearer scrape' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /twin_connections 0/);
  });
});
