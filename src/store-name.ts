// SPDX-License-Identifier: MIT
/**
 * @module store-name
 * Store names in markup may hold `{param}` placeholders filled from the page URL's query
 * (`store="room/{room}"` on `room.html?room=general`). The browser's elements and the server's
 * renderer fill them here, the same way, so a page renders and hydrates the same store.
 */

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** `raw` with each `{param}` replaced by that query parameter; undefined when one is missing. */
export function fillStoreName(raw: string, params: URLSearchParams): string | undefined {
  let missing = false;
  const name = raw.replace(PLACEHOLDER, (_, param: string) => {
    const value = params.get(param);
    if (value === null) missing = true;
    return value ?? '';
  });
  return missing ? undefined : name;
}
