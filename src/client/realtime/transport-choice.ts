import { CloseCode } from '../../protocol/close-codes';
import { SUBPROTOCOL } from '../../protocol/wire';
import type { Platform, StorageLike, WebSocketLike } from './platform';
import type { TransportClose, TransportKind } from './transport';

export interface FallbackOptions {
  /** WebSocket failures in a row (could not open, or died right after opening) before trying SSE. Default 2. */
  afterFailures?: number;
  /** A WebSocket that ends abnormally this soon after opening counts as a failure. Default 5 000 ms. */
  quickDeathMs?: number;
  /** How long SSE, once it worked where WebSocket did not, is used for the origin before WebSocket is probed again. Default 5 min. */
  rememberMs?: number;
}

const fallbackDefaults: Required<FallbackOptions> = { afterFailures: 2, quickDeathMs: 5_000, rememberMs: 5 * 60_000 };

/**
 * Which transport the next connection attempt uses. WebSocket first; after `afterFailures`
 * WebSocket path failures in a row (no open, a death without a close frame within
 * `quickDeathMs` of opening, silence — a proxy that accepts the upgrade and then kills it),
 * SSE is tried. If SSE opens, WebSocket is probed at once (after a short jittered pause): a
 * server that was merely restarting passes the probe and the client moves straight back, so
 * nothing is remembered. Only a failed probe makes SSE the origin's choice, kept in storage
 * (other tabs and later visits skip the failing WebSocket) for about `rememberMs` (jittered, so
 * clients do not all probe at once); then WebSocket is probed again. If SSE fails to open too,
 * the server was unreachable: WebSocket is tried again and the count starts over.
 */
export class TransportChoice {
  readonly #options: Required<FallbackOptions>;
  readonly #sseAvailable: boolean;
  readonly #storage: StorageLike | undefined;
  readonly #key: string;
  readonly #clock: () => number;
  readonly #random: () => number;
  #failures = 0;
  /** Until when SSE is the origin's transport (0: not chosen). */
  #sseUntil = 0;
  /** SSE is being tried after WebSocket failures, not yet proven. */
  #trying = false;
  /** SSE opened after WebSocket failures; a probe decides whether to keep it. */
  #provisional = false;
  readonly #webSocketAvailable: boolean;

  constructor(options: { fallback: FallbackOptions; transports: readonly TransportKind[]; sseAvailable: boolean; storage: StorageLike | undefined; origin: string; clock: () => number; random?: () => number }) {
    this.#options = { ...fallbackDefaults, ...options.fallback };
    this.#sseAvailable = options.sseAvailable && options.transports.includes('sse');
    this.#webSocketAvailable = options.transports.includes('websocket') || !this.#sseAvailable;
    this.#storage = options.storage;
    this.#key = `tandem.transport:${options.origin}`;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#sseUntil = this.#load();
  }

  /** The transport for the next attempt. */
  next(): TransportKind {
    if (!this.#sseAvailable) return 'websocket';
    if (!this.#webSocketAvailable || this.#trying || this.#provisional || this.#sseUntil > this.#clock()) return 'sse';
    return 'websocket';
  }

  /** When to probe WebSocket from an SSE connection (ms from now), or undefined: no probe (SSE only, or not on SSE). */
  probeDelay(): number | undefined {
    if (!this.#webSocketAvailable || !this.#sseAvailable) return undefined;
    if (this.#provisional) return 1_000 + Math.floor(this.#random() * 2_000);
    const until = this.sseUntil;
    return until === 0 ? undefined : Math.max(0, until - this.#clock());
  }

  /** Until when SSE is remembered for this origin (0 when it is not). */
  get sseUntil(): number {
    return this.#sseUntil > this.#clock() ? this.#sseUntil : 0;
  }

  /** A transport opened. */
  opened(kind: TransportKind): void {
    if (kind === 'sse' && this.#trying) {
      this.#trying = false;
      this.#provisional = true;
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
    const quickDeath = openedAt !== undefined && this.#clock() - openedAt < this.#options.quickDeathMs;
    // A refusal the server explained (Retry-After) is the server speaking, not a broken path.
    if (close.pathFailure === true && close.retryAfterMs === undefined && (!close.opened || quickDeath || close.reason === 'heartbeat_timeout')) {
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
    this.#provisional = false;
    this.#remember(0);
  }

  /** A WebSocket probe failed: SSE for another (jittered) period. */
  probeFailed(): void {
    this.#provisional = false;
    this.#remember(this.#clock() + Math.floor(this.#options.rememberMs * (0.8 + 0.4 * this.#random())));
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
        socket.close(CloseCode.normal, 'probe');
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
    // A close frame from the server (an auth timeout, say) proves the path carries WebSocket
    // frames both ways; an abnormal close is what a killing proxy looks like.
    socket.onclose = (event: { code: number }) => finish(answered && event.code !== CloseCode.abnormal);
  });
}

/** The host a transport choice is remembered for (the URL itself when it does not parse). */
export function originOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The SSE endpoint next to a WebSocket URL: `ws(s)://host/realtime` → `http(s)://host/realtime/sse`. */
export function sseUrlFor(webSocketUrl: string): string {
  const url = new URL(webSocketUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = `${url.pathname.replace(/\/$/, '')}/sse`;
  url.search = '';
  return url.toString();
}
