import type { Static } from 'typebox';
import type { Comment, Conversation, Message, Notification, Post, PublicUser, TokenResponse, UserRef } from '../apps/social/schemas';
import { EtagCache } from './etag-cache';
import { TandemClientError } from './errors';
import { HttpEngine, type ApiResponse, type ChannelPosition, type RequestSpec, type RetryOptions, type Timers } from './http';
import { TokenStore, type AccessToken } from './token-store';

/** What register, login and refresh answer. */
export type Session = Static<typeof TokenResponse>;

/** A page of a list, and where it was read in its realtime channel (the snapshot handoff). */
export interface ListResult<T> {
  items: T[];
  nextCursor: string | null;
  /** Subscribe `since` this position to get exactly the changes after this page. */
  position: ChannelPosition | undefined;
}

export interface PresenceSnapshot {
  users: UserRef[];
  count: number;
}

export interface PageOptions {
  cursor?: string;
  /** 1-100; the server's default is 20. */
  limit?: number;
  signal?: AbortSignal;
}
export interface CallOptions {
  signal?: AbortSignal;
}
export interface CreateOptions extends CallOptions {
  /** Defaults to a new UUID per call, kept across that call's retries. */
  idempotencyKey?: string;
}
export interface WriteOptions extends CallOptions {
  /** The ETag last seen: a stale one fails with precondition_failed and changes nothing. */
  ifMatch?: string;
}

export interface RestClientOptions {
  /** Where the API is, e.g. 'https://tandem.example' (paths start with /api). */
  baseUrl: string;
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
  onSession?: (session: Session) => void;
  /** The session is over (refresh refused, or a request refused after the one refresh): sign in again. */
  onAuthFailure?: (error: TandemClientError) => void;
}

const REFRESH_REFUSED = new Set(['refresh_token_invalid', 'refresh_token_reused', 'session_revoked']);

/**
 * Typed methods for the social REST API. Tokens are attached and refreshed once, single-flight,
 * on 401; GETs revalidate with ETags; creating POSTs carry an Idempotency-Key so their retries
 * are safe; network errors, 503 and 429 are retried with backoff (Retry-After honoured).
 * Failures are TandemClientError with the problem's `code`.
 *
 * @example
 * const api = new RestClient({ baseUrl: 'http://localhost:3000' });
 * await api.login({ username: 'alice', password: 'tandem-demo' });
 * const feed = await api.listPosts({ limit: 20 }); // feed.position → realtime subscribe since
 */
export class RestClient {
  readonly tokens: TokenStore;
  readonly #http: HttpEngine;
  readonly #cache: EtagCache;
  readonly #options: RestClientOptions;
  readonly #now: () => number;
  #refreshToken: string | undefined;

