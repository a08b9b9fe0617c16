// SPDX-License-Identifier: MIT
/**
 * @module static
 * Reads files to serve from a folder, with a content type and an ETag, never outside the
 * folder; and serves the browser bundles under `/_twin/` (CORS, ETag, and immutable caching
 * for the versioned URLs `/_twin/v<version>/…`). Small on purpose: the hub serves its own
 * bundles and a demo's pages, not a CDN.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';

/**
 * Whether this module runs from the built package (`dist/lib/server/static.js`) rather than
 * from the sources of a checkout (`server/static.ts`, through tsx). The two sit at different
 * depths below the package root.
 */
export const PACKAGED = !/\.[cm]?ts$/.test(new URL(import.meta.url).pathname);

/** The package root: three folders up from `dist/lib/server/`, one up from `server/`. */
const PACKAGE_ROOT = new URL(PACKAGED ? '../../../' : '../', import.meta.url);

/** Where the build (`npm run build`) puts the browser bundles. */
export const BUNDLE_DIR = fileURLToPath(new URL('dist/', PACKAGE_ROOT));

/** The package version: the versioned bundle URLs carry it. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string }).version;

/**
 * A bundle URL: `/_twin/[v<version>/]<file>`, where the file is a bundle, its source map or
 * license text at the top of `dist/` (or a lazily loaded chunk in `dist/chunks/`, should the
 * build make some) — never the Node modules under `dist/lib/`.
 */
const BUNDLE_URL = /^\/_twin\/(?:v([\w.+-]+)\/)?((?:chunks\/)?[a-z0-9][\w.-]*\.(?:js|map|txt))$/i;

/** Cache-Control of a versioned URL: its content never changes, so a year without asking. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Cache-Control of a plain URL: it keeps its name across versions, so revalidate (by ETag). */
const REVALIDATE = 'no-cache';

/**
 * Answers a request for a browser bundle under `/_twin/`; returns false (and touches nothing)
 * for any other path. The bundles are public scripts that pages on other origins load (a CDN
 * copy of `twin.min.js` connecting to this server, a chunk imported by such a page): they are
 * served with `Access-Control-Allow-Origin: *`. `/_twin/v<version>/twin.js` is cached for a
 * year (`immutable`); a version other than this server's is a 404, so no cache ever keeps one
 * version's code under another's URL.
 */
export async function serveBundle(ctx: Context): Promise<boolean> {
  const match = BUNDLE_URL.exec(ctx.path);
  if (!match || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
  const [, version, name = ''] = match;
  ctx.set('Access-Control-Allow-Origin', '*');
  ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
  ctx.vary('Origin');
  if (version !== undefined && version !== PACKAGE_VERSION) {
    ctx.status = 404;
    ctx.body = `This server runs twin-state ${PACKAGE_VERSION}, not ${version}: load /_twin/v${PACKAGE_VERSION}/${name}.`;
    return true;
  }
  const file = await readStatic(BUNDLE_DIR, `/${name}`);
  if (!file) {
    ctx.status = 404;
    ctx.body = PACKAGED
      ? `${name} is not part of twin-state ${PACKAGE_VERSION}.`
      : `${name} is not built: run "npm run build".`;
    return true;
  }
  sendFile(ctx, file, version === undefined ? REVALIDATE : IMMUTABLE);
  return true;
}

/** Sends `file` with its ETag and `cacheControl`, or a 304 if the client holds that version. */
export function sendFile(ctx: Context, file: StaticFile, cacheControl: string): void {
  ctx.set('ETag', file.etag);
  ctx.set('Cache-Control', cacheControl);
  ctx.type = file.type;
  if (ctx.get('If-None-Match') === file.etag) {
    ctx.status = 304;
    return;
  }
  ctx.body = file.body;
}

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
