// SPDX-License-Identifier: MIT
/**
 * @module hub-kit
 * What the hub's node tests share: a server closed with its test, a logger that keeps what it
 * is told, a raw client subscribed and answered, and a schema refusing a negative `n`.
 */
import type { TestContext } from 'node:test';
import type { StandardSchemaV1 } from '../../src/standard-schema.js';
import { newClientId, startServer } from './server.js';
import type { RawClient, TestServer } from './server.js';

/** A Standard Schema refusing a negative `n`. */
export const nonNegative: StandardSchemaV1 = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) => ((value as { n: number }).n < 0 ? { issues: [{ message: 'n must not be negative', path: ['n'] }] } : { value }),
  },
};

/** What the hub told its operator, as `[message, error?]` lines. */
export type Logged = unknown[][];

/** A test server, closed after the test. */
export async function serve(t: TestContext, ...args: Parameters<typeof startServer>): Promise<TestServer> {
  const srv = await startServer(...args);
  t.after(() => srv.close());
  return srv;
}

/** A quiet logger that keeps what it is told. */
export function logger(): { logged: Logged; log: { warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void } } {
  const logged: Logged = [];
  return { logged, log: { warn: (...a) => void logged.push(a), error: (...a) => void logged.push(a) } };
}

/** A raw client (as `id`, optionally with `?query`) subscribed to `subs`, its first answers in. */
export async function subscribed(srv: TestServer, subs: Record<string, number>, options: { id?: string; query?: string } = {}): Promise<RawClient> {
  const raw = await srv.raw(options.query ? { query: options.query } : {});
  await raw.hello(options.id ?? newClientId(), subs);
  for (const store of Object.keys(subs)) await raw.next((m) => (m.t === 'snapshot' || m.t === 'sync' || m.t === 'error') && m.store === store);
  return raw;
}
