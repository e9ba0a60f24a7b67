import { CloseCode } from '../../protocol/close-codes';
import type { ServerFrame } from '../../protocol/frames';
import { SUBPROTOCOL } from '../../protocol/wire';
import { parseRetryAfter } from '../errors';
import type { Platform, WebSocketLike } from './platform';
import { TimerSlot } from './timer-slot';

/** Why a socket ended, as the client reports it in its state events. */
export interface TransportClose {
  code: number;
  reason: string;
  /** True when the socket had opened (false: the handshake or the connection failed). */
  opened: boolean;
  /** A refused handshake's `Retry-After`, in milliseconds (only where the platform exposes it). */
  retryAfterMs?: number;
  /**
   * True when the way to the server failed (the socket could not open, died without a close
   * frame, went silent, or got no answer): what the SSE fallback counts. False for ends the
   * server explained and for the client's own reasons (offline, no token, a refused refresh).
   */
  pathFailure?: boolean;
}

export interface TransportHandlers {
  open(): void;
  frame(frame: ServerFrame): void;
  /** Called exactly once, after which the transport calls nothing any more. */
  close(info: TransportClose): void;
}

/** How a connection reaches the server: a WebSocket, or the SSE fallback (stream down, POSTs up). */
export type TransportKind = 'websocket' | 'sse';

/** One connection attempt's transport, whichever it is; a new attempt is a new Transport. */
export interface Transport {
  readonly kind: TransportKind;
  /** Sends one frame; false when not open. */
  send(frame: object): boolean;
  /** Closes and reports the close now (not after the server's answer). */
  close(code: number, reason: string): void;
  /** Kills a connection we no longer trust (heartbeat silence, connect timeout, network offline). */
  abort(reason: string): void;
}

export interface TransportOptions {
  url: string;
  platform: Platform;
  /** Send a `ping` this often; silence for twice as long means the connection is dead. */
  heartbeatIntervalMs: number;
  /** Give up on a socket that has not opened in this time. */
  connectTimeoutMs: number;
}

/** Reasons of local aborts that say the path to the server is broken (not the client's own state). */
const PATH_FAILURES = new Set(['connect_timeout', 'heartbeat_timeout', 'auth_timeout', 'subscribe_timeout']);

/**
 * Close codes a socket reports when it ended without the server's close frame: abnormal, and
 * the RFC 6455 statuses only a WebSocket implementation reports (protocol error, no status, TLS
 * failure), which no Tandem server sends.
 */
const ABNORMAL = new Set<number>([CloseCode.abnormal, CloseCode.protocolError, CloseCode.noStatus, CloseCode.tlsFailure]);

/**
 * One WebSocket, from dial to close: splits coalesced server messages into frames, pings and
 * watches for silence (a connection that died without a close frame, or a laptop that slept),
 * and reports one close. A new connection attempt is a new Transport.
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'websocket';
  readonly #options: TransportOptions;
  readonly #handlers: TransportHandlers;
  readonly #socket: WebSocketLike;
  #opened = false;
  #finished = false;
  #lastFrameAt: number;
  readonly #timer: TimerSlot;
  #retryAfterMs: number | undefined;

  constructor(options: TransportOptions, handlers: TransportHandlers) {
    this.#timer = new TimerSlot(options.platform.timers);
    this.#options = options;
    this.#handlers = handlers;
    this.#lastFrameAt = options.platform.clock();
    this.#socket = new options.platform.WebSocket(options.url, SUBPROTOCOL);
    this.#watchHandshake();
    this.#socket.onopen = () => this.#onOpen();
    this.#socket.onmessage = (event: { data: unknown }) => this.#onMessage(event.data);
    this.#socket.onclose = (event: { code: number; reason: string }) => this.#finish({ code: event.code, reason: event.reason, pathFailure: ABNORMAL.has(event.code) });
    // An error is always followed by a close event, which carries what we report.
    this.#socket.onerror = () => {};
    this.#timer.schedule(() => this.#abort('connect_timeout'), options.connectTimeoutMs);
  }

  /** Sends one frame; false when the socket is not open. */
  send(frame: object): boolean {
    if (this.#finished || !this.#opened) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  /** Closes the socket and reports the close now (not after the server's answer). */
  close(code: number, reason: string): void {
    if (this.#finished) return;
    try {
      this.#socket.close(code, reason);
    } catch {
      // A close during the handshake may throw on some platforms; the socket is gone either way.
    }
    this.#finish({ code, reason });
  }

  /** Kills a socket we no longer trust (heartbeat silence, connect timeout, network offline). */
  abort(reason: string): void {
    this.#abort(reason);
  }

  #abort(reason: string): void {
    if (this.#finished) return;
    const terminate = (this.#socket as unknown as { terminate?: () => void }).terminate;
    // `ws` can drop the TCP connection at once; a browser can only start a close handshake (the
    // reason tells the server why; the client reports the end as abnormal either way).
    if (typeof terminate === 'function') terminate.call(this.#socket);
    else this.#socket.close(CloseCode.normal, reason);
    this.#finish({ code: CloseCode.abnormal, reason, pathFailure: PATH_FAILURES.has(reason) });
  }

  #onOpen(): void {
    if (this.#finished) return;
    this.#opened = true;
    this.#lastFrameAt = this.#options.platform.clock();
    this.#heartbeat();
    this.#handlers.open();
  }

  #heartbeat(): void {
    const interval = this.#options.heartbeatIntervalMs;
    this.#timer.schedule(() => {
      if (this.#options.platform.clock() - this.#lastFrameAt >= 2 * interval) return this.#abort('heartbeat_timeout');
      this.send({ t: 'ping' });
      this.#heartbeat();
    }, interval);
  }

  #onMessage(data: unknown): void {
    if (this.#finished) return;
    this.#lastFrameAt = this.#options.platform.clock();
    if (typeof data !== 'string') return;
    // The server coalesces frames into one message, separated by '\n' (JSON text has no raw newline).
    for (const line of data.split('\n')) {
      if (this.#finished) return;
      const frame = parseFrame(line);
      if (frame !== undefined) this.#handlers.frame(frame);
    }
  }

  /** `ws` (Node) exposes a refused handshake's status and headers; browsers do not. */
  #watchHandshake(): void {
    const on = (this.#socket as unknown as { on?: (event: string, listener: (...args: never[]) => void) => void }).on;
    if (typeof on !== 'function') return;
    on.call(this.#socket, 'unexpected-response', (_request: unknown, response: { statusCode?: number; headers?: Record<string, unknown> }) => {
      const header = response.headers?.['retry-after'];
      this.#retryAfterMs = parseRetryAfter(typeof header === 'string' ? header : null, this.#options.platform.clock());
      // With this listener `ws` leaves the refused request to us; close() aborts it and emits close.
      this.#socket.close();
    });
  }

  #finish(info: { code: number; reason: string; pathFailure?: boolean }): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#timer.clear();
    this.#socket.onopen = null;
    this.#socket.onmessage = null;
    this.#socket.onclose = null;
    const close: TransportClose = { ...info, opened: this.#opened };
    if (this.#retryAfterMs !== undefined) close.retryAfterMs = this.#retryAfterMs;
    this.#handlers.close(close);
  }
}

/** One server frame from one line of a message; undefined (skipped) when it is not one. */
export function parseFrame(line: string): ServerFrame | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string') return value as ServerFrame;
  } catch {
    // A line that is not JSON is skipped: the server never sends one, and it must not kill the client.
  }
  return undefined;
}
