// SPDX-License-Identifier: MIT
/**
 * @module wire-server
 * The server of bench/wire.ts, in a child process of its own so its CPU time
 * (`process.cpuUsage`, asked for with the children's built-in `cpu` command) is the server's
 * alone: Koa + `twin(app)` serving the demo's `life` store (demo/stores/life.ts), with
 * `compression: { threshold: 0 }` when started with `on`. It runs generations only when
 * told (`step`), so the bench paces them and every client gets every generation.
 *
 * Commands: `url` → the WebSocket URL; `warmup {count}` → runs `count` generations with nobody
 * subscribed; `step` → runs one generation (its sync goes out at the end of this tick).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { twin } from '../../server/index.js';
import { app } from '../../demo/stores/app.js';
import { advanceLife } from '../../demo/stores/life.js';
import { serveParent } from './children.js';

/** High enough never to bind: 100+ clients connect from 127.0.0.1. */
const UNLIMITED = 1e9;
const HOST = '127.0.0.1';

const compress = process.argv[2] === 'on';
const koa = new Koa();
const server = twin(app, {
  compression: compress ? { threshold: 0 } : false,
  limits: { rate: UNLIMITED, burst: UNLIMITED, maxConnections: UNLIMITED, maxConnectionsPerAddress: UNLIMITED },
});
koa.use(server.middleware());
const http: Server = koa.listen(0, HOST);
await new Promise<void>((resolve, reject) => {
  http.once('listening', resolve);
  http.once('error', reject);
});
server.attach(http);
await server.ready;
// The store is loaded (and seeded) before the first generation is run as server code.
await server.hub.load('life');
const url = `ws://${HOST}:${(http.address() as AddressInfo).port}/_twin/ws`;

serveParent(async (command) => {
  switch (command.cmd) {
    case 'url':
      return url;
    case 'warmup':
      // One generation per turn, as the demo's timer runs them (a turn's writes are one batch).
      for (let i = 0; i < Number(command.count); i++) {
        advanceLife();
        await new Promise((resolve) => setImmediate(resolve));
      }
      return null;
    case 'step':
      advanceLife();
      return null;
    default:
      throw new TypeError(`Unknown command ${JSON.stringify(command.cmd)}.`);
  }
});
