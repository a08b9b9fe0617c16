// SPDX-License-Identifier: MIT
/**
 * The chat's queued messages: a message sent while the server does not have it yet (offline,
 * or on its way) shows at once under the others, marked queued, until its `send_msg` call is
 * answered — then the room's own copy takes its place (or the reason it was refused shows in
 * `<twin-error>`). The call itself waits in the page's outbox, and survives a reload; this
 * marker lives in the page only (after a reload, `<twin-status>` still counts it).
 */
const form = document.querySelector('form.composer');
const queued = document.querySelector('.queued-messages');

form?.addEventListener('submit', () => {
  // (Before twin-action reads and resets the form: this listener is on the form itself.)
  const text = form.elements.namedItem('text')?.value.trim();
  if (!text || !queued) return;
  const item = document.createElement('div');
  item.className = 'msg queued';
  item.dataset.text = text;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  const mark = document.createElement('span');
  mark.className = 'mark';
  mark.textContent = 'queued';
  item.append(body, mark);
  queued.append(item);
});

/** The call for `text` was answered: its marker goes (the first one with that text). */
const answered = (event) => {
  const text = String(event.args?.[0] ?? '').trim();
  [...(queued?.children ?? [])].find((item) => item.dataset.text === text)?.remove();
};
form?.addEventListener('twin-done', answered);
form?.addEventListener('twin-fail', answered);
