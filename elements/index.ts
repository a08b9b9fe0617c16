// SPDX-License-Identifier: MIT
/**
 * @packageDocumentation
 * twin-state/elements: the declarative vocabulary of plain HTML pages. Importing this module
 * defines `<twin-bind>`, `<twin-show>`, `<twin-list>`, `<twin-presence>`, `<twin-status>` and `<twin-error>`,
 * makes every `twin-action` attribute call its server action, and every `twin-undo` /
 * `twin-redo` button undo or redo the page's own writes. They bind to the page runtime,
 * which connects by itself to the server the script came from.
 */
// The `twin-undo` and `twin-redo` attributes (a document listener: nothing to export).
import './undo.js';

export { TwinBindElement } from './twin-bind.js';
export { TwinShowElement } from './twin-show.js';
export { TwinListElement } from './twin-list.js';
export { TwinPresenceElement } from './twin-presence.js';
export { TwinStatusElement } from './twin-status.js';
export { TwinErrorElement } from './twin-error.js';
export { runAction, TwinActionEvent } from './actions.js';
