import type { Platform, StorageLike, WebSocketLike } from './platform';
import { LOCAL_CLOSE, SUBPROTOCOL, type TransportClose, type TransportKind } from './transport';

export interface FallbackOptions {
  /** WebSocket failures in a row (could not open, or died right after opening) before trying SSE. Default 2. */
  afterFailures?: number;
  /** A WebSocket that ends abnormally this soon after opening counts as a failure. Default 5 000 ms. */
  quickDeathMs?: number;
  /** How long SSE, once it worked where WebSocket did not, is used for the origin before WebSocket is probed again. Default 5 min. */
  rememberMs?: number;
}

export const fallbackDefaults: Required<FallbackOptions> = { afterFailures: 2, quickDeathMs: 5_000, rememberMs: 5 * 60_000 };

/**
 * Which transport the next connection attempt uses. WebSocket first; after `afterFailures`
 * WebSocket failures in a row (no open, or an abnormal close within `quickDeathMs` of opening —
 * a proxy that accepts the upgrade and then kills it), SSE is tried. Only if SSE then opens is
 * the choice remembered for the origin (in storage, so other tabs and later visits skip the
 * failing WebSocket); if SSE fails too, the server was probably just unreachable and WebSocket
 * is tried again. After `rememberMs` the client probes WebSocket and moves back when it holds.
 */
export class TransportChoice {
  readonly #options: Required<FallbackOptions>;
  readonly #sseAvailable: boolean;
  readonly #storage: StorageLike | undefined;
  readonly #key: string;
  readonly #clock: () => number;
  #failures = 0;
  /** Until when SSE is the origin's transport (0: not chosen). */
  #sseUntil = 0;
  /** SSE is being tried after WebSocket failures, not yet proven. */
  #trying = false;

  readonly #webSocketAvailable: boolean;

  constructor(options: { fallback: FallbackOptions; transports: readonly TransportKind[]; sseAvailable: boolean; storage: StorageLike | undefined; origin: string; clock: () => number }) {
    this.#options = { ...fallbackDefaults, ...options.fallback };
    this.#sseAvailable = options.sseAvailable && options.transports.includes('sse');
    this.#webSocketAvailable = options.transports.includes('websocket') || !this.#sseAvailable;
    this.#storage = options.storage;
    this.#key = `tandem.transport:${options.origin}`;
    this.#clock = options.clock;
    this.#sseUntil = this.#load();
  }

  /** The transport for the next attempt. */
  next(): TransportKind {
    if (!this.#sseAvailable) return 'websocket';
    if (!this.#webSocketAvailable || this.#trying || this.#sseUntil > this.#clock()) return 'sse';
    return 'websocket';
  }

  /** Until when SSE is remembered for this origin (0 when it is not). */
  get sseUntil(): number {
    return this.#sseUntil > this.#clock() ? this.#sseUntil : 0;
  }

  /** A transport opened (authenticated and subscribed is the caller's business). */
  opened(kind: TransportKind): void {
    if (kind === 'sse' && this.#trying) {
      this.#trying = false;
      this.#remember(this.#clock() + this.#options.rememberMs);
    }
  }

  /** A transport closed; `openedAt` is when it opened (undefined if it never did). */
  closed(kind: TransportKind, close: TransportClose, openedAt: number | undefined): void {
    if (kind === 'sse') {
      // SSE could not open either: not a WebSocket problem. Start counting again.
      if (this.#trying && !close.opened) {
        this.#trying = false;
        this.#failures = 0;
      }
      return;
    }
    const abnormal = close.code === LOCAL_CLOSE || close.code === 1005 || close.code === 1002 || close.code === 1015;
    const quickDeath = openedAt !== undefined && this.#clock() - openedAt < this.#options.quickDeathMs;
    // A refusal the server explained (Retry-After) is the server speaking, not a broken path.
    if (abnormal && close.retryAfterMs === undefined && (!close.opened || quickDeath)) {
      this.#failures += 1;
      if (this.#failures >= this.#options.afterFailures && this.#sseAvailable) {
        this.#failures = 0;
        this.#trying = true;
      }
    } else if (close.opened && !quickDeath) {
      this.#failures = 0;
    }
  }

  /** A WebSocket probe held: use WebSocket from now on. */
  probeSucceeded(): void {
    this.#remember(0);
  }

  /** A WebSocket probe failed: keep SSE for another period. */
  probeFailed(): void {
    this.#remember(this.#clock() + this.#options.rememberMs);
  }

  get quickDeathMs(): number {
    return this.#options.quickDeathMs;
  }

  #remember(until: number): void {
    this.#sseUntil = until;
    try {
      if (until === 0) this.#storage?.removeItem(this.#key);
      else this.#storage?.setItem(this.#key, String(until));
    } catch {
      // Storage full or forbidden: the choice holds for this client only.
    }
  }

  #load(): number {
    try {
      const value = Number(this.#storage?.getItem(this.#key) ?? 0);
      return Number.isFinite(value) && value > this.#clock() ? value : 0;
    } catch {
      return 0;
    }
  }
}

/**
 * Opens a throwaway WebSocket and checks that it opens, answers a ping and stays up for `holdMs`
 * (a proxy that kills upgraded connections does so within seconds). Sends no token.
 */
export function probeWebSocket(platform: Pick<Platform, 'WebSocket' | 'timers'>, url: string, holdMs: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let answered = false;
    let socket: WebSocketLike;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      platform.timers.clearTimeout(timer);
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = null;
      try {
        socket.close(1000, 'probe');
      } catch {
        // Closing a socket that is still connecting may throw; it is dropped either way.
      }
      resolve(ok);
    };
    let timer = platform.timers.setTimeout(() => finish(false), timeoutMs);
    try {
      socket = new platform.WebSocket(url, SUBPROTOCOL);
    } catch {
      platform.timers.clearTimeout(timer);
      return resolve(false);
    }
    socket.onerror = () => {};
    socket.onopen = () => {
      socket.send(JSON.stringify({ t: 'ping', id: 1 }));
      platform.timers.clearTimeout(timer);
      timer = platform.timers.setTimeout(() => finish(answered), holdMs);
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (typeof event.data === 'string' && event.data.includes('"pong"')) answered = true;
    };
    socket.onclose = () => finish(false);
  });
}

/** The SSE endpoint next to a WebSocket URL: `ws(s)://host/realtime` → `http(s)://host/realtime/sse`. */
export function sseUrlFor(webSocketUrl: string): string {
  const url = new URL(webSocketUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = `${url.pathname.replace(/\/$/, '')}/sse`;
  url.search = '';
  return url.toString();
}
