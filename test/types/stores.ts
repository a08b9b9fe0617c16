// SPDX-License-Identifier: MIT
/**
 * @module types/stores
 * Type-level tests, checked by `tsc -p .` and never run: each `@ts-expect-error` line must fail
 * to compile (tsc reports one that does not), and every other line must compile. A store's
 * type is exactly its data; metadata is reached through functions.
 */
import * as v from 'valibot';
import { defineApp, increment, signalOf, snapshot, status, subscribe } from '../../src/index.js';
import type { Action, Change, Op, StoreStatus } from '../../src/index.js';

interface Message {
  text: string;
  at?: number;
}

const app = defineApp();

//#region shared stores typed by init

const game = app.shared(function types_game() {
  return { score: 0, player: { name: 'ann', tags: [] as string[] } };
});
const chat = app.shared('types_chat', () => ({ messages: [] as Message[], active_users: 0 }));

game.score += 1;
game.player.name = 'bob';
game.player.tags.push('x');
chat.messages.push({ text: 'hi' });
chat.messages.push({ text: 'hi', at: 1 });
const score: number = game.score;
const text: string | undefined = chat.messages[0]?.text;

// @ts-expect-error an unknown key
void game.nope;
// @ts-expect-error store metadata is not on the store
void game.snapshot;
// @ts-expect-error a wrong value type
game.score = 'x';
// @ts-expect-error a wrong type deep inside
game.player.name = 5;
// @ts-expect-error pushing a number onto a list of messages
chat.messages.push(123);
// @ts-expect-error pushing a message without its text
chat.messages.push({ at: 1 });

//#endregion
//#region a Standard Schema (valibot) gives the type

const schema = v.object({ score: v.number(), names: v.array(v.string()) });
const scored = app.shared(function types_scored() {
  return { score: 0, names: [] };
}, { schema });
const scoredNumber: number = scored.score;
scored.names.push('a');
// @ts-expect-error not in the schema
void scored.nope;
// @ts-expect-error the schema says number
scored.score = 'x';
// @ts-expect-error the schema says string[]
scored.names.push(1);

const named = app.shared('types_named_schema', () => ({ score: 1, names: ['x'] }), { schema });
const namedScore: number = named.score;

// @ts-expect-error init must return the schema's input type (not fall back to the schema-less overload)
app.shared('types_bad_init', () => ({ score: 'zero', names: [] }), { schema });

const localSchema = v.object({ theme: v.picklist(['light', 'dark']) });
const theme = app.local('types_theme', () => ({ theme: 'light' as const }), { schema: localSchema });
theme.theme = 'dark';
// @ts-expect-error not one of the picklist values
theme.theme = 'blue';

//#endregion
//#region local stores

const ui = app.local(function types_ui() {
  return { sidebar_open: false };
}, { persist: 'local' });
ui.sidebar_open = true;
// @ts-expect-error a wrong value type
ui.sidebar_open = 'yes';
// @ts-expect-error persist must be 'local', 'session' or false
app.local('types_ui_bad', () => ({}), { persist: 'cookie' });

//#endregion
//#region actions

const sendMsg = app.action(function types_send_msg(body: string, urgent: boolean) {
  chat.messages.push({ text: body });
  return urgent ? 1 : 0;
});
const sent: Promise<number> = sendMsg('hi', true);
const actionName: string = sendMsg.actionName;
const asAction: Action<[string, boolean], number> = sendMsg;
// @ts-expect-error a wrong argument type
void sendMsg(1, true);
// @ts-expect-error a missing argument
void sendMsg('hi');
// @ts-expect-error one argument too many
void sendMsg('hi', true, 3);
// @ts-expect-error the result is a number, not a string
const wrongResult: Promise<string> = sendMsg('hi', false);

const asyncAction = app.action('types_async', async (n: number) => n * 2);
const doubled: Promise<number> = asyncAction(2);

//#endregion
//#region families

const room = app.shared('types_room', (id: string) => ({ id, users: [] as string[] }), { family: true });
const general = room('general');
general.users.push('ann');
const roomId: string = general.id;
// @ts-expect-error an unknown key on a family member
void general.nope;
// @ts-expect-error a family member's list holds strings
general.users.push(1);
// @ts-expect-error ids are strings
room(1);

//#endregion
//#region store functions

const connection: 'local' | 'connecting' | 'online' | 'offline' | 'refused' = status(game).connection;
const st: StoreStatus = status(ui);
const pending: number = st.pending;
const frozenScore: number = snapshot(game).score;
// @ts-expect-error a snapshot is read-only
snapshot(game).score = 1;
// @ts-expect-error a snapshot is read-only all the way down (it is deeply frozen)
snapshot(game).player.name = 'x';
// @ts-expect-error a snapshot's arrays are read-only (it is deeply frozen)
snapshot(chat).messages.push({ text: 'x' });

const stop = subscribe(chat, (change: Change) => {
  const ops: readonly Op[] = change.ops;
  const origin: 'local' | 'remote' = change.origin;
  void [ops, origin];
});
stop();
stop[Symbol.dispose]();

const scoreSignal: number | undefined = signalOf<number>(game, 'score').get();
increment(game, 'score');
increment(game.player, ['tags', 0], 2);
// @ts-expect-error increment needs a numeric delta
increment(game, 'score', '1');

//#endregion

export const used = [score, text, scoredNumber, namedScore, sent, actionName, asAction, wrongResult, doubled, roomId,
  connection, pending, frozenScore, scoreSignal];
