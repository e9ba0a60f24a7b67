import { TandemError } from '../errors';
import { KeyedRateLimiter } from '../limits/rate-limiter';

export interface LoginGuardOptions {
  /** Attempts one address may make per window, whatever the account. */
  attemptsPerIp: number;
  /** Failures of one account from one address before that address is locked out of it. */
  failuresPerAccount: number;
  windowSeconds: number;
  /** Bound on tracked (account, address) pairs; the least recently touched are forgotten first. */
  maxPairs?: number;
  clock?: () => number;
}

/** A refusal: how many seconds until the next attempt is allowed. */
export interface LoginRefusal {
  retryAfterSeconds: number;
}

/** One password check under way: report how it ended, exactly once (later reports are ignored). */
export interface LoginAttempt {
  failed(): void;
  succeeded(): void;
  /** It could not be checked (the store failed): it counts neither way. */
  abandoned(): void;
}

/** Throws login_rate_limited (429 with Retry-After) for a refusal; nothing for none. */
export function refused(refusal: LoginRefusal | undefined): asserts refusal is undefined {
  if (refusal !== undefined) {
    throw new TandemError('login_rate_limited', `Try again in ${refusal.retryAfterSeconds} s`, { headers: { 'retry-after': String(refusal.retryAfterSeconds) } });
  }
}

/**
 * One password check under the guard, for an account from an address: begins the attempt (a
 * refusal throws, as refused()), runs `check`, and reports the outcome: failed or succeeded by
 * its answer, abandoned when it throws (never an attempt left pending). Returns the answer.
 */
export async function guardedCheck(guard: LoginLimiter, account: string, address: string, check: () => Promise<boolean>): Promise<boolean> {
  const started = await guard.begin(account, address);
  if ('refusal' in started) refused(started.refusal);
  const { attempt } = started as { attempt: LoginAttempt };
  let passed: boolean;
  try {
    passed = await check();
  } catch (error) {
    attempt.abandoned();
    throw error;
  }
  if (passed) attempt.succeeded();
  else attempt.failed();
  return passed;
}

export type LoginBegin = { refusal: LoginRefusal } | { attempt: LoginAttempt };

/** What the login routes need: LoginGuard (one process), or RedisLoginGuard (a cluster). */
export interface LoginLimiter {
  /** Spends one attempt of the address; a refusal when it has none. */
  attempt(ip: string): LoginRefusal | undefined | Promise<LoginRefusal | undefined>;
  /** Starts a password check of `account` from `ip`, or refuses it. */
  begin(account: string, ip: string): LoginBegin | Promise<LoginBegin>;
}

interface Pair {
  failures: number;
  /** Checks under way: they count as failures until they end, so concurrent guesses cannot race past the limit. */
  pending: number;
  /** Locked until this clock time (0: not locked). */
  lockedUntil: number;
  lastFailureAt: number;
}

/**
 * Login limits that lock out an attacker, not the account's owner (OWASP's authentication and
 * credential-stuffing guidance):
 *
 * - per address: `attemptsPerIp` attempts per window, whatever the account (a token bucket), which
 *   bounds password spraying from one address;
 * - per account *and* address: after `failuresPerAccount` failures the pair is locked for
 *   window / failuresPerAccount seconds, and every further failure after a lock doubles it, up to the
 *   window. While locked, even the right password is refused from that address, so guessing gains
 *   nothing; the owner signing in from another address is not affected. Checks still under way
 *   count as failures, so guesses sent all at once cannot slip past the limit while the first ones
 *   are being verified. A success clears the pair; so does a quiet window without failures.
 *
 * Memory is bounded (`maxPairs`): an attacker who rotates accounts or addresses only evicts entries.
 */
export class LoginGuard implements LoginLimiter {
  readonly #perIp: KeyedRateLimiter;
  readonly #pairs = new Map<string, Pair>();
  readonly #failuresAllowed: number;
  readonly #windowMs: number;
  readonly #maxPairs: number;
  readonly #clock: () => number;

  constructor(options: LoginGuardOptions) {
    this.#clock = options.clock ?? Date.now;
    this.#perIp = new KeyedRateLimiter({ capacity: options.attemptsPerIp, refillPerSecond: options.attemptsPerIp / options.windowSeconds, clock: this.#clock });
    this.#failuresAllowed = options.failuresPerAccount;
    this.#windowMs = options.windowSeconds * 1000;
    this.#maxPairs = options.maxPairs ?? 100_000;
  }

  /** Spends one attempt of the address (registration and login share it); a refusal when it has none. */
  attempt(ip: string): LoginRefusal | undefined {
    const decision = this.#perIp.consume(ip);
    return decision.allowed ? undefined : { retryAfterSeconds: decision.retryAfterSeconds };
  }

  /**
   * Starts a password check of `account` from `ip`: a refusal while the pair is locked, or while the
   * checks under way could already reach the limit; otherwise the attempt to report back on.
   */
  begin(account: string, ip: string): LoginBegin {
    const now = this.#clock();
    const key = pairKey(account, ip);
    const pair = this.#current(key, now) ?? { failures: 0, pending: 0, lockedUntil: 0, lastFailureAt: now };
    if (pair.lockedUntil > now) return { refusal: { retryAfterSeconds: Math.max(1, Math.ceil((pair.lockedUntil - now) / 1000)) } };
    // As many checks at once as failures remain before the lock; past a lock, one at a time.
    if (pair.pending >= Math.max(1, this.#failuresAllowed - pair.failures)) return { refusal: { retryAfterSeconds: 1 } };
    pair.pending += 1;
    this.#store(key, pair);
    let ended = false;
    const end = (outcome: () => void) => {
      if (ended) return;
      ended = true;
      pair.pending -= 1;
      outcome();
    };
    return {
      attempt: {
        failed: () => end(() => this.#failed(key, pair)),
        succeeded: () => end(() => {
          // The right password: the pair starts over (checks still under way keep it alive).
          pair.failures = 0;
          pair.lockedUntil = 0;
          if (pair.pending === 0) this.#pairs.delete(key);
        }),
        abandoned: () => end(() => {}),
      },
    };
  }

  #failed(key: string, pair: Pair): void {
    const now = this.#clock();
    pair.failures += 1;
    pair.lastFailureAt = now;
    const over = pair.failures - this.#failuresAllowed;
    if (over >= 0) {
      const first = this.#windowMs / this.#failuresAllowed;
      pair.lockedUntil = now + Math.min(this.#windowMs, first * 2 ** Math.min(over, 30));
    }
    this.#store(key, pair);
  }

  /** Re-inserts the pair (Map order: least recently touched first) and evicts over the bound. */
  #store(key: string, pair: Pair): void {
    this.#pairs.delete(key);
    this.#pairs.set(key, pair);
    if (this.#pairs.size > this.#maxPairs) this.#pairs.delete(this.#pairs.keys().next().value as string);
  }

  /** The pair's state, forgotten once it has been quiet (unlocked, nothing under way, no failure) for a window. */
  #current(key: string, now: number): Pair | undefined {
    const pair = this.#pairs.get(key);
    if (pair === undefined) return undefined;
    if (pair.pending === 0 && pair.lockedUntil <= now && now - Math.max(pair.lastFailureAt, pair.lockedUntil) >= this.#windowMs) {
      this.#pairs.delete(key);
      return undefined;
    }
    return pair;
  }
}

function pairKey(account: string, ip: string): string {
  return `${account}\u0000${ip}`;
}
