import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SUBPROTOCOL } from '../../protocol/frames';
import { libraryErrors, type LibraryErrorCode } from '../errors';
import { KeyedRateLimiter, type SharedLimits } from '../limits/rate-limiter';
import { clientAddress, limitKey, trustFunction, type TrustFunction, type TrustProxy } from '../http/client-address';
import type { RealtimeMetrics } from './metrics';
import type { RealtimeLimits } from './types';

/** Why a handshake (WebSocket upgrade or SSE GET) was refused, and when to come back. */
export interface Refusal {
  code: LibraryErrorCode;
  retryAfter?: number;
  /** For a stream the server closed while the client was away: that close. */
  close?: { code: number; reason: string };
}

export interface AdmissionOptions {
  limits: RealtimeLimits;
  allowedOrigins: string[];
  trustProxy: TrustProxy;
  clock: () => number;
  sharedLimits?: SharedLimits | undefined;
}

/**
 * Who may open a realtime connection, decided before any connection state exists (a refused
 * client costs no socket or stream): the drain, the Origin (allow-list or same origin), the
 * subprotocol, node-wide and per-IP handshake rates, and per-IP concurrency, which this module
 * also counts. WebSockets and SSE streams share every budget.
 */
export class Admission {
  readonly #options: AdmissionOptions;
  readonly #handshakes: KeyedRateLimiter;
  readonly #nodeRate: KeyedRateLimiter;
  /** Open connections per IP; the entry's `ip` is the one string every connection of that IP shares. */
  readonly #perIp = new Map<string, { ip: string; count: number }>();
  readonly #trust: TrustFunction | undefined;
  #draining = false;

  constructor(options: AdmissionOptions) {
    const { limits, clock } = options;
    this.#options = options;
    this.#trust = trustFunction(options.trustProxy);
    this.#handshakes = new KeyedRateLimiter({ capacity: limits.handshakesPerIpPerSecond * 2, refillPerSecond: limits.handshakesPerIpPerSecond, clock });
    this.#nodeRate = new KeyedRateLimiter({ capacity: limits.newConnectionsPerSecond, refillPerSecond: limits.newConnectionsPerSecond, clock });
    // The per-IP rate is the cluster's; the node-wide rate protects this node's own CPU.
    options.sharedLimits?.share('handshake', this.#handshakes);
  }

  /** Whether the gateway drains (every handshake is refused from then on). */
  get draining(): boolean {
    return this.#draining;
  }

  drain(): void {
    this.#draining = true;
  }

  /** IPs with open connections (the churn test expects none when idle). */
  get ips(): number {
    return this.#perIp.size;
  }

  /**
   * The address a request's per-IP limits count under: its client address as REST sees it
   * (X-Forwarded-For as trustProxy says), an IPv6 one by its /64.
   */
  ipOf(request: IncomingMessage): string {
    return limitKey(clientAddress(request, this.#trust));
  }

  /**
   * A new connection: a WebSocket upgrade (which must offer the subprotocol) or an SSE GET
   * (which must look like an EventSource's). Spends the handshake budgets when it admits.
   */
  admit(request: IncomingMessage, transport: 'websocket' | 'sse'): Refusal | undefined {
    if (transport === 'sse') {
      const refusal = eventStreamRefusal(request);
      if (refusal !== undefined) return refusal;
    }
    if (this.#draining) return { code: 'server_busy', retryAfter: 1 };
    if (!this.originAllowed(request)) return { code: 'origin_forbidden' };
    if (transport === 'websocket' && !offersSubprotocol(request)) return { code: 'unsupported_subprotocol' };
    // The node-wide budget is only spent by a handshake every per-IP check let through: one
    // address refused for its own rate must not use up everyone else's new connections.
    const busy = this.#nodeRate.peek('node');
    if (!busy.allowed) return { code: 'server_busy', retryAfter: busy.retryAfterSeconds };
    const ip = this.ipOf(request);
    const handshake = this.#handshakes.consume(ip);
    if (!handshake.allowed) return { code: 'handshake_rate_limited', retryAfter: handshake.retryAfterSeconds };
    if ((this.#perIp.get(ip)?.count ?? 0) >= this.#options.limits.maxConnectionsPerIp) return { code: 'too_many_connections', retryAfter: 5 };
    const node = this.#nodeRate.consume('node');
    if (!node.allowed) return { code: 'server_busy', retryAfter: node.retryAfterSeconds };
    return undefined;
  }

  /**
   * Whether a WebSocket handshake that `admit` refused with server_busy for the node-wide pace may
   * wait for it instead (the gateway queues it briefly): not while draining, and only as far as its
   * address's own handshake budget could admit it and the `waiting` ones of that address before it
   * (so one address cannot fill the queue).
   */
  mayWait(request: IncomingMessage, waiting: number): boolean {
    if (this.#draining) return false;
    return this.#handshakes.peek(this.ipOf(request), waiting + 1).allowed;
  }

  /** An SSE resume (`Last-Event-ID`): its stream is already counted, so only the handshake rate applies. */
  admitResume(request: IncomingMessage): Refusal | undefined {
    const refusal = eventStreamRefusal(request);
    if (refusal !== undefined) return refusal;
    if (this.#draining) return { code: 'server_busy', retryAfter: 1 };
    if (!this.originAllowed(request)) return { code: 'origin_forbidden' };
    const handshake = this.#handshakes.consume(this.ipOf(request));
    if (!handshake.allowed) return { code: 'handshake_rate_limited', retryAfter: handshake.retryAfterSeconds };
    return undefined;
  }

  /** Browsers always send Origin: it must be this site or on the allow-list (no cross-site hijacking). */
  originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.#options.allowedOrigins.includes(origin)) return true;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }

  /** Counts a new connection of `ip`; returns the one string every connection of that IP shares. */
  count(ip: string): string {
    let perIp = this.#perIp.get(ip);
    if (perIp === undefined) this.#perIp.set(ip, (perIp = { ip, count: 0 }));
    perIp.count += 1;
    return perIp.ip;
  }

  /** Uncounts a connection of `ip` that has ended. */
  release(ip: string): void {
    const perIp = this.#perIp.get(ip);
    if (perIp !== undefined && --perIp.count <= 0) this.#perIp.delete(ip);
  }
}

function offersSubprotocol(request: IncomingMessage): boolean {
  const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return offered.includes(SUBPROTOCOL);
}

/**
 * What a browser would not send from our own page: an Accept without text/event-stream (an
 * <img> or <script> pointed at the endpoint), or a cross-site request without Origin (no-cors
 * requests omit it). Either would let a foreign page spend its visitors' connection budget.
 */
function eventStreamRefusal(request: IncomingMessage): Refusal | undefined {
  if (!String(request.headers.accept ?? '').includes('text/event-stream')) return { code: 'not_acceptable' };
  const site = request.headers['sec-fetch-site'];
  if (request.headers.origin === undefined && (site === 'cross-site' || site === 'same-site')) return { code: 'origin_forbidden' };
  return undefined;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** Answers a refused upgrade with a plain HTTP problem response and closes the socket. */
export function refuseUpgrade(socket: Duplex, code: LibraryErrorCode, metrics: RealtimeMetrics, retryAfter?: number): void {
  const entry = libraryErrors[code];
  metrics.refusals.inc({ reason: code });
  const body = JSON.stringify({ type: `urn:tandem:error:${code}`, title: entry.title, status: entry.status, code });
  const headers = [
    `HTTP/1.1 ${entry.status} ${REASONS[entry.status] ?? 'Refused'}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(retryAfter === undefined ? [] : [`Retry-After: ${retryAfter}`]),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
