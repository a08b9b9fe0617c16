// SPDX-License-Identifier: MIT
/**
 * @module protocol.test
 * `readClientFrame`: every client message type parses, and every malformed, oversized,
 * over-deep or over-long frame is refused with its code before anything else reads it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS, ErrorCode, isTwinError, PROTOCOL_VERSION, readClientFrame } from './index.js';
import type { Limits } from './index.js';

const CLIENT = 'client-0001';
const ID = `${CLIENT}:1`;

function read(message: unknown, limits: Readonly<Limits> = DEFAULT_LIMITS) {
  return readClientFrame(JSON.stringify(message), limits);
}

function refusedText(text: string, code: string, limits: Readonly<Limits> = DEFAULT_LIMITS): void {
  assert.throws(() => readClientFrame(text, limits), (err: unknown) => {
    assert.ok(isTwinError(err), `expected a TwinError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.length > 10);
    return true;
  });
}

function refused(message: unknown, code: string, limits: Readonly<Limits> = DEFAULT_LIMITS): void {
  refusedText(JSON.stringify(message), code, limits);
}

const limits = (patch: Partial<Limits>): Limits => ({ ...DEFAULT_LIMITS, ...patch });

describe('readClientFrame: message types', () => {
  it('reads hello', () => {
    assert.deepEqual(read({ t: 'hello', proto: PROTOCOL_VERSION, client: CLIENT, subs: { chat: 3, 'room/general': 0 } }), [
      { t: 'hello', proto: 1, client: CLIENT, subs: { chat: 3, 'room/general': 0 } },
    ]);
  });

  it('reads hello without subs as no subs', () => {
    assert.deepEqual(read({ t: 'hello', proto: 1, client: CLIENT }), [{ t: 'hello', proto: 1, client: CLIENT, subs: {} }]);
  });

  it('reads sub and unsub, family members included', () => {
    assert.deepEqual(read({ t: 'sub', store: 'chat_room', v: 0 }), [{ t: 'sub', store: 'chat_room', v: 0 }]);
    assert.deepEqual(read({ t: 'sub', store: 'room/general', v: 12 }), [{ t: 'sub', store: 'room/general', v: 12 }]);
    assert.deepEqual(read({ t: 'unsub', store: 'room/a.b-c_d' }), [{ t: 'unsub', store: 'room/a.b-c_d' }]);
  });

  it('reads op with every op kind', () => {
    const ops = [
      { op: 'set', path: ['a', 0, 'b'], value: { x: [1, null, 'y'] } },
      { op: 'set', path: ['n'], value: null },
      { op: 'del', path: ['a'] },
      { op: 'push', path: ['list'], values: [1, 2] },
      { op: 'splice', path: ['list'], index: 0, remove: 1, values: [] },
      { op: 'add', path: ['score'], delta: -2.5 },
    ];
    assert.deepEqual(read({ t: 'op', id: ID, store: 'game', ops }), [{ t: 'op', id: ID, store: 'game', ops }]);
  });

  it('reads call, with and without args', () => {
    assert.deepEqual(read({ t: 'call', id: ID, action: 'send_msg', args: ['hi', { n: 1 }] }), [
      { t: 'call', id: ID, action: 'send_msg', args: ['hi', { n: 1 }] },
    ]);
    assert.deepEqual(read({ t: 'call', id: ID, action: 'reset' }), [{ t: 'call', id: ID, action: 'reset', args: [] }]);
  });

  it('reads ping', () => {
    assert.deepEqual(read({ t: 'ping' }), [{ t: 'ping' }]);
  });

  it('keeps only the known fields of a message', () => {
    assert.deepEqual(read({ t: 'unsub', store: 'chat', extra: { evil: true } }), [{ t: 'unsub', store: 'chat' }]);
  });
});

describe('readClientFrame: array frames', () => {
  it('reads every message of an array, in order', () => {
    const frame = [
      { t: 'hello', proto: 1, client: CLIENT, subs: {} },
      { t: 'sub', store: 'a', v: 0 },
      { t: 'op', id: ID, store: 'a', ops: [{ op: 'del', path: ['x'] }] },
      { t: 'ping' },
    ];
    assert.deepEqual(read(frame).map((m) => m.t), ['hello', 'sub', 'op', 'ping']);
  });

  it('refuses the whole frame when one message is bad', () => {
    refused([{ t: 'ping' }, { t: 'sub', store: 'a', v: -1 }], ErrorCode.FRAME);
    refused([{ t: 'ping' }, { t: 'op', id: ID, store: 'a', ops: [{ op: 'nope', path: [] }] }], ErrorCode.OP);
  });

  it('accepts up to maxMessages messages and refuses more', () => {
    const three = limits({ maxMessages: 3 });
    assert.equal(read([{ t: 'ping' }, { t: 'ping' }, { t: 'ping' }], three).length, 3);
    refused([{ t: 'ping' }, { t: 'ping' }, { t: 'ping' }, { t: 'ping' }], ErrorCode.FRAME, three);
  });

  it('refuses a nested array of messages', () => {
    refused([[{ t: 'ping' }]], ErrorCode.FRAME);
  });
});

describe('readClientFrame: malformed frames', () => {
  for (const text of ['', '{', '{"t":"ping"', 'nul', "{'t':'ping'}", '{"t":"ping"} x', '\u0000']) {
    it(`refuses ${JSON.stringify(text)} as not JSON with TWIN_ERR_FRAME`, () => refusedText(text, ErrorCode.FRAME));
  }

  for (const value of [null, 42, 'ping', true]) {
    it(`refuses a message that is ${JSON.stringify(value)}`, () => refused(value, ErrorCode.FRAME));
  }

  it('refuses an unknown or missing type', () => {
    refused({ t: 'welcome', proto: 1 }, ErrorCode.FRAME);
    refused({ t: 'hax' }, ErrorCode.FRAME);
    refused({ t: 'PING' }, ErrorCode.FRAME);
    refused({ type: 'ping' }, ErrorCode.FRAME);
    refused({ t: ['ping'] }, ErrorCode.FRAME);
  });
});

describe('readClientFrame: wrong field types', () => {
  it('refuses a bad sub', () => {
    for (const v of ['1', -1, 1.5, null, undefined, Number.MAX_SAFE_INTEGER + 2]) {
      refused({ t: 'sub', store: 'a', v }, ErrorCode.FRAME);
    }
    refused({ t: 'sub', store: 5, v: 0 }, ErrorCode.FRAME);
    refused({ t: 'sub', v: 0 }, ErrorCode.FRAME);
  });

  it('refuses a bad store name', () => {
    for (const store of ['', '../x', '1abc', 'a b', 'room/', 'room/a/b', '/a', 'x'.repeat(129), 'room/' + 'y'.repeat(65)]) {
      refused({ t: 'unsub', store }, ErrorCode.FRAME);
    }
  });

  it('refuses a bad hello', () => {
    refused({ t: 'hello', proto: 1, client: CLIENT, subs: [] }, ErrorCode.FRAME);
    refused({ t: 'hello', proto: 1, client: CLIENT, subs: { a: '1' } }, ErrorCode.FRAME);
    refused({ t: 'hello', proto: 1, client: CLIENT, subs: { a: -1 } }, ErrorCode.FRAME);
    refused({ t: 'hello', proto: 1 }, ErrorCode.FRAME);
  });

  it('refuses a bad op message', () => {
    refused({ t: 'op', id: ID, store: 'a' }, ErrorCode.FRAME);
    refused({ t: 'op', id: ID, store: 'a', ops: [] }, ErrorCode.FRAME);
    refused({ t: 'op', id: ID, store: 'a', ops: { op: 'del', path: [] } }, ErrorCode.FRAME);
    refused({ t: 'op', store: 'a', ops: [{ op: 'del', path: ['x'] }] }, ErrorCode.FRAME);
    refused({ t: 'op', id: ID, ops: [{ op: 'del', path: ['x'] }] }, ErrorCode.FRAME);
  });

  it('refuses a bad call', () => {
    refused({ t: 'call', id: ID, action: 'a', args: { 0: 1 } }, ErrorCode.FRAME);
    refused({ t: 'call', id: ID, action: 'a', args: 'x' }, ErrorCode.FRAME);
    refused({ t: 'call', id: ID, action: 'bad name' }, ErrorCode.FRAME);
    refused({ t: 'call', id: ID }, ErrorCode.FRAME);
  });
});

describe('readClientFrame: protocol version', () => {
  for (const proto of [0, 2, '1', null, undefined, 1.0001]) {
    it(`refuses hello with proto ${JSON.stringify(proto)} with TWIN_ERR_PROTO`, () => {
      refused({ t: 'hello', proto, client: CLIENT, subs: {} }, ErrorCode.PROTO);
    });
  }

  it('names both versions in the message', () => {
    assert.throws(() => read({ t: 'hello', proto: 7, client: CLIENT }), (err: Error) => err.message.includes('1') && err.message.includes('7'));
  });
});

describe('readClientFrame: frame size', () => {
  const ping = (pad: string) => JSON.stringify({ t: 'ping', pad });
  const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

  it('accepts a frame of exactly maxFrameBytes and refuses one byte more', () => {
    const limit = 100;
    const base = bytes(ping(''));
    const exact = ping('a'.repeat(limit - base));
    assert.equal(bytes(exact), limit);
    assert.equal(readClientFrame(exact, limits({ maxFrameBytes: limit })).length, 1);
    refusedText(ping('a'.repeat(limit - base + 1)), ErrorCode.TOO_BIG, limits({ maxFrameBytes: limit }));
  });

  it('counts bytes, not characters: two-byte characters near the limit', () => {
    const limit = 100;
    const base = bytes(ping(''));
    const room = limit - base;
    const pad = 'é'.repeat(Math.floor(room / 2)) + 'a'.repeat(room % 2);
    const exact = ping(pad);
    assert.equal(bytes(exact), limit);
    assert.ok(exact.length < limit);
    assert.equal(readClientFrame(exact, limits({ maxFrameBytes: limit })).length, 1);
    const over = ping(pad + 'a');
    assert.equal(bytes(over), limit + 1);
    assert.ok(over.length < limit, 'fewer characters than the limit, more bytes');
    refusedText(over, ErrorCode.TOO_BIG, limits({ maxFrameBytes: limit }));
  });

  it('counts bytes, not characters: three- and four-byte characters near the limit', () => {
    const limit = 120;
    const base = bytes(ping(''));
    let pad = '';
    while (bytes(ping(pad + '😀')) <= limit - 3) pad += '😀';
    while (bytes(ping(pad)) < limit) pad += bytes(ping(pad)) + 3 <= limit ? '€' : 'a';
    const exact = ping(pad);
    assert.equal(bytes(exact), limit);
    assert.ok(base < limit);
    assert.equal(readClientFrame(exact, limits({ maxFrameBytes: limit })).length, 1);
    refusedText(ping(pad + 'a'), ErrorCode.TOO_BIG, limits({ maxFrameBytes: limit }));
    refusedText(ping(pad.slice(0, -1) + '😀'), ErrorCode.TOO_BIG, limits({ maxFrameBytes: limit }));
  });

  it('refuses a frame over the default 1 MiB', () => {
    refusedText(ping('a'.repeat(DEFAULT_LIMITS.maxFrameBytes)), ErrorCode.TOO_BIG);
  });

  it('refuses an oversized frame before parsing it (even invalid JSON is TOO_BIG)', () => {
    refusedText('{'.repeat(200), ErrorCode.TOO_BIG, limits({ maxFrameBytes: 100 }));
  });
});

describe('readClientFrame: depth', () => {
  /** An op message whose set value is `depth` arrays deep; the frame is 3 levels deeper (message, ops, op). */
  const withValueDepth = (depth: number) => {
    let value: unknown = 0;
    for (let i = 0; i < depth; i++) value = [value];
    return { t: 'op', id: ID, store: 'a', ops: [{ op: 'set', path: ['v'], value }] };
  };

  it('accepts a frame exactly maxDepth deep and refuses one level more', () => {
    const six = limits({ maxDepth: 6 });
    assert.equal(read(withValueDepth(3), six).length, 1);
    refused(withValueDepth(4), ErrorCode.DEPTH, six);
  });

  it('counts the frame array as a level', () => {
    const six = limits({ maxDepth: 6 });
    assert.equal(read([withValueDepth(2)], six).length, 1);
    refused([withValueDepth(3)], ErrorCode.DEPTH, six);
  });

  it('refuses an over-deep frame at the default limit', () => {
    refused(withValueDepth(DEFAULT_LIMITS.maxDepth), ErrorCode.DEPTH);
  });

  it('refuses a 100,000-deep array without overflowing the stack', () => {
    const n = 100_000;
    refusedText('['.repeat(n) + ']'.repeat(n), ErrorCode.DEPTH);
  });

  it('refuses a 100,000-deep object inside a valid message without overflowing the stack', () => {
    const n = 100_000;
    const value = '{"a":'.repeat(n) + '0' + '}'.repeat(n);
    refusedText(`{"t":"op","id":"${ID}","store":"a","ops":[{"op":"set","path":["v"],"value":${value}}]}`, ErrorCode.DEPTH);
  });

  it('accepts a wide but shallow frame', () => {
    const values = Array.from({ length: 50_000 }, (_, i) => ({ i }));
    assert.equal(read({ t: 'op', id: ID, store: 'a', ops: [{ op: 'push', path: ['l'], values }] }).length, 1);
  });
});

