// SPDX-License-Identifier: MIT
/**
 * @module local-cookies
 * Reads back the cookie a `cookie: true` local store is mirrored to (`src/local-stores.ts`), so
 * the page is rendered with the visitor's own value (theme, name) instead of the default that
 * would flash first. The cookie comes from the request: it is untrusted input, taken only as a
 * plain JSON object within the size and depth limits that the store's schema accepts.
 * Anything else is ignored (the default is rendered) and logged, rate-limited; the value then
 * goes through the same escaping as every rendered value (parse5, the hydration script's
 * `escapeScriptJson`).
 */
import type { StoreDef } from '../src/define.js';
import { cloneJson, isPlainObject } from '../src/json.js';
import type { Json } from '../src/json.js';
import { COOKIE_MAX_BYTES, COOKIE_PREFIX } from '../src/local-stores.js';
import type { RateLimitedLogger } from './logger.js';

/** How deep a cookie's value may nest: a mirrored store is small preferences, not a tree. */
const COOKIE_MAX_DEPTH = 16;

/**
 * The value of local store `def` from its mirror cookie in `cookieHeader` (a request's `Cookie`
 * header), or undefined when the store is not mirrored, the cookie is absent, or it fails a
 * check (then logged under the key `local-cookie`).
 */
export async function localValueFromCookie(def: StoreDef, cookieHeader: string | undefined, log: RateLimitedLogger): Promise<Json | undefined> {
  if (!def.options.cookie || def.options.persist !== 'local' || !cookieHeader) return undefined;
  const raw = cookieValue(cookieHeader, COOKIE_PREFIX + def.name);
  if (raw === undefined || raw === '') return undefined;
  const refused = (why: string): undefined => {
    // The key and the text are fixed by the server (the store's name is the app's), never the request's.
    log.warn('local-cookie', `TWIN_ERR_SCHEMA: ignored the cookie ${COOKIE_PREFIX}${def.name} of a request (${why}); rendered the store's default.`);
    return undefined;
  };
  // The browser writes at most COOKIE_MAX_BYTES; a little slack for another encoder.
  if (raw.length > COOKIE_MAX_BYTES + 1024) return refused(`${raw.length} bytes, over the limit`);
  let value: Json;
  try {
    value = cloneJson(JSON.parse(decodeURIComponent(raw)), COOKIE_MAX_DEPTH);
  } catch {
    return refused('not URI-encoded JSON data within the depth limit');
  }
  if (!isPlainObject(value)) return refused('not a JSON object');
  const schema = def.options.schema;
  if (schema) {
    try {
      const result = await schema['~standard'].validate(value);
      if (result.issues) return refused('the store\'s schema refuses it');
    } catch {
      return refused('the store\'s schema threw on it');
    }
  }
  return value;
}

/** The raw value of the first cookie named `name` in a `Cookie` header. */
function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
