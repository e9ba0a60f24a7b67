import { TandemClientError } from './errors';

/** An access token and when it stops working (ms since the epoch, the server's clock). */
export interface AccessToken {
  accessToken: string;
  expiresAt: number;
}

/** Gets a new access token (POST /api/auth/refresh for the RestClient). */
export type Refresher = () => Promise<AccessToken>;

export type TokenListener = (token: AccessToken | undefined) => void;

export interface TokenStoreOptions {
  /** How new tokens are obtained; the RestClient installs one when none is given. */
  refresh?: Refresher;
  /** A token to start with. */
  initial?: AccessToken;
  /** Default Date.now. */
  now?: () => number;
  /** A token this close to its expiry is refreshed before use. Default 5 000 ms. */
  marginMs?: number;
  /**
   * Runs every refresh inside a lock shared with other holders of the same refresh token. In a
   * browser every tab sends the same httpOnly refresh cookie, and two tabs refreshing at once
   * would present it twice (reuse detection then revokes the session); pass
   * `(run) => navigator.locks.request('tandem-refresh', run)` so the second tab's refresh goes
   * after the first and carries the rotated cookie. Default: none (single-flight in this store only).
   */
  refreshLock?: <T>(run: () => Promise<T>) => Promise<T>;
}

interface Flight {
  generation: number;
  promise: Promise<AccessToken>;
}

/**
 * The access token REST and realtime share. Refreshes are single-flight (concurrent callers wait
 * on one request: refresh tokens are single use, and a second concurrent refresh would present
 * a used one and revoke the session) and carry the generation they started in: a refresh that
 * resolves after the token was replaced or cleared is dropped, so a stale token never comes back.
 *
 * @example
 * const tokens = new TokenStore({ refresh: () => myRefresh() });
 * tokens.onChange((t) => socket.refreshWith(t));
 * const bearer = await tokens.getFresh();
 */
export class TokenStore {
  #token: AccessToken | undefined;
  #generation = 0;
  #flight: Flight | undefined;
  #refresh: Refresher | undefined;
  readonly #now: () => number;
  readonly #marginMs: number;
  readonly #refreshLock: (<T>(run: () => Promise<T>) => Promise<T>) | undefined;
  readonly #listeners = new Set<{ listener: TokenListener }>();

  constructor(options: TokenStoreOptions = {}) {
    this.#token = options.initial;
    this.#refresh = options.refresh;
    this.#now = options.now ?? Date.now;
    this.#marginMs = options.marginMs ?? 5_000;
    this.#refreshLock = options.refreshLock;
  }

  /** The token held now, fresh or not; no refresh. */
  get current(): AccessToken | undefined {
    return this.#token;
  }

  /** Bumped by every change of token (set, clear, an applied refresh). */
  get generation(): number {
    return this.#generation;
  }

  /** Whether a refresher is installed. */
  get canRefresh(): boolean {
    return this.#refresh !== undefined;
  }

  /** Installs how tokens are refreshed (replacing any earlier one). */
  setRefresher(refresh: Refresher): void {
    this.#refresh = refresh;
  }

  /** Stores a token obtained elsewhere (login, register); an older refresh in flight is then ignored. */
  set(token: AccessToken): void {
    this.#apply(token);
  }

  /** Forgets the token (logout); refreshes in flight are ignored. */
  clear(): void {
    this.#apply(undefined);
  }

  /**
   * A token that is not about to expire: the held one, or a refreshed one. Undefined when there
   * is none and no way to refresh (anonymous use). Rejects with the refresher's error.
   */
  async getFresh(): Promise<string | undefined> {
    const token = this.#token;
    if (token !== undefined && this.#now() < token.expiresAt - this.#marginMs) return token.accessToken;
    if (this.#refresh === undefined) return token?.accessToken;
    return (await this.#single()).accessToken;
  }

  /**
   * After the server refused `rejected` (401 token_expired / token_invalid): a newer token if
   * one has arrived meanwhile, otherwise a refreshed one. Many requests failing together with
   * the same token cause one refresh.
   */
  async refreshAfterRejection(rejected: string | undefined): Promise<string> {
    const token = this.#token;
    // A newer token only if it is also fresh: after a sleep, an old "newer" token is just as dead.
    if (token !== undefined && token.accessToken !== rejected && this.#now() < token.expiresAt - this.#marginMs) return token.accessToken;
    return (await this.#single()).accessToken;
  }

  /** Refreshes now (joining a refresh already in flight). */
  async refresh(): Promise<AccessToken> {
    return this.#single();
  }

  /** Calls `listener` with each new token (undefined on clear); returns the unsubscribe function. */
  onChange(listener: TokenListener): () => void {
    // Wrapped, so the same function can be added twice and each registration removed on its own.
    const entry = { listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  #single(): Promise<AccessToken> {
    const refresh = this.#refresh;
    if (refresh === undefined) return Promise.reject(new TandemClientError('signed_out', 'No token, and no way to refresh one'));
    if (this.#flight !== undefined && this.#flight.generation === this.#generation) return this.#flight.promise;
    // Registered before the refresher runs, so even one that throws synchronously clears it.
    const flight: Flight = { generation: this.#generation, promise: Promise.resolve(undefined as never) };
    this.#flight = flight;
    flight.promise = this.#run(refresh, flight);
    return flight.promise;
  }

  async #run(refresh: Refresher, flight: Flight): Promise<AccessToken> {
    try {
      const lock = this.#refreshLock;
      const token = lock === undefined ? await refresh() : await lock(refresh);
      if (this.#generation !== flight.generation) return await this.#afterStale(flight);
      this.#apply(token);
      return token;
    } finally {
      if (this.#flight === flight) this.#flight = undefined;
    }
  }

  /** A refresh finished after the token changed: answer with what replaced it. */
  #afterStale(stale: Flight): Promise<AccessToken> {
    // A newer refresh is on its way: its answer, not the token it will replace.
    if (this.#flight !== undefined && this.#flight !== stale) return this.#flight.promise;
    const token = this.#token;
    if (token !== undefined) return Promise.resolve(token);
    return Promise.reject(new TandemClientError('signed_out', 'The token was cleared while it was being refreshed'));
  }

  #apply(token: AccessToken | undefined): void {
    this.#token = token;
    this.#generation += 1;
    for (const { listener } of [...this.#listeners]) listener(token);
  }
}
