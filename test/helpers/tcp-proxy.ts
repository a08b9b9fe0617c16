// SPDX-License-Identifier: MIT
/**
 * @module tcp-proxy
 * The smallest load balancer that shows failover: a TCP listener on 127.0.0.1 that forwards
 * each new connection to the first backend of its list that accepts it. When a backend dies,
 * its connections are cut (both ways), and clients that reconnect land on the next live one —
 * what a real load balancer with health checks does, minus the health checks.
 */
import { once } from 'node:events';
import net from 'node:net';

const HOST = '127.0.0.1';

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/_twin/ws` */
  readonly url: string;
  /** Backend ports, tried in this order for each new connection. */
  backends: number[];
  /** Open forwarded connections per backend port. */
  connections(): Map<number, number>;
  /** Connections forwarded so far (open or closed) per backend port. */
  forwarded(): Map<number, number>;
  /** Stops listening and cuts every connection. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free port of 127.0.0.1 forwarding to `backends` (ports of 127.0.0.1).
 * A connection that no backend accepts is closed.
 *
 * ```ts
 * const proxy = await startTcpProxy([nodeA.port, nodeB.port]);
 * const client = createClient({ url: proxy.url, WebSocket }).connect();
 * ```
 */
export async function startTcpProxy(backends: readonly number[]): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const open = new Map<number, number>();
  const total = new Map<number, number>();
  const proxy = {
    backends: [...backends],
  } as { backends: number[] };

  const server = net.createServer((downstream) => {
    sockets.add(downstream);
    downstream.once('close', () => sockets.delete(downstream));
    downstream.on('error', () => downstream.destroy());
    downstream.pause(); // hold the client's bytes until a backend is connected
    void connectFirst([...proxy.backends], sockets).then((found) => {
      if (!found || downstream.destroyed) {
        found?.socket.destroy();
        downstream.destroy();
        return;
      }
      const { socket: upstream, port } = found;
      open.set(port, (open.get(port) ?? 0) + 1);
      total.set(port, (total.get(port) ?? 0) + 1);
      const cut = (): void => {
        upstream.destroy();
        downstream.destroy();
      };
      upstream.once('close', () => {
        open.set(port, (open.get(port) ?? 1) - 1);
        cut();
      });
      upstream.on('error', cut);
      downstream.once('close', cut);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return Object.assign(proxy, {
    port,
    url: `ws://${HOST}:${port}/_twin/ws`,
    connections: () => new Map([...open].filter(([, n]) => n > 0)),
    forwarded: () => new Map(total),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  });
}

/** Connects to the first of `ports` that accepts, or resolves undefined when none does. */
async function connectFirst(ports: number[], sockets: Set<net.Socket>): Promise<{ socket: net.Socket; port: number } | undefined> {
  for (const port of ports) {
    const socket = net.connect({ host: HOST, port });
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    if (ok) return { socket, port };
    socket.destroy();
  }
  return undefined;
}
