// SPDX-License-Identifier: MIT
/**
 * The chat's presence: this tab publishes, in `chat_room`, the player's name (from the
 * `player_state` local store, kept in this browser) and whether the player is typing (text in
 * the message field, in the last 4 s). `<twin-presence>` in chat.html shows everyone's.
 * Publishing the name is the one place it leaves the browser, and only while the page is open.
 */
import { effect, setPresence, Signal, store } from '/_twin/twin.js';

/** A player who stops typing for this long is no longer "typing". */
const IDLE_MS = 4000;

const $chatRoom = store('chat_room');
const $playerState = store('player_state');
const typing = new Signal.State(false);

// Re-published when the name or typing changes (setPresence coalesces: 20 a second at most).
effect(() => setPresence($chatRoom, { name: $playerState.name || 'anonymous', typing: typing.get() }));

const field = document.querySelector('.composer input[name="text"]');
let idle;
field?.addEventListener('input', () => {
  clearTimeout(idle);
  typing.set(field.value.trim() !== '');
  idle = setTimeout(() => typing.set(false), IDLE_MS);
});
// Sent (the form resets on success): no longer typing.
field?.form?.addEventListener('twin-done', () => typing.set(false));
