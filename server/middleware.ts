// SPDX-License-Identifier: MIT
/**
 * @module middleware
 * The Koa side of a twin server: the client bundles under `/_twin/`, a health check, a folder
 * of pages, and server-side rendering of every HTML response — pages from the folder and HTML
 * bodies set by other middleware alike — so the first paint shows current values and the
 * client resumes from them instead of fetching them again.
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import { definitionsOf, initialValue } from '../src/define.js';
import { localValueFromCookie } from './local-cookies.js';
import type { RateLimitedLogger } from './logger.js';
import { renderPage } from './render-html.js';
import { assemble } from './snapshot-parts.js';
import type { StoreData } from './render-html.js';
import { serveOperations } from './operations.js';
import { readStatic, sendFile, serveBundle } from './static.js';
import type { OperationsHost } from './operations.js';
import type { Hub } from './hub.js';

/** What the middleware needs of the server (a `TwinServer`): its hub, its auth, its health. */
export interface MiddlewareHost extends OperationsHost {
  readonly hub: Hub;
  /** The user of a request as the `auth` hook says, or false if it refuses. */
  authenticate(request: IncomingMessage): Promise<unknown>;
  /** Where a request's bad input (a mirror cookie that fails its checks) is logged, rate-limited. */
  readonly log: RateLimitedLogger;
}

/** @internal */
export function twinMiddleware(server: MiddlewareHost, pages: string | undefined): Middleware {
  return async function twinState(ctx: Context, next: Next) {
    if (await serveOperations(server, ctx)) return;
    if (await serveBundle(ctx)) return;
    if (pages && (ctx.method === 'GET' || ctx.method === 'HEAD') && !ctx.path.startsWith('/_twin/')) {
      const file = await readStatic(pages, ctx.path);
      if (file) {
        ctx.type = file.type;
        ctx.body = file.type.startsWith('text/html') ? file.body.toString('utf8') : file.body;
        if (!file.type.startsWith('text/html')) {
          sendFile(ctx, file, 'no-cache');
          return;
        }
      }
    }
    if (ctx.body === undefined || ctx.body === null) await next();
    if (ctx.status === 200 && typeof ctx.body === 'string' && ctx.response.is('html')) {
      ctx.body = await render(server, ctx, ctx.body);
      ctx.set('Cache-Control', 'no-store');
    }
  };
}

/** Renders current store values into `html`, as this request's user may see them. */
async function render(server: MiddlewareHost, ctx: Context, html: string): Promise<string> {
  const hub = server.hub;
  const defs = definitionsOf(hub.app);
  const user = await server.authenticate(ctx.req);
  const url = new URL(ctx.href);
  const locals = [...defs.stores.values()].filter((d) => d.kind === 'local');
  return renderPage(html, {
    url,
    include: locals.map((d) => d.name),
    async store(name): Promise<StoreData | undefined> {
      const local = defs.stores.get(name);
      if (local?.kind === 'local') {
        // Computed per request: one visitor's local state never reaches another. A store
        // mirrored to a cookie renders the visitor's own value (checked), so it never flashes.
        const persist = local.options.persist;
        const value = (await localValueFromCookie(local, ctx.get('cookie'), server.log)) ?? initialValue(local);
        return { kind: 'local', value, ...(persist ? { persist } : {}), ...(persist === 'local' && local.options.cookie ? { cookie: true } : {}) };
      }
      const store = await hub.load(name).catch(() => undefined);
      if (!store || user === false) return undefined;
      const canRead = store.def.options.canRead;
      if (canRead && !(await canRead({ user, store: name }))) return undefined;
      // The snapshot serialized for subscribers: a value and version that belong together,
      // and that later commits (which change the store's tree in place) cannot touch.
      const { value, v } = assemble(await store.lock.run(() => store.snapshot()));
      return { kind: 'shared', value, v };
    },
  });
}



