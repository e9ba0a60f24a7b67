import type { StreamPosition } from '../protocol/frames';
import { Backoff, type BackoffOptions } from './backoff';
import { EtagCache, headersToKeep, isCacheable, type CachedResponse } from './etag-cache';
import { errorFromResponse, TandemClientError } from './errors';
import type { TokenStore } from './token-store';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 4. */
  maxAttempts?: number;
  /** The schedule between attempts (a Retry-After from the server overrides it). */
  backoff?: BackoffOptions;
  /** A Retry-After longer than this is not waited for; the error is thrown. Default 60 000 ms. */
  maxRetryAfterMs?: number;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HttpOptions {
  baseUrl: string;
  tokens: TokenStore;
  cache: EtagCache;
  fetch?: typeof fetch;
  credentials?: RequestCredentials;
  retry?: RetryOptions;
  /** Per attempt. Default 30 000 ms. */
  timeoutMs?: number;
  timers?: Timers;
  /** How retries wait; defaults to a timer. Tests inject one to observe the delays. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
  /** Makes Idempotency-Keys. Default globalThis.crypto.randomUUID. */
  idempotencyKey?: () => string;
  /** Called when the server refuses a bearer request for good (after the one refresh). */
  onAuthFailure?: (error: TandemClientError) => void;
}

/** 'bearer': a fresh token, refreshed once on 401. 'current': the held token as is. 'none': no token. */
export type AuthMode = 'bearer' | 'current' | 'none';

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** From the base URL, e.g. '/api/posts'. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A body sent as it is, not as JSON (an image upload); `body` must be absent. */
  rawBody?: { bytes: Blob | ArrayBuffer | Uint8Array<ArrayBuffer>; contentType: string };
  auth?: AuthMode;
  /** A creating POST: it gets an Idempotency-Key (this one, or a new one) kept across retries. */
  create?: boolean;
  idempotencyKey?: string;
  /** Whether a retry is safe without a key. Default: GET, PUT and DELETE (idempotent by HTTP's definition). */
  idempotent?: boolean;
  ifMatch?: string;
  /** More request headers (e.g. `Tandem-Session: cookie` on the account routes). */
  headers?: Record<string, string>;
  /** fetch's keepalive: the request outlives the page that sent it (small bodies only, 64 KiB in all). */
  keepalive?: boolean;
  signal?: AbortSignal;
}

/** Where an answer was read in its realtime channel (`Tandem-Channel`, `Tandem-Epoch`, `Tandem-Position`). */
export interface ChannelRead {
  /** The channel whose changes follow this answer, e.g. 'feed'; undefined when the route has none. */
  channel: string | undefined;
  /** The channel's position when the answer was read: subscribe `since` it to miss nothing. */
  position: StreamPosition | undefined;
}

export interface ApiResponse<T> extends ChannelRead {
  status: number;
  body: T;
  headers: Headers;
  etag: string | undefined;
  /** The server answered 304 and `body` is the kept copy. */
  notModified: boolean;
}

const REFRESHABLE = new Set(['token_expired', 'token_invalid']);

function defaultTimers(): Timers {
  return { setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms), clearTimeout: (handle) => globalThis.clearTimeout(handle as never) };
}

/**
 * A random UUID v4 for Idempotency-Key. randomUUID exists only in secure contexts (https,
 * localhost) and recent browsers; getRandomValues is everywhere, so it is the fallback.
 */
