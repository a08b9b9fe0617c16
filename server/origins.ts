// SPDX-License-Identifier: MIT
/**
 * @module origins
 * Which browser pages may open a WebSocket to the hub. The answer is configured, never
 * inferred from the request: comparing the Origin with the Host header lets DNS
 * rebinding through (the attacker's name points at the server, so Origin and Host agree). An
 * app names its public origin(s) (`publicUrl`) and any other allowed origins (`origins`);
 * with neither, only loopback pages are allowed, which is what development needs and safe.
 *
 * Origins are compared exactly after normalizing (scheme, lower-case host, port with the
 * scheme's default left out): `https://app.example` does not admit `http://app.example`,
 * `https://app.example:8443` or `https://app.example.evil.com`.
 */

/** The `origins` option: a list of origins, `'*'` for any, or a predicate of the Origin header. */
export type OriginsOption = readonly string[] | '*' | ((origin: string) => boolean);

/** Hostnames (as `URL` spells them) of pages on this machine, allowed when nothing is configured. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Schemes a browser page's Origin can have. */
const WEB_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:']);

/** What {@link originPolicy} decides, and whether it was told anything to decide it. */
export interface OriginPolicy {
  /** Whether a page with this Origin header may connect. Never throws. */
  allows(origin: string): boolean;
  /** False when neither `origins` nor `publicUrl` was given (loopback pages only). */
  readonly configured: boolean;
}

/**
 * `scheme://host[:port]` of `url`, normalized as browsers send an Origin; undefined if `url`
 * is not an http(s) URL (`null`, `file:`...).
 */
export function normalizeOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return WEB_SCHEMES.has(parsed.protocol) ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `origin` is a page on this machine (`localhost`, `127.0.0.1`, `[::1]`, any port). */
export function isLoopbackOrigin(origin: string): boolean {
  try {
    const parsed = new URL(origin);
    return WEB_SCHEMES.has(parsed.protocol) && LOOPBACK_HOSTS.has(parsed.hostname);
  } catch {
    return false;
  }
}

/**
 * The policy of the `origins` and `publicUrl` options. Throws a `TypeError` naming the value
 * for an entry that is not an http(s) origin, so a typo fails at startup, not as refused pages.
 *
 * ```ts
 * const policy = originPolicy(['https://admin.example'], 'https://app.example/');
 * policy.allows('https://app.example');   // true
 * policy.allows('http://app.example');    // false: another scheme
 * ```
 */
export function originPolicy(origins?: OriginsOption, publicUrl?: string | readonly string[]): OriginPolicy {
  if (origins !== undefined && origins !== '*' && typeof origins !== 'function' && !Array.isArray(origins)) {
    throw new TypeError('The "origins" option must be a list of origins, "*" or a function.');
  }
  const publics = publicUrl === undefined ? [] : typeof publicUrl === 'string' ? [publicUrl] : publicUrl;
  if (!Array.isArray(publics)) throw new TypeError('The "publicUrl" option must be a URL or a list of URLs.');
  const exact = new Set<string>();
  for (const url of publics) exact.add(parseEntry(url, 'publicUrl'));
  if (Array.isArray(origins)) for (const origin of origins as readonly string[]) exact.add(parseEntry(origin, 'origins'));
  const predicate = typeof origins === 'function' ? origins : undefined;
  const configured = origins !== undefined || publics.length > 0;
  return {
    configured,
    allows(origin) {
      if (origins === '*') return true;
      const normalized = normalizeOrigin(origin);
      if (normalized !== undefined && exact.has(normalized)) return true;
      if (predicate) {
        try {
          return Boolean(predicate(origin));
        } catch {
          return false; // a predicate that throws refuses, as a throwing `auth` hook does
        }
      }
      return !configured && isLoopbackOrigin(origin);
    },
  };
}

/** The normalized origin of one configured entry, or a TypeError naming it. */
function parseEntry(value: unknown, option: string): string {
  const origin = typeof value === 'string' ? normalizeOrigin(value) : undefined;
  if (origin === undefined) {
    throw new TypeError(`The "${option}" option has ${JSON.stringify(value)}, which is not an http(s) URL such as "https://app.example".`);
  }
  return origin;
}
