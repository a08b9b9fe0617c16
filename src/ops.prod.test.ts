// SPDX-License-Identifier: MIT
/**
 * @module ops.prod.test
 * Refused ops in a production build, where the full sentences are compiled out (src/dev.ts):
 * the message is then the code, the op and its dotted path, which is all a user's console shows,
 * so it must still say which op failed where. This file switches dev mode off before loading the
 * sources, so it must stay its own process (node --test runs each file in its own).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Json } from './json.js';
import type { Op } from './ops.js';

// What the production bundles define (rollup.config.mjs); read once when src/dev.ts loads.
(globalThis as { __TWIN_DEV__?: boolean }).__TWIN_DEV__ = false;
const { DEV_MODE } = await import('./dev.js');
const { applyOps } = await import('./ops.js');
const { ErrorCode, isTwinError } = await import('./errors.js');

describe('ops in a production build', () => {
  it('is really running with dev mode off', () => {
    assert.equal(DEV_MODE, false);
  });

  const cases: { state: Json; op: Op; code: string; message: string }[] = [
    { state: { a: [1] }, op: { op: 'set', path: ['a', 5], value: 1 }, code: ErrorCode.PATH, message: 'TWIN_ERR_PATH set a.5' },
    { state: { a: 'x' }, op: { op: 'add', path: ['a', 'b'], delta: 1 }, code: ErrorCode.PATH, message: 'TWIN_ERR_PATH add a.b' },
    { state: {}, op: { op: 'del', path: [] }, code: ErrorCode.OP, message: 'TWIN_ERR_OP del ' },
  ];
  for (const c of cases) {
    it(`names the op and path of a refused ${c.op.op} without the sentence`, () => {
      assert.throws(() => applyOps(c.state, [c.op]), (err: unknown) => {
        assert.ok(isTwinError(err));
        assert.equal(err.code, c.code);
        assert.equal(err.message, c.message);
        return true;
      });
    });
  }
});