describe('readClientFrame: ops', () => {
  const op = (o: unknown) => ({ t: 'op', id: ID, store: 'a', ops: [o] });

  it('accepts up to maxOps ops in a batch and refuses more', () => {
    const two = limits({ maxOps: 2 });
    const del = { op: 'del', path: ['x'] };
    assert.equal(read({ t: 'op', id: ID, store: 'a', ops: [del, del] }, two).length, 1);
    refused({ t: 'op', id: ID, store: 'a', ops: [del, del, del] }, ErrorCode.FRAME, two);
  });

  it('refuses an unknown or missing op kind', () => {
    for (const kind of ['inc', 'SET', 'move', undefined, 1]) refused(op({ op: kind, path: ['x'] }), ErrorCode.OP);
  });

  it('refuses an op that is not an object', () => {
    for (const value of [null, 'set', 3, [{ op: 'del', path: [] }]]) refused(op(value), ErrorCode.OP);
  });

  it('refuses a bad path', () => {
    for (const path of [undefined, 'a.b', { 0: 'a' }, [-1], [1.5], [null], [['a']], [{}], ['x'.repeat(1025)], [2 ** 53]]) {
      refused(op({ op: 'del', path }), ErrorCode.OP);
    }
  });

  it('accepts a path of maxPath keys and refuses a longer one', () => {
    const path = Array.from({ length: 4 }, (_, i) => `k${i}`);
    assert.equal(read(op({ op: 'del', path }), limits({ maxPath: 4 })).length, 1);
    refused(op({ op: 'del', path: [...path, 'k4'] }), ErrorCode.OP, limits({ maxPath: 4 }));
  });

  it('refuses a set without a value', () => {
    refused(op({ op: 'set', path: ['x'] }), ErrorCode.OP);
  });

  it('refuses a push or splice without an array of values', () => {
    refused(op({ op: 'push', path: ['l'] }), ErrorCode.OP);
    refused(op({ op: 'push', path: ['l'], values: 1 }), ErrorCode.OP);
    refused(op({ op: 'splice', path: ['l'], index: 0, remove: 0 }), ErrorCode.OP);
    refused(op({ op: 'splice', path: ['l'], index: 0, remove: 0, values: {} }), ErrorCode.OP);
  });

  it('refuses a splice with a bad index or remove', () => {
    for (const [index, remove] of [[-1, 0], [0, -1], [1.5, 0], [0, 0.5], ['0', 0], [0, '1'], [undefined, 0], [0, undefined], [0, null]]) {
      refused(op({ op: 'splice', path: ['l'], index, remove, values: [] }), ErrorCode.OP);
    }
  });

  it('refuses an add without a finite number delta', () => {
    for (const delta of ['1', null, undefined, true]) refused(op({ op: 'add', path: ['n'], delta }), ErrorCode.OP);
    // JSON itself can carry a number that is not finite: 1e999 parses as Infinity.
    refusedText(`{"t":"op","id":"${ID}","store":"a","ops":[{"op":"add","path":["n"],"delta":1e999}]}`, ErrorCode.OP);
  });
});

