// SPDX-License-Identifier: MIT
/**
 * @module bench/lib/soak-app
 * The app `bench/soak.ts` serves: `board`, which every churning client writes once (a counter),
 * and two stores for the head-of-line measure: `slow_x`, whose schema takes {@link SLOW_CHECK_MS}
 * to answer (an async check against a remote service, say), and `fast_y`, which has none.
 */
import { defineApp } from '../../src/index.js';
import type { StandardSchemaV1 } from '../../src/standard-schema.js';

/** How long `slow_x`'s schema takes to accept a state. */
export const SLOW_CHECK_MS = 2_000;

const slowCheck: StandardSchemaV1<{ n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'twin-bench',
    validate: async (value) => {
      await new Promise((resolve) => setTimeout(resolve, SLOW_CHECK_MS));
      return { value: value as { n: number } };
    },
  },
};

export const app = defineApp();
app.shared('board', () => ({ counter: 0 }));
app.shared('slow_x', () => ({ n: 0 }), { schema: slowCheck });
app.shared('fast_y', () => ({ n: 0 }));