  constructor(options: RestClientOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.tokens = options.tokens ?? new TokenStore({ now: this.#now });
    if (!this.tokens.canRefresh) this.tokens.setRefresher(() => this.#refreshSession());
    this.#refreshToken = options.refreshToken;
    this.#cache = new EtagCache({ maxEntries: options.cacheEntries ?? 200 });
    this.#http = new HttpEngine({ ...options, tokens: this.tokens, cache: this.#cache });
  }

  /** Any request, with its status, headers, ETag and position (for what the typed methods hide). */
  request<T>(spec: RequestSpec): Promise<ApiResponse<T>> {
    return this.#http.send<T>(spec);
  }

  // --- auth -------------------------------------------------------------------------------

  async register(input: { username: string; password: string; displayName?: string }, options: CallOptions = {}): Promise<Session> {
    const session = await this.#body<Session>({ method: 'POST', path: '/api/auth/register', body: input, auth: 'none', ...options });
    this.tokens.set(this.#keep(session));
    return session;
  }

  async login(input: { username: string; password: string }, options: CallOptions = {}): Promise<Session> {
    const session = await this.#body<Session>({ method: 'POST', path: '/api/auth/login', body: input, auth: 'none', ...options });
    this.tokens.set(this.#keep(session));
    return session;
  }

  /** A new access token now (single-flight with any refresh already under way). */
  refresh(): Promise<AccessToken> {
    return this.tokens.refresh();
  }

  /** Ends the session on the server, then forgets the tokens and cached answers whatever it says. */
  async logout(options: CallOptions = {}): Promise<void> {
    try {
      const body = this.#refreshToken === undefined ? {} : { refreshToken: this.#refreshToken };
      await this.#body<void>({ method: 'POST', path: '/api/auth/logout', body, auth: 'current', ...options });
    } finally {
      this.#refreshToken = undefined;
      this.tokens.clear();
      this.#cache.clear();
    }
  }

  // --- users ------------------------------------------------------------------------------

  getUser(username: string, options: CallOptions = {}): Promise<PublicUser> {
    return this.#body({ method: 'GET', path: `/api/users/${encodeURIComponent(username)}`, auth: 'none', ...options });
  }

  me(options: CallOptions = {}): Promise<PublicUser> {
    return this.#body({ method: 'GET', path: '/api/me', ...options });
  }

  updateMe(changes: { displayName?: string; bio?: string }, options: WriteOptions = {}): Promise<PublicUser> {
    return this.#body({ method: 'PATCH', path: '/api/me', body: changes, ...options });
  }

  // --- posts and comments -------------------------------------------------------------------

  listPosts(page: PageOptions = {}): Promise<ListResult<Post>> {
    return this.#list('/api/posts', page, 'none');
  }

  getPost(id: number, options: CallOptions = {}): Promise<Post> {
    return this.#body({ method: 'GET', path: `/api/posts/${id}`, auth: 'none', ...options });
  }

  createPost(input: { body: string }, options: CreateOptions = {}): Promise<Post> {
    return this.#body({ method: 'POST', path: '/api/posts', body: input, create: true, ...options });
  }

  updatePost(id: number, changes: { body: string }, options: WriteOptions = {}): Promise<Post> {
    return this.#body({ method: 'PATCH', path: `/api/posts/${id}`, body: changes, ...options });
  }

  deletePost(id: number, options: WriteOptions = {}): Promise<void> {
    return this.#body({ method: 'DELETE', path: `/api/posts/${id}`, ...options });
  }

  listComments(postId: number, page: PageOptions = {}): Promise<ListResult<Comment>> {
    return this.#list(`/api/posts/${postId}/comments`, page, 'none');
  }

  createComment(postId: number, input: { body: string; parentId?: number | null }, options: CreateOptions = {}): Promise<Comment> {
    return this.#body({ method: 'POST', path: `/api/posts/${postId}/comments`, body: input, create: true, ...options });
  }

  deleteComment(id: number, options: WriteOptions = {}): Promise<void> {
    return this.#body({ method: 'DELETE', path: `/api/comments/${id}`, ...options });
  }

  // --- conversations ------------------------------------------------------------------------

  /** Opens a conversation with these usernames, or returns the one they already have. */
  openConversation(input: { members: string[] }, options: CreateOptions = {}): Promise<Conversation> {
    return this.#body({ method: 'POST', path: '/api/conversations', body: input, create: true, ...options });
  }

  listConversations(page: PageOptions = {}): Promise<ListResult<Conversation>> {
    return this.#list('/api/conversations', page, 'bearer');
  }

  /** One conversation you are in, with its members (`not_found` for others' conversations). */
  getConversation(id: number, options: CallOptions = {}): Promise<Conversation> {
    return this.#body({ method: 'GET', path: `/api/conversations/${id}`, ...options });
  }

  listMessages(conversationId: number, page: PageOptions = {}): Promise<ListResult<Message>> {
    return this.#list(`/api/conversations/${conversationId}/messages`, page, 'bearer');
  }

  sendMessage(conversationId: number, input: { body: string }, options: CreateOptions = {}): Promise<Message> {
    return this.#body({ method: 'POST', path: `/api/conversations/${conversationId}/messages`, body: input, create: true, ...options });
  }

  // --- notifications and presence -----------------------------------------------------------

  listNotifications(page: PageOptions = {}): Promise<ListResult<Notification> & { unreadCount: number }> {
    return this.#list('/api/notifications', page, 'bearer');
  }

  /** Marks the given notifications read, or all of them. Safe to retry: marking twice is marking once. */
  markNotificationsRead(ids?: number[], options: CallOptions = {}): Promise<{ read: number[]; unreadCount: number }> {
    return this.#body({ method: 'POST', path: '/api/notifications/read', body: ids === undefined ? {} : { ids }, idempotent: true, ...options });
  }

  online(options: CallOptions = {}): Promise<PresenceSnapshot> {
    return this.#body({ method: 'GET', path: '/api/online', ...options });
  }

  conversationPresence(conversationId: number, options: CallOptions = {}): Promise<PresenceSnapshot> {
    return this.#body({ method: 'GET', path: `/api/conversations/${conversationId}/presence`, ...options });
  }

  // --- internals ----------------------------------------------------------------------------

  async #body<T>(spec: RequestSpec): Promise<T> {
    return (await this.#http.send<T>(spec)).body;
  }

  async #list<T, X extends object = object>(path: string, page: PageOptions, auth: 'none' | 'bearer'): Promise<ListResult<T> & X> {
    const { cursor, limit, signal } = page;
    const response = await this.#http.send<{ items: T[]; nextCursor: string | null } & X>({ method: 'GET', path, query: { cursor, limit }, auth, signal });
    return { ...response.body, position: response.position };
  }

  /** Keeps what a session answer brings and returns its access token, timed by our clock. */
  #keep(session: Session): AccessToken {
    if (this.#options.refreshTokenInBody ?? this.#options.credentials !== 'include') this.#refreshToken = session.refreshToken;
    this.#options.onSession?.(session);
    return this.#accessTokenOf(session);
  }

  /** expiresIn, not expiresAt: our clock may disagree with the server's. */
  #accessTokenOf(session: Session): AccessToken {
    return { accessToken: session.accessToken, expiresAt: this.#now() + session.expiresIn * 1000 };
  }

  /** The TokenStore's refresher. Never retried: a refresh token works once, so a blind retry could revoke the session. */
  async #refreshSession(): Promise<AccessToken> {
    const inBody = this.#refreshToken !== undefined;
    if (!inBody && this.#options.credentials !== 'include') throw new TandemClientError('signed_out', 'No refresh token: sign in first');
    try {
      const body = inBody ? { refreshToken: this.#refreshToken } : {};
      const generation = this.tokens.generation;
      const session = await this.#body<Session>({ method: 'POST', path: '/api/auth/refresh', body, auth: 'none', idempotent: false });
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
