// SPDX-License-Identifier: MIT
/**
 * @module test/browser/app
 * The app the browser tests run against, imported by the test server (through tsx) and by
 * the tests themselves: a store family (one fresh member per test), a board written by
 * actions, actions that succeed, fail and take their time, and a persisted local store.
 * Writing the key `forbidden` of a box is refused by `authorize`.
 */
import { defineApp } from '../../src/index.js';
import type { Json, StandardSchemaV1 } from '../../src/index.js';

export const app = defineApp();

/** An item of a box's list. */
export interface Item {
  id: number;
  text: string;
  done?: boolean;
}

/** The initial value of every box (`box/<id>`). */
export function initialBox(): {
  text: string; n: number; flag: boolean; choice: string; obj: { a: number; b: number[] };
  items: Item[]; tags: string[]; nested: { lists: { name: string; items: Item[] }[] }; forbidden: Json;
} {
  return {
    text: 'hello', n: 0, flag: false, choice: 'b', obj: { a: 1, b: [1, 2] },
    items: [{ id: 1, text: 'one' }, { id: 2, text: 'two' }, { id: 3, text: 'three' }],
    tags: ['x', 'y'],
    nested: { lists: [{ name: 'first', items: [{ id: 10, text: 'ten' }] }] },
    forbidden: null,
  };
}

/** One store per test: `box/<unique id>`, created from {@link initialBox} on first use. */
export const box = app.shared('box', () => initialBox(), {
  family: true,
  authorize: ({ ops }) => !ops.some((op) => op.path[0] === 'forbidden'),
});

/**
 * What actions write: per-test lists and counters. Named explicitly: esbuild renames a function
 * expression that shares its variable's name (`const board = ...(function board2() {...})`).
 */
export const board = app.shared('board', () => ({ calls: {} as Record<string, string[]>, counts: {} as Record<string, number> }));

/** Appends `text` to the list `id` of the board; returns the list's new length. */
export const logPush = app.action(function log_push(id: string, ...texts: string[]) {
  board.calls[id] ??= [];
  const list = board.calls[id]!; // the store's array (the assignment's value is the plain one)
  list.push(texts.join('|'));
  return list.length;
});

/** Adds `n` to counter `id`; returns the new count. */
export const addCount = app.action(function add_count(id: string, n: number) {
  board.counts[id] = (board.counts[id] ?? 0) + Number(n);
  return board.counts[id]!;
});

/** Adds 1 to counter `id` after a while (to see `aria-busy`). */
export const slowAdd = app.action(async function slow_add(id: string) {
  await new Promise((resolve) => setTimeout(resolve, 150));
  board.counts[id] = (board.counts[id] ?? 0) + 1;
});

/** Always refused, with a message the client may see. */
export const alwaysFail = app.action(function always_fail() {
  throw Object.assign(new Error('This action always fails.'), { expose: true });
});

/** What the plain test pages (test/browser/twin-pages) show and their actions write. */
export const pageState = app.shared('page_state', () => ({ n: 0, messages: [] as { text: string; from: string }[] }));

/** Adds `n` (a number, or a form field's text) to the page's counter. */
export const pageAdd = app.action(function page_add(n: number | string) {
  pageState.n += Number(n);
  return pageState.n;
});

/** Appends a message from a page's form. */
export const pageSend = app.action(function page_send(from: string, text: string) {
  pageState.messages.push({ from, text });
});

/** A local store kept in localStorage. */
export const prefs = app.local('test_prefs', () => ({ theme: 'light', size: 1 }), { persist: 'local' });

/** The value of the `checked` store: texts by test, each at most 5 characters long. */
export interface Checked {
  texts: Record<string, string>;
}

/**
 * The schema of `checked`: every text at most 5 characters. Hand-written (a Standard Schema is
 * just this object); the page's runtime does not check shared stores, so the server refuses.
 */
const shortTexts: StandardSchemaV1<Checked> = {
  '~standard': {
    version: 1,
    vendor: 'twin-test',
    validate: (value) => {
      const texts = (value as Partial<Checked> | null)?.texts;
      const ok = typeof texts === 'object' && texts !== null && Object.values(texts).every((t) => typeof t === 'string' && t.length <= 5);
      return ok ? { value: value as Checked } : { issues: [{ message: 'A text is longer than 5 characters.' }] };
    },
  },
};

/** A store whose schema the server checks (tests write their own key of `texts`). */
export const checked = app.shared('checked', (): Checked => ({ texts: {} }), { schema: shortTexts });

/**
 * Writes `text` to `checked.texts[key]`, optimistically: the page shows it at once, and the
 * server refuses it when it is longer than the schema allows.
 */
export const writeChecked = app.action(function write_checked(key: string, text: string) {
  checked.texts[key] = text;
}, { optimistic: true });

/** What the XSS page (twin-pages/xss.html) binds: store data an attacker wrote. */
export const xss = app.shared('xss', () => ({} as Record<string, Json>), { family: true });
