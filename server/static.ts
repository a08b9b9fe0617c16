// SPDX-License-Identifier: MIT
/**
 * @module static
 * Reads files to serve from a folder, with a content type and an ETag, never outside the
 * folder. Small on purpose: the hub serves its own bundles and a demo's pages, not a CDN.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

/** Content types of the files a twin-state app serves. */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  /** A strong ETag of the content. */
  readonly etag: string;
}

/**
 * The file at `urlPath` under `root`, or undefined if there is none (or the path tries to
 * leave `root`). `/` and paths without an extension also try `index.html` / `.html`.
 */
export async function readStatic(root: string, urlPath: string): Promise<StaticFile | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = resolve(root);
  const candidates = decoded.endsWith('/') ? [`${decoded}index.html`] : extname(decoded) ? [decoded] : [decoded, `${decoded}.html`];
  for (const candidate of candidates) {
    const file = resolve(base, `.${candidate}`);
    if (file !== base && !file.startsWith(base + sep)) return undefined;
    try {
      if (!(await stat(file)).isFile()) continue;
      const body = await readFile(file);
      return { body, type: TYPES[extname(file)] ?? 'application/octet-stream', etag: etagOf(body) };
    } catch {
      // not there: try the next candidate
    }
  }
  return undefined;
}

/** A strong ETag for `body`. */
function etagOf(body: Buffer | string): string {
  return `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`;
}