describe('readClientFrame: ids', () => {
  it('accepts well-formed client ids', () => {
    for (const client of ['abcdefgh', 'a'.repeat(64), '123e4567-e89b-12d3-a456-426614174000', 'A_b-C_d-']) {
      assert.equal(read({ t: 'hello', proto: 1, client }).length, 1);
    }
  });

  it('refuses a malformed client id', () => {
    for (const client of ['abcdefg', 'a'.repeat(65), 'abcd/efgh', 'abcd efgh', 'abcd:efgh', 'abcdéfgh', 12345678, '']) {
      refused({ t: 'hello', proto: 1, client }, ErrorCode.FRAME);
    }
  });

  it('accepts well-formed batch ids', () => {
    for (const id of [`${CLIENT}:1`, `${CLIENT}:9007199254740991`, 'abcdefgh:42']) {
      assert.equal(read({ t: 'op', id, store: 'a', ops: [{ op: 'del', path: ['x'] }] }).length, 1);
      assert.equal(read({ t: 'call', id, action: 'act' }).length, 1);
    }
  });

  it('refuses a malformed batch id', () => {
    const bad = [CLIENT, `${CLIENT}:`, `${CLIENT}:0`, `${CLIENT}:01`, `${CLIENT}:-1`, `${CLIENT}:1.5`, `${CLIENT}:1:2`,
      'short:1', ':1', `${CLIENT}:${'1'.repeat(17)}`, `${CLIENT} :1`, 42];
    for (const id of bad) {
      refused({ t: 'op', id, store: 'a', ops: [{ op: 'del', path: ['x'] }] }, ErrorCode.FRAME);
      refused({ t: 'call', id, action: 'act' }, ErrorCode.FRAME);
    }
  });

  it('refuses a batch seq above Number.MAX_SAFE_INTEGER (it would not survive Number())', () => {
    // 9007199254740993 and 9007199254740992 are one number once parsed: two batches would share a seq.
    for (const seq of ['9007199254740993', '9999999999999999']) {
      refused({ t: 'op', id: `${CLIENT}:${seq}`, store: 'a', ops: [{ op: 'del', path: ['x'] }] }, ErrorCode.FRAME);
    }
  });
});
