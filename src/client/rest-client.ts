import { EtagCache } from './etag-cache';
import { TandemClientError } from './errors';
import { HttpEngine, type ApiResponse, type AuthMode, type ChannelRead, type RequestSpec, type RetryOptions, type Timers } from './http';
import { TokenStore, type AccessToken } from './token-store';

/** What register, login and refresh answer; `U` is the app's user representation. */
export interface Session<U = unknown> {
  accessToken: string;
  tokenType: string;
  /** Seconds until the access token expires (the client times it with its own clock). */
  expiresIn: number;
  /** The access token's expiry, ms since the epoch, on the server's clock. */
  expiresAt: number;
  /** Single use; also set as the httpOnly refresh cookie. */
  refreshToken: string;
  refreshExpiresAt: number;
  user: U;
}

/**
 * A page of a list, and where it was read in its realtime channel (the snapshot handoff):
 * `realtime.subscribe(list.channel, handler, { since: list.position })` gets exactly the changes
 * after this page.
 */
export interface ListResult<T> extends ChannelRead {
  items: T[];
  nextCursor: string | null;
}

export interface PageOptions {
  cursor?: string;
  /** 1-100; the server's default is 20. */
  limit?: number;
  signal?: AbortSignal;
}
export interface ListOptions {
  /** Default 'bearer'; 'none' for public lists (no token, no refresh). */
  auth?: AuthMode;
  /** More query parameters (filters), next to `cursor` and `limit`. */
  query?: Record<string, string | number | undefined>;
}
export interface CallOptions {
  signal?: AbortSignal;
  /** fetch's keepalive: the request outlives the page (a delete sent as the tab closes). */
  keepalive?: boolean;
}
export interface CreateOptions extends CallOptions {
  /** Defaults to a new UUID per call, kept across that call's retries. */
  idempotencyKey?: string;
}
export interface WriteOptions extends CallOptions {
  /** The ETag last seen: a stale one fails with precondition_failed and changes nothing. */
  ifMatch?: string;
}

/** What `register` sends: the credentials, and whatever else the app's account route takes. */
export interface RegisterInput {
  username: string;
  password: string;
  [field: string]: unknown;
}

export interface RestClientOptions<U = unknown> {
  /** Where the API is, e.g. 'https://tandem.example' (paths are from there, e.g. '/api/posts'). */
  baseUrl: string;
  /** Where the account routes are: `${authPath}/register|login|refresh|logout`. Default '/api/auth'. */
  authPath?: string;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** 'include' in browsers on another origin, so the httpOnly refresh cookie is sent. */
  credentials?: RequestCredentials;
  /** Share one with the RealtimeClient; by default a new one. */
  tokens?: TokenStore;
  /** A refresh token to start with (e.g. one a Node service persisted). */
  refreshToken?: string;
  /**
   * Keep the refresh token in memory and send it in the refresh body. Default: true unless
   * credentials is 'include' (then the httpOnly cookie carries it and scripts never see it).
   */
  refreshTokenInBody?: boolean;
  retry?: RetryOptions;
  /** Per attempt. Default 30 000 ms. */
  timeoutMs?: number;
  /** Most GET answers kept for revalidation. Default 200. */
  cacheEntries?: number;
  timers?: Timers;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
  idempotencyKey?: () => string;
  /** Each new session (login, register, refresh), e.g. to persist its refresh token. */
  onSession?: (session: Session<U>) => void;
  /** The session is over (refresh refused, or a request refused after the one refresh): sign in again. */
  onAuthFailure?: (error: TandemClientError) => void;
}

const REFRESH_REFUSED = new Set(['refresh_token_invalid', 'refresh_token_reused', 'session_revoked']);

/**
 * The HTTP core for any Tandem API: tokens attached and refreshed once, single-flight, on 401;
 * GETs revalidated with ETags; creating POSTs carry an Idempotency-Key so their retries are
 * safe; network errors, 429, 502, 503 and 504 retried with backoff (Retry-After honoured). Failures are
 * TandemClientError with the problem's `code`. An app's typed client extends it with one-line
 * methods over `request` and `list` (the social app's is `SocialClient`, src/apps/social/client.ts).
 *
 * @example
 * const api = new RestClient<{ id: number; username: string }>({ baseUrl: 'http://localhost:3000' });
 * await api.login({ username: 'alice', password: 'tandem-demo' });
 * const feed = await api.list<{ id: number }>('/api/posts', { limit: 20 }, { auth: 'none' });
 * realtime.subscribe(feed.channel!, onChange, { since: feed.position });
 */
export class RestClient<U = unknown> {
  readonly tokens: TokenStore;
  readonly #http: HttpEngine;
  readonly #cache: EtagCache;
  readonly #options: RestClientOptions<U>;
  readonly #now: () => number;
  readonly #authPath: string;
  #refreshToken: string | undefined;

