// SPDX-License-Identifier: MIT
/**
 * @module address-limits
 * Limits that follow the client, not the connection (ARCHITECTURE.md rules): how many connections one
 * address may hold open, and one token bucket per address that every connection from it
 * draws from, so reconnecting buys no fresh burst. Each connection also keeps a bucket of its
 * own at the per-connection rate, so one tab cannot take an address's whole allowance.
 *
 * An IPv6 client is counted by its /64 (what one subscriber or host usually gets, so taking a
 * new address from it buys nothing); an IPv4 client by its address.
 *
 * Memory is bounded: an address with no connection is forgotten once its bucket has refilled
 * (it then holds nothing a fresh entry would not), and the map never keeps more than
 * `maxAddresses` idle entries; a sweep runs at most every few seconds, on a new connection.
 */
import type { IncomingMessage } from 'node:http';
import { TokenBucket } from './token-bucket.js';
import type { RateBucket } from './token-bucket.js';

/** Options of {@link AddressLimits}. */
export interface AddressLimitOptions {
  /** Messages per second, on average, for all connections of one address. */
  readonly addressRate: number;
  /** Messages in a burst for all connections of one address. */
  readonly addressBurst: number;
  /** Messages per second, on average, for one connection. */
  readonly rate: number;
  /** Messages in a burst for one connection. */
  readonly burst: number;
  /** Connections one address may hold open. */
  readonly maxConnectionsPerAddress: number;
  /** Idle addresses remembered at most (their buckets still refilling). Default 100,000. */
  readonly maxAddresses?: number;
}

/** Idle addresses remembered at most, by default (~100 bytes each). */
export const DEFAULT_MAX_ADDRESSES = 100_000;
/** Shortest time between two sweeps of refilled idle addresses. */
const SWEEP_INTERVAL_MS = 5_000;


interface AddressEntry {
  connections: number;
  readonly bucket: TokenBucket;
}

/**
 * Per-address connection counts and token buckets.
 *
 * ```ts
 * const limits = new AddressLimits({ rate: 200, burst: 400, addressRate: 200, addressBurst: 400, maxConnectionsPerAddress: 64 });
 * const bucket = limits.open('203.0.113.7'); // undefined: the address is at its cap
 * if (bucket && !bucket.take(1)) refuse();
 * limits.close('203.0.113.7');               // when that connection closes
 * ```
 */
export class AddressLimits {
  private readonly options: AddressLimitOptions;
  private readonly maxAddresses: number;
  private readonly entries = new Map<string, AddressEntry>();
  private lastSweep = 0;

  constructor(options: AddressLimitOptions) {
    for (const name of ['addressRate', 'addressBurst', 'rate', 'burst', 'maxConnectionsPerAddress'] as const) {
      if (!(options[name] > 0)) throw new RangeError(`The "${name}" limit must be a positive number; it is ${JSON.stringify(options[name])}.`);
    }
    this.options = options;
    this.maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  }

  /** Addresses remembered now (with connections, or idle and refilling). */
  get size(): number {
    return this.entries.size;
  }

  /** Connections open from `address`. */
  connections(address: string): number {
    return this.entries.get(addressKey(address))?.connections ?? 0;
  }

  /**
   * Counts a new connection from `peer` (an IPv4 or IPv6 address) and returns the bucket it
   * must draw from (its own and its address's, see {@link addressKey}); undefined, counting
   * nothing, if the address is at its cap.
   */
  open(peer: string, now: number = Date.now()): RateBucket | undefined {
    const address = addressKey(peer);
    // On an interval, not on size: a sweep is O(addresses), and live ones may outnumber the cap.
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    let entry = this.entries.get(address);
    if (entry && entry.connections >= this.options.maxConnectionsPerAddress) return undefined;
    if (!entry) {
      entry = { connections: 0, bucket: new TokenBucket(this.options.addressRate, this.options.addressBurst, now) };
      this.entries.set(address, entry);
    }
    entry.connections++;
    return this.bucketFor(entry.bucket, new TokenBucket(this.options.rate, this.options.burst, now));
  }

  /** A connection from `peer` closed. */
  close(peer: string): void {
    const entry = this.entries.get(addressKey(peer));
    if (entry && entry.connections > 0) entry.connections--;
  }

  /**
   * Forgets idle addresses whose bucket has refilled, then, if more than `maxAddresses` idle
   * ones are left, the ones least recently opened (their next connection starts full).
   */
  sweep(now: number = Date.now()): void {
    this.lastSweep = now;
    let idle = 0;
    for (const [address, entry] of this.entries) {
      if (entry.connections > 0) continue;
      if (entry.bucket.available(now) >= entry.bucket.burst) this.entries.delete(address);
      else idle++;
    }
    // Map order is insertion order: the first idle entries are the oldest.
    for (const [address, entry] of this.entries) {
      if (idle <= this.maxAddresses) break;
      if (entry.connections > 0) continue;
      this.entries.delete(address);
      idle--;
    }
  }

  private bucketFor(address: TokenBucket, own: TokenBucket): RateBucket {
    return {
      // From both or from neither.
      take(count) {
        const now = Date.now();
        if (own.available(now) < count || address.available(now) < count) return false;
        own.spend(count);
        address.spend(count);
        return true;
      },
    };
  }

}

/** Hextets in an IPv6 /64 prefix. */
const PREFIX_HEXTETS = 4;

/**
 * The key an address is counted under: an IPv6 address's /64 (`2001:db8:0:1::/64`), an IPv4
 * address (also when IPv4-mapped, `::ffff:203.0.113.7`) as it is. Anything else as it is.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0]!.toLowerCase(); // no zone index (fe80::1%eth0)
  const halves = bare.split('::');
  if (halves.length > 2) return address;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return address;
  const hextets = [...head, ...Array<string>(missing).fill('0'), ...tail];
  return `${hextets.slice(0, PREFIX_HEXTETS).map((h) => h.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * The address a request comes from: the socket's peer, or with `trustProxy` the one the proxy
 * in front says, from `X-Forwarded-For`: `true` takes the first address (a proxy that sets
 * the header, as Koa's `app.proxy` reads it), a number `n` the n-th from the right (for `n`
 * proxies that each append to it: the entries left of theirs are the client's to invent).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean | number | undefined): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy) return peer;
  const header = req.headers['x-forwarded-for'];
  const list = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) return peer;
  if (trustProxy === true) return list[0]!;
  return list[Math.max(0, list.length - trustProxy)]!;
}

/** Whether `address` (a socket's peer address) is this machine. */
export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
