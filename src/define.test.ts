// SPDX-License-Identifier: MIT
/**
 * @module define.test
 * `defineApp()` and its `shared`, `local` and `action`: where names come from, which names and
 * options are refused (and how), family ids, and what an init function may return.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineApp, ErrorCode, isTwinError, snapshot, status, store, subscribe } from './index.js';
import type { Change } from './index.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function throwsCode(fn: () => unknown, code: string, ...inMessage: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTwinError(err), `expected a TwinError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const text of inMessage) assert.ok(err.message.includes(text), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(text)}`);
    return true;
  });
}

describe('app.shared', () => {
  it('takes the name from the function', () => {
    const app = defineApp();
    const game = app.shared(function def_game_state() {
      return { score: 1 };
    });
    game.score = 2;
    assert.equal(store<{ score: number }>('def_game_state').score, 2);
  });

  it('takes an explicit name over the function name', () => {
    const app = defineApp();
    const board = app.shared('def_board_explicit', function not_this_name() {
      return { cells: [0] };
    });
    board.cells.push(1);
    assert.deepEqual(snapshot(store<{ cells: number[] }>('def_board_explicit')), { cells: [0, 1] });
  });

  it('accepts an arrow function with an explicit name', () => {
    const app = defineApp();
    const s = app.shared('def_arrow_named', () => ({ ok: true }));
    assert.equal(s.ok, true);
  });

  it('runs init once, on first use', () => {
    const app = defineApp();
    let calls = 0;
    const s = app.shared(function def_lazy_init() {
      calls++;
      return { n: 0 };
    });
    assert.equal(calls, 0);
    s.n = 1;
    assert.equal(s.n, 1);
    assert.equal(calls, 1);
  });

  it('refuses an anonymous function', () => {
    const app = defineApp();
    throwsCode(() => app.shared(() => ({ a: 1 })), ErrorCode.DEFINE, 'name');
    throwsCode(() => app.shared(function () {
      return { a: 1 };
    }), ErrorCode.DEFINE, 'name');
  });

  it('refuses an invalid name, quoting it', () => {
    const app = defineApp();
    for (const name of ['has space', '1starts_with_digit', 'room/general', 'a:b', 'x'.repeat(129), '-dash']) {
      throwsCode(() => app.shared(name, () => ({})), ErrorCode.DEFINE, JSON.stringify(name));
    }
  });

  it('refuses a missing init function with a TypeError', () => {
    const app = defineApp();
    assert.throws(() => (app.shared as unknown as (name: string) => unknown)('def_no_init'), TypeError);
    assert.throws(() => (app.shared as (name: string, init: unknown) => unknown)('def_no_init2', { a: 1 }), TypeError);
  });

  it('refuses options that are not an object', () => {
    const app = defineApp();
    assert.throws(() => (app.shared as (n: string, i: () => object, o: unknown) => unknown)('def_bad_opts', () => ({}), 5), TypeError);
    assert.throws(() => (app.shared as (n: string, i: () => object, o: unknown) => unknown)('def_bad_opts2', () => ({}), null), TypeError);
  });

  it('refuses an init that does not return a plain object, on first use', () => {
    const app = defineApp();
    const arr = app.shared('def_array_root', () => [1, 2] as unknown as object) as Record<string, unknown>;
    throwsCode(() => arr.length, ErrorCode.DEFINE, 'def_array_root');
    const prim = app.shared('def_number_root', () => 5 as unknown as object) as Record<string, unknown>;
    throwsCode(() => prim.x, ErrorCode.DEFINE, 'def_number_root');
  });

  // initialValue() promises a value "checked to be plain JSON": a bad value must not enter the store.
  const badInits: [string, string, () => object][] = [
    ['a Date', 'def_init_date', () => ({ when: new Date(0) })],
    ['NaN', 'def_init_nan', () => ({ n: NaN })],
    ['a function', 'def_init_fn', () => ({ f: () => 1 })],
    ['a Map as the root', 'def_init_map', () => new Map([['a', 1]])],
  ];
  for (const [what, name, init] of badInits) {
    it(`refuses an init value holding ${what} on first use`, () => {
      const app = defineApp();
      const s = app.shared(name, init) as Record<string, unknown>;
      assert.throws(() => Object.keys(s), (err: unknown) => {
        assert.ok(isTwinError(err), `expected a TwinError on first use, got ${String(err)}`);
        assert.ok(err.code === ErrorCode.VALUE || err.code === ErrorCode.DEFINE, err.code);
        return true;
      }, `the init value holding ${what} was accepted`);
    });
  }
});

describe('app.local', () => {
  it('takes the name from the function, and its status is local', async () => {
    const app = defineApp();
    const ui = app.local(function def_ui_state() {
      return { theme: 'light' };
    });
    assert.equal(status(ui).connection, 'local');
    ui.theme = 'dark';
    assert.equal(store<{ theme: string }>('def_ui_state').theme, 'dark');
    await tick();
    assert.deepEqual(status(ui), { connection: 'local', v: 0, pending: 0, error: undefined });
  });

  it('notifies subscribers of local writes once per turn', async () => {
    const app = defineApp();
    const ui = app.local('def_ui_notify', () => ({ open: false, n: 0 }));
    const changes: Change[] = [];
    subscribe(ui, (c) => changes.push(c));
    ui.open = true;
    ui.n = 1;
    await tick();
    assert.deepEqual(changes, [{ ops: [{ op: 'set', path: ['open'], value: true }, { op: 'set', path: ['n'], value: 1 }], origin: 'local' }]);
  });

  it('accepts the persist options local, session and false', () => {
    const app = defineApp();
    for (const [name, persist] of [['def_p_local', 'local'], ['def_p_session', 'session'], ['def_p_false', false]] as const) {
      const s = app.local(name, () => ({ a: 1 }), { persist });
      assert.equal(s.a, 1);
    }
  });

  it('refuses any other persist option with a TypeError naming the store and the value', () => {
    const app = defineApp();
    for (const persist of ['cookie', true, 'Local', 1]) {
      assert.throws(() => app.local('def_p_bad', () => ({}), { persist: persist as never }), (err: Error) => {
        assert.ok(err instanceof TypeError);
        assert.ok(err.message.includes('def_p_bad'), err.message);
        assert.ok(err.message.includes(JSON.stringify(persist)), err.message);
        return true;
      });
    }
    // The refused definitions did not claim the name.
    assert.equal(app.local('def_p_bad', () => ({ ok: 1 })).ok, 1);
  });

  it('refuses an anonymous function', () => {
    const app = defineApp();
    throwsCode(() => app.local(() => ({})), ErrorCode.DEFINE);
  });
});

describe('app.action', () => {
  it('takes the name from the function, or an explicit one', () => {
    const app = defineApp();
    assert.equal(app.action(function def_send_msg(_text: string) {}).actionName, 'def_send_msg');
    assert.equal(app.action('def_explicit_action', () => 1).actionName, 'def_explicit_action');
  });

  it('refuses an anonymous function and an invalid name', () => {
    const app = defineApp();
    throwsCode(() => app.action(() => {}), ErrorCode.DEFINE, 'name');
    throwsCode(() => app.action('bad name', () => {}), ErrorCode.DEFINE, '"bad name"');
  });
});

describe('duplicate names', () => {
  it('refuses a shared and a local store of one name, naming both kinds', () => {
    const app = defineApp();
    app.shared(function def_dup_a() {
      return {};
    });
    throwsCode(() => app.local(function def_dup_a() {
      return {};
    }), ErrorCode.DEFINE, '"def_dup_a"', 'shared store', 'local store');
  });

  it('refuses two shared stores of one name', () => {
    const app = defineApp();
    app.shared('def_dup_b', () => ({}));
    throwsCode(() => app.shared('def_dup_b', () => ({})), ErrorCode.DEFINE, '"def_dup_b"', 'shared store');
  });

  it('refuses a store and an action of one name, either way round', () => {
    const app = defineApp();
    app.action(function def_dup_c() {});
    throwsCode(() => app.shared('def_dup_c', () => ({})), ErrorCode.DEFINE, '"def_dup_c"', 'action', 'shared store');
    app.local('def_dup_d', () => ({}));
    throwsCode(() => app.action('def_dup_d', () => {}), ErrorCode.DEFINE, '"def_dup_d"', 'local store', 'action');
  });

  it('refuses a family and a store of one name', () => {
    const app = defineApp();
    app.shared('def_dup_e', (id) => ({ id }), { family: true });
    throwsCode(() => app.shared('def_dup_e', () => ({})), ErrorCode.DEFINE, '"def_dup_e"');
  });

  it('allows one name in two different apps', () => {
    const one = defineApp();
    const two = defineApp();
    one.action('def_two_apps', () => 1);
    assert.equal(two.action('def_two_apps', () => 2).actionName, 'def_two_apps');
  });
});

describe('families', () => {
  it('creates one store per id from init(id), named name/id', () => {
    const app = defineApp();
    const room = app.shared('def_room', (id) => ({ id, users: [] as string[] }), { family: true });
    assert.equal(typeof room, 'function');
    room('general').users.push('ann');
    room('random').users.push('bob');
    assert.deepEqual(snapshot(room('general')), { id: 'general', users: ['ann'] });
    assert.deepEqual(snapshot(room('random')), { id: 'random', users: ['bob'] });
    assert.deepEqual(snapshot(store('def_room/general')), { id: 'general', users: ['ann'] });
  });

  it('gives the same handle for the same id', () => {
    const app = defineApp();
    const room = app.shared('def_room_same', (id) => ({ id }), { family: true });
    assert.equal(room('a'), room('a'));
    assert.notEqual(room('a'), room('b'));
  });

  it('accepts ids of 1 to 64 letters, digits, "_", "-" and "."', () => {
    const app = defineApp();
    const room = app.shared('def_room_ok', (id) => ({ id }), { family: true });
    for (const id of ['a', '0', 'a.b-c_d', 'x'.repeat(64), '..']) assert.equal(room(id).id, id);
  });

  it('refuses any other id with TWIN_ERR_STORE, quoting it', () => {
    const app = defineApp();
    const room = app.shared('def_room_bad', (id) => ({ id }), { family: true });
    for (const id of ['', 'has space', 'a/b', 'x'.repeat(65), 'é', '../etc']) {
      throwsCode(() => room(id), ErrorCode.STORE, JSON.stringify(id), 'def_room_bad');
    }
    for (const id of [1, undefined, null, {}]) throwsCode(() => room(id as never), ErrorCode.STORE, 'def_room_bad');
  });
});

describe('status', () => {
  it('of a shared store without a server: offline, v 0, writes pending', async () => {
    const app = defineApp();
    const s = app.shared('def_status_shared', () => ({ n: 0 }));
    assert.deepEqual(status(s), { connection: 'offline', v: 0, pending: 0, error: undefined });
    s.n = 1;
    await tick();
    s.n = 2;
    await tick();
    assert.equal(status(s).pending, 2);
    assert.equal(status(s).connection, 'offline');
  });

  it('works on an object inside a store', () => {
    const app = defineApp();
    const s = app.local('def_status_inner', () => ({ inner: { a: 1 } }));
    assert.equal(status(s.inner).connection, 'local');
  });

  it('refuses something that is not a store', () => {
    assert.throws(() => status({}), TypeError);
  });
});