function defaultKey(): string {
  const webCrypto = globalThis.crypto;
  if (typeof webCrypto.randomUUID === 'function') return webCrypto.randomUUID();
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The user a bearer token speaks for (its `sub`), so cached private answers never cross users. */
function identityOf(token: string | undefined): string {
  if (token === undefined) return 'anonymous';
  const payload = token.split('.')[1];
  try {
    const json = JSON.parse(globalThis.atob((payload ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    if (typeof json.sub === 'string' || typeof json.sub === 'number') return `user:${json.sub}`;
  } catch {
    // Not a JWT we can read: the token itself is the identity.
  }
  return `token:${token}`;
}

function parseBody(status: number, text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TandemClientError('invalid_response', `The ${status} answer is not JSON`, { status, cause });
  }
}

/** The channel (Tandem-Channel) and its position `{e, o}` (Tandem-Epoch, Tandem-Position: both, or none). */
function channelReadOf(get: (name: string) => string | null | undefined): ChannelRead {
  const channel = get('tandem-channel') ?? undefined;
  const epoch = get('tandem-epoch');
  const offset = Number(get('tandem-position') ?? Number.NaN);
  const position = epoch == null || epoch === '' || !Number.isSafeInteger(offset) || offset < 0 ? undefined : { e: epoch, o: offset };
  return { channel, position };
}

/**
 * One REST exchange with everything around it: the token, the ETag cache, the Idempotency-Key,
 * retries on network errors, timeouts, 429, 502, 503 and 504 (idempotent requests only), the one refresh
 * on 401, and problems turned into TandemClientError.
 */
export class HttpEngine {
  readonly #options: HttpOptions;
  readonly #fetch: typeof fetch;
  readonly #timers: Timers;
  readonly #now: () => number;

  constructor(options: HttpOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#timers = options.timers ?? defaultTimers();
    this.#now = options.now ?? Date.now;
  }

  async send<T>(spec: RequestSpec): Promise<ApiResponse<T>> {
    const key = spec.create ? (spec.idempotencyKey ?? (this.#options.idempotencyKey ?? defaultKey)()) : undefined;
    const retryable = spec.idempotent ?? (spec.method === 'GET' || spec.method === 'PUT' || spec.method === 'DELETE' || key !== undefined);
    const maxAttempts = retryable ? Math.max(1, this.#options.retry?.maxAttempts ?? 4) : 1;
    const backoff = new Backoff({ ...this.#options.retry?.backoff, random: this.#options.retry?.backoff?.random ?? this.#options.random });
    let refreshed = false;
    for (let attempt = 1; ; attempt += 1) {
      const token = await this.#tokenFor(spec.auth ?? 'bearer');
      let error: TandemClientError;
      try {
        const result = await this.#exchange<T>(spec, token, key);
        if (!(result instanceof TandemClientError)) return result;
        error = result;
      } catch (thrown) {
        if (!(thrown instanceof TandemClientError) || thrown.code === 'aborted') throw thrown;
        error = thrown;
      }
      if (error.status === 401 && (spec.auth ?? 'bearer') === 'bearer') {
        if (!refreshed && REFRESHABLE.has(error.code)) {
          refreshed = true;
          await this.#options.tokens.refreshAfterRejection(token);
          continue;
        }
        this.#options.onAuthFailure?.(error);
        throw error;
      }
      const delay = this.#retryDelay(error, key !== undefined, backoff);
      if (delay === undefined || attempt >= maxAttempts) throw error;
      await this.#sleep(delay, spec.signal);
    }
  }

  /** How long to wait before retrying after `error`, or undefined when it must not be retried. */
  #retryDelay(error: TandemClientError, keyed: boolean, backoff: Backoff): number | undefined {
    // 502 and 504: a load balancer whose upstream died or did not answer (a node restarting).
    const transient = error.status === undefined
      || error.status === 429
      || error.status === 502
      || error.status === 503
      || error.status === 504
      || (keyed && error.code === 'idempotency_in_progress');
    if (!transient || error.code === 'login_rate_limited') return undefined;
    if (error.retryAfterMs === undefined) return backoff.next();
    backoff.next();
    return error.retryAfterMs <= (this.#options.retry?.maxRetryAfterMs ?? 60_000) ? error.retryAfterMs : undefined;
  }

  async #tokenFor(mode: AuthMode): Promise<string | undefined> {
    if (mode === 'none') return undefined;
    if (mode === 'current') return this.#options.tokens.current?.accessToken;
    return this.#options.tokens.getFresh();
  }

  /** One attempt: the answer (or its error), or a thrown network/timeout/abort error. */
  async #exchange<T>(spec: RequestSpec, token: string | undefined, key: string | undefined): Promise<ApiResponse<T> | TandemClientError> {
    const url = this.#url(spec);
    const cacheKey = spec.method === 'GET' ? EtagCache.keyOf(url, identityOf(token)) : undefined;
    const cached = cacheKey === undefined ? undefined : this.#options.cache.get(cacheKey);
    const headers: Record<string, string> = { ...spec.headers, accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (key !== undefined) headers['idempotency-key'] = key;
    if (spec.ifMatch !== undefined) headers['if-match'] = spec.ifMatch;
    if (cached !== undefined) headers['if-none-match'] = cached.etag;
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (spec.rawBody !== undefined) headers['content-type'] = spec.rawBody.contentType;
    const init: RequestInit = { method: spec.method, headers, body: spec.rawBody?.bytes ?? (spec.body === undefined ? undefined : JSON.stringify(spec.body)) };
    if (this.#options.credentials !== undefined) init.credentials = this.#options.credentials;
    if (spec.keepalive) init.keepalive = true;
    const { response, text } = await this.#fetchWithTimeout(url, init, spec.signal);
    if (response.status === 304 && cached !== undefined) return this.#fromCache<T>(response, cached);
    if (!response.ok) return errorFromResponse(response.status, response.headers, text, this.#now());
    const body = parseBody(response.status, text);
    if (cacheKey !== undefined && isCacheable(response.headers)) {
      this.#options.cache.set(cacheKey, { etag: response.headers.get('etag')!, body, headers: headersToKeep(response.headers) });
    }
    const etag = response.headers.get('etag') ?? undefined;
    return { status: response.status, body: body as T, headers: response.headers, etag, ...channelReadOf((n) => response.headers.get(n)), notModified: false };
  }

  #fromCache<T>(response: Response, cached: CachedResponse): ApiResponse<T> {
    // A 304 carries the current position (the server sends it on both); the kept one is the fallback.
    const header = (name: string) => response.headers.get(name) ?? cached.headers[name];
    return { status: 304, body: cached.body as T, headers: response.headers, etag: cached.etag, ...channelReadOf(header), notModified: true };
  }

  #url(spec: RequestSpec): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) if (value !== undefined) params.set(name, String(value));
    const search = params.toString();
    return `${this.#options.baseUrl.replace(/\/+$/, '')}${spec.path}${search === '' ? '' : `?${search}`}`;
  }

  async #fetchWithTimeout(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<{ response: Response; text: string }> {
    if (signal?.aborted) throw new TandemClientError('aborted', 'The request was aborted', { cause: signal.reason });
    const controller = new AbortController();
    let timedOut = false;
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const timer = this.#timers.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const forward = () => controller.abort();
    signal?.addEventListener('abort', forward, { once: true });
    try {
      // The body is read inside the timeout too: a server that stalls mid-body is a timeout.
      const response = await this.#fetch(url, { ...init, signal: controller.signal });
      return { response, text: await response.text() };
    } catch (cause) {
      if (signal?.aborted) throw new TandemClientError('aborted', 'The request was aborted', { cause });
      if (timedOut) throw new TandemClientError('timeout', `No answer within ${timeoutMs} ms`, { cause });
      throw new TandemClientError('network_error', `The request failed: ${String((cause as Error)?.message ?? cause)}`, { cause });
    } finally {
      this.#timers.clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    }
  }

  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#options.sleep !== undefined) return this.#options.sleep(ms, signal);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new TandemClientError('aborted', 'The request was aborted'));
      const timer = this.#timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#timers.clearTimeout(timer);
        reject(new TandemClientError('aborted', 'The request was aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
