// SPDX-License-Identifier: MIT
/**
 * @module cut-proxy
 * A TCP forwarder on 127.0.0.1 between a client and one server port that can pull the cable:
 * `cut()` destroys every forwarded connection at once (both sides see a reset, no closing
 * handshake — a lost Wi-Fi, a NAT that forgot the flow), and `down` refuses new connections
 * until it is set back (the network is gone for a while). The server stays up and knows
 * nothing until its side of the socket errors, exactly as in a real outage.
 */
import { once } from 'node:events';
import net from 'node:net';

const HOST = '127.0.0.1';

/** A running forwarder. */
export interface CutProxy {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/_twin/ws` */
  readonly url: string;
  /** The server port connections are forwarded to (may be changed; applies to new connections). */
  target: number;
  /** While true, new connections are dropped as soon as they arrive. */
  down: boolean;
  /** Connections cut so far by {@link CutProxy.cut}. */
  readonly cuts: number;
  /** Open forwarded connections now. */
  readonly open: number;
  /** Destroys every forwarded connection now. */
  cut(): void;
  /**
   * Every forwarded connection goes silent: its bytes are dropped both ways while it stays open
   * (a NAT that forgot the flow without a reset, a partition); only a timeout tells. New
   * connections are forwarded as before.
   */
  silence(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/**
 * Starts a forwarder from a free port of 127.0.0.1 to `target` on 127.0.0.1.
 *
 * ```ts
 * const proxy = await startCutProxy(server.port);
 * const client = createClient({ url: proxy.url, WebSocket }).connect();
 * proxy.cut();          // the client's socket dies; it reconnects through the proxy
 * proxy.down = true;    // ...and cannot, until
 * proxy.down = false;
 * ```
 */
export async function startCutProxy(target: number): Promise<CutProxy> {
  const pairs = new Set<{ down: net.Socket; up: net.Socket }>();
  const all = new Set<net.Socket>();
  let cuts = 0;
  const track = (socket: net.Socket): void => {
    all.add(socket);
    socket.once('close', () => all.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const server = net.createServer((downstream) => {
    track(downstream);
    if (proxy.down) {
      downstream.resetAndDestroy();
      return;
    }
    downstream.pause(); // hold the client's bytes until the server side is connected
    const upstream = net.connect({ host: HOST, port: proxy.target });
    track(upstream);
    const pair = { down: downstream, up: upstream };
    const end = (): void => {
      pairs.delete(pair);
      upstream.destroy();
      downstream.destroy();
    };
    upstream.once('connect', () => {
      if (downstream.destroyed) return end();
      pairs.add(pair);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
    upstream.once('close', end);
    downstream.once('close', end);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const proxy: CutProxy = {
    port,
    url: `ws://${HOST}:${port}/_twin/ws`,
    target,
    down: false,
    get cuts() {
      return cuts;
    },
    get open() {
      return pairs.size;
    },
    cut() {
      for (const pair of [...pairs]) {
        cuts++;
        pairs.delete(pair);
        // A reset rather than a FIN: neither side gets a chance to say goodbye.
        pair.down.resetAndDestroy();
        pair.up.resetAndDestroy();
      }
    },
    silence() {
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair.down.unpipe(pair.up);
        pair.up.unpipe(pair.down);
        for (const socket of [pair.down, pair.up]) socket.on('data', () => {});
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of all) socket.destroy();
      await closed;
    },
  };
  return proxy;
}
