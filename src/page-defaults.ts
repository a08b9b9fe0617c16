// SPDX-License-Identifier: MIT
/**
 * @module page-defaults
 * Where a page's client starts when it is not told: the values the server rendered into the
 * page (`#twin-hydration`), and the server to connect to.
 */
import type { Hydration } from './client-options.js';
import { DEV_MODE } from './dev.js';
import { deepFreeze } from './json.js';
import { WS_PATH } from './protocol.js';

/** The hydration data the server rendered into the page, or none (with a warning if it is garbled). */
export function readHydration(): Hydration {
  const text = globalThis.document?.getElementById('twin-hydration')?.textContent;
  try {
    return text ? deepFreeze(JSON.parse(text) as Hydration) : {};
  } catch {
    console.warn(DEV_MODE ? '[twin-state] The hydration data of this page is not valid JSON; starting without it.' : '[twin-state] bad hydration');
    return {};
  }
}

/**
 * The page's `<meta name="twin-url" content="wss://…">` (a page whose twin server is elsewhere,
 * named before any script runs); else `/_twin/ws` on the server this script came from (the hub
 * serves it at `/_twin/*.js`), or on the page's own origin for an app bundle served there; none
 * for a script from a CDN (it waits for `connect(url)`).
 */
export function defaultUrl(): string | undefined {
  const location = globalThis.location;
  if (!location) return undefined;
  const named = globalThis.document?.querySelector<HTMLMetaElement>('meta[name="twin-url"]')?.content;
  const script = new URL(import.meta.url);
  const base = named ? new URL(named, location.href) : script.pathname.startsWith('/_twin/') || script.origin === location.origin ? new URL(WS_PATH, script) : undefined;
  return base?.href.replace(/^http/, 'ws');
}
