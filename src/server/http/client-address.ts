import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/**
 * Which proxies to believe about a client's address (X-Forwarded-For): none (`false`), every hop
 * (`true`: anyone can then claim any address), the nearest `n` hops, or the proxies' addresses,
 * CIDRs and proxy-addr's names (`loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = boolean | number | string[];

/** A function (address, hop index) -> trusted, as Fastify's trustProxy option and proxy-addr take it. */
export type TrustFunction = (address: string, hop: number) => boolean;

/** The trust function of a setting; undefined when nothing is trusted. */
export function trustFunction(trust: TrustProxy): TrustFunction | undefined {
  if (trust === false || trust === 0) return undefined;
  if (trust === true) return () => true;
  // Express's and older Fastify's meaning of a hop count: the nearest `n` hops, whoever they are.
  // (Fastify 5 now refuses a bare count; the addresses of the proxies are the safer setting.)
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile(trust);
}

/** The client address of a raw request (a WebSocket upgrade, an SSE stream), as REST sees it. */
export function clientAddress(request: IncomingMessage, trust: TrustFunction | undefined): string {
  if (trust === undefined) return request.socket.remoteAddress ?? 'unknown';
  return proxyAddr(request, trust);
}

/**
 * The key a per-address limit counts under: an IPv4 address as is, an IPv6 address by its /64
 * (one host usually holds a whole /64, so counting single IPv6 addresses limits nothing).
 */
export function limitKey(address: string): string {
  if (!address.includes(':') || address.startsWith('::ffff:')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