  constructor(options: RestClientOptions<U>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#authPath = (options.authPath ?? '/api/auth').replace(/\/+$/, '');
    this.tokens = options.tokens ?? new TokenStore({ now: this.#now });
    if (!this.tokens.canRefresh) this.tokens.setRefresher(() => this.#refreshSession());
    this.#refreshToken = options.refreshToken;
    this.#cache = new EtagCache({ maxEntries: options.cacheEntries ?? 200 });
    this.#http = new HttpEngine({ ...options, tokens: this.tokens, cache: this.#cache });
  }

  /**
   * Any request, with its status, headers, ETag, channel and position. `auth` defaults to
   * 'bearer'; `create: true` adds an Idempotency-Key kept across retries.
   *
   * @example
   * const { body, etag } = await api.request<Post>({ method: 'GET', path: '/api/posts/7', auth: 'none' });
   */
  request<T>(spec: RequestSpec): Promise<ApiResponse<T>> {
    return this.#http.send<T>(spec);
  }

  /**
   * One page of a paged list (`{ items, nextCursor }` bodies), with the channel and position it
   * was read at. `X` types members the list has besides those (e.g. `unreadCount`).
   *
   * @example
   * const page = await api.list<Post>('/api/posts', { limit: 20 }, { auth: 'none' });
   * const next = page.nextCursor === null ? undefined : await api.list<Post>('/api/posts', { cursor: page.nextCursor }, { auth: 'none' });
   */
  async list<T, X extends object = object>(path: string, page: PageOptions = {}, options: ListOptions = {}): Promise<ListResult<T> & X> {
    const { cursor, limit, signal } = page;
    const spec: RequestSpec = { method: 'GET', path, query: { ...options.query, cursor, limit }, auth: options.auth ?? 'bearer', signal };
    const response = await this.#http.send<{ items: T[]; nextCursor: string | null } & X>(spec);
    return { ...response.body, channel: response.channel, position: response.position };
  }

  // --- the account ------------------------------------------------------------------------

  /** Creates an account and signs in with it (`POST ${authPath}/register`). */
  async register(input: RegisterInput, options: CallOptions = {}): Promise<Session<U>> {
    const session = await this.#body<Session<U>>({ method: 'POST', path: `${this.#authPath}/register`, body: input, auth: 'none', headers: this.#sessionHeaders(), ...options });
    this.tokens.set(this.#keep(session));
    return session;
  }

  /** Signs in (`POST ${authPath}/login`); the tokens go to `tokens`, shared with the RealtimeClient. */
  async login(input: { username: string; password: string }, options: CallOptions = {}): Promise<Session<U>> {
    const session = await this.#body<Session<U>>({ method: 'POST', path: `${this.#authPath}/login`, body: input, auth: 'none', headers: this.#sessionHeaders(), ...options });
    this.tokens.set(this.#keep(session));
    return session;
  }

  /**
   * Changes the password (`POST ${authPath}/password`). Every other session of the account ends at
   * once (their sockets close with 4009); this one stays signed in. A wrong current password fails
   * with `current_password_wrong` (403) and counts as a failed login.
   */
  async changePassword(input: { currentPassword: string; newPassword: string }, options: CallOptions = {}): Promise<void> {
    await this.#body<void>({ method: 'POST', path: `${this.#authPath}/password`, body: input, ...options });
  }

  /** A new access token now (single-flight with any refresh already under way). */
  refresh(): Promise<AccessToken> {
    return this.tokens.refresh();
  }

  /** Ends the session on the server, then forgets the tokens and cached answers whatever it says. */
  async logout(options: CallOptions = {}): Promise<void> {
    try {
      const body = this.#refreshToken === undefined ? {} : { refreshToken: this.#refreshToken };
      await this.#body<void>({ method: 'POST', path: `${this.#authPath}/logout`, body, auth: 'current', ...options });
    } finally {
      this.#refreshToken = undefined;
      this.tokens.clear();
      this.#cache.clear();
    }
  }

  // --- internals ----------------------------------------------------------------------------

  async #body<T>(spec: RequestSpec): Promise<T> {
    return (await this.#http.send<T>(spec)).body;
  }

  /** Whether the refresh token lives in the httpOnly cookie (a browser app) rather than in this client. */
  get #cookieSession(): boolean {
    return !(this.#options.refreshTokenInBody ?? this.#options.credentials !== 'include');
  }

  /**
   * `Tandem-Session: cookie` on register, login and refresh of a cookie session: the server sets
   * the session cookies only when asked, so a sign-in elsewhere (the API docs page) never does.
   */
  #sessionHeaders(): Record<string, string> | undefined {
    return this.#cookieSession ? { 'tandem-session': 'cookie' } : undefined;
  }

  /** Keeps what a session answer brings and returns its access token, timed by our clock. */
  #keep(session: Session<U>): AccessToken {
    if (!this.#cookieSession) this.#refreshToken = session.refreshToken;
    this.#options.onSession?.(session);
    return this.#accessTokenOf(session);
  }

  /** expiresIn, not expiresAt: our clock may disagree with the server's. */
  #accessTokenOf(session: Session<U>): AccessToken {
    return { accessToken: session.accessToken, expiresAt: this.#now() + session.expiresIn * 1000 };
  }

  /** The TokenStore's refresher. Never retried: a refresh token works once, so a blind retry could revoke the session. */
  async #refreshSession(): Promise<AccessToken> {
    const inBody = this.#refreshToken !== undefined;
    if (!inBody && this.#options.credentials !== 'include') throw new TandemClientError('signed_out', 'No refresh token: sign in first');
    try {
      const body = inBody ? { refreshToken: this.#refreshToken } : {};
      const generation = this.tokens.generation;
      const session = await this.#body<Session<U>>({ method: 'POST', path: `${this.#authPath}/refresh`, body, auth: 'none', idempotent: false, headers: this.#sessionHeaders() });
      // A login, logout or account switch happened meanwhile: this old session must not replace
      // the current refresh token (nor reach onSession); the TokenStore drops its access token too.
      if (this.tokens.generation !== generation) return this.#accessTokenOf(session);
      return this.#keep(session);
    } catch (error) {
      if (error instanceof TandemClientError && REFRESH_REFUSED.has(error.code)) {
        this.#refreshToken = undefined;
        this.tokens.clear();
        this.#cache.clear();
        this.#options.onAuthFailure?.(error);
      }
      throw error;
    }
  }
}
