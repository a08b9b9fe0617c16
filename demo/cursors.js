// SPDX-License-Identifier: MIT
/**
 * The cursors demo: this tab publishes its pointer on the board as presence in `cursor_board`
 * ({ name, color, x, y }, x and y as fractions of the board so every window size agrees), and
 * draws everyone else's from `presence()`. Positions need inline style, which `<twin-bind
 * attr="style">` refuses by design, hence this script. Pointer events come at the screen's rate
 * (60 Hz or more); setPresence sends at most 20 a second, the latest position winning.
 */
import { effect, presence, setPresence, Signal, store } from '/_twin/twin.js';

const $board = store('cursor_board');
const $playerState = store('player_state');
const board = document.getElementById('board');
const COLOR_ITEM = 'cursors.color';

/** One colour per tab, kept across a reload (like the tab's presence key) so a peer does not change colour. */
function tabColor() {
  let color = sessionStorage.getItem(COLOR_ITEM);
  if (!color) sessionStorage.setItem(COLOR_ITEM, (color = `hsl(${Math.floor(Math.random() * 360)} 70% 45%)`));
  return color;
}
const color = tabColor();
// Off the board: null, so peers hide the cursor but still list who is here.
const pointer = new Signal.State({ x: null, y: null });

// 3 decimals: a 1000-px board to the pixel, and a shorter message on the wire.
const fraction = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
board.addEventListener('pointermove', (event) => {
  const r = board.getBoundingClientRect();
  pointer.set({ x: fraction((event.clientX - r.left) / r.width), y: fraction((event.clientY - r.top) / r.height) });
});
board.addEventListener('pointerleave', () => pointer.set({ x: null, y: null }));

// Re-published whenever the name or the pointer changes; coalesced by setPresence.
effect(() => setPresence($board, { name: $playerState.name || 'anonymous', color, ...pointer.get() }));

/** Drawn cursors by peer id: a peer's element is moved, not rebuilt, so its CSS transition runs. */
const drawn = new Map();
effect(() => {
  const seen = new Set();
  for (const peer of presence($board)) {
    const { name, color: c, x, y } = peer.state ?? {};
    // The own pointer is the system's: drawing it too would show it twice, a little behind.
    if (peer.self || typeof x !== 'number' || typeof y !== 'number') continue;
    seen.add(peer.id);
    let el = drawn.get(peer.id);
    if (!el) {
      el = document.createElement('div');
      el.className = 'cursor';
      el.dataset.peer = peer.id;
      el.innerHTML = '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M1 1l5 14 2-6 6-2z"/></svg><span class="name"></span>';
      board.append(el);
      drawn.set(peer.id, el);
    }
    el.style.left = `${x * 100}%`;
    el.style.top = `${y * 100}%`;
    el.style.color = typeof c === 'string' ? c : '';
    el.querySelector('.name').textContent = String(name ?? 'anonymous'); // text, never HTML: names are what peers claim
    el.dataset.x = String(x); // what the cursor shows, for tests
    el.dataset.y = String(y);
  }
  for (const [id, el] of drawn) {
    if (!seen.has(id)) {
      el.remove();
      drawn.delete(id);
    }
  }
});
