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

interface Pair {
  failures: number;
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
 *   nothing; the owner signing in from another address is not affected. A success clears the pair;
 *   so does a quiet window without failures.
 *
 * Memory is bounded (`maxPairs`): an attacker who rotates accounts or addresses only evicts entries.
 */
export class LoginGuard {
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

  /** A refusal while this address is locked out of this account. */
  check(account: string, ip: string): LoginRefusal | undefined {
    const pair = this.#current(account, ip);
    const now = this.#clock();
    if (pair === undefined || pair.lockedUntil <= now) return undefined;
    return { retryAfterSeconds: Math.max(1, Math.ceil((pair.lockedUntil - now) / 1000)) };
  }

  /** A wrong password: counts it, and locks the pair once the failures reach the limit. */
  failed(account: string, ip: string): void {
    const now = this.#clock();
    const key = pairKey(account, ip);
    const pair = this.#current(account, ip) ?? { failures: 0, lockedUntil: 0, lastFailureAt: now };
    pair.failures += 1;
    pair.lastFailureAt = now;
    const over = pair.failures - this.#failuresAllowed;
    if (over >= 0) {
      const first = this.#windowMs / this.#failuresAllowed;
      pair.lockedUntil = now + Math.min(this.#windowMs, first * 2 ** Math.min(over, 30));
    }
    this.#pairs.delete(key);
    this.#pairs.set(key, pair);
    if (this.#pairs.size > this.#maxPairs) this.#pairs.delete(this.#pairs.keys().next().value as string);
  }

  /** The right password: the pair starts over. */
  succeeded(account: string, ip: string): void {
    this.#pairs.delete(pairKey(account, ip));
  }

  /** The pair's state, forgotten once it has been quiet (unlocked, no failure) for a window. */
  #current(account: string, ip: string): Pair | undefined {
    const key = pairKey(account, ip);
    const pair = this.#pairs.get(key);
    if (pair === undefined) return undefined;
    const now = this.#clock();
    if (pair.lockedUntil <= now && now - Math.max(pair.lastFailureAt, pair.lockedUntil) >= this.#windowMs) {
      this.#pairs.delete(key);
      return undefined;
    }
    return pair;
  }
}

function pairKey(account: string, ip: string): string {
  return `${account}\u0000${ip}`;
}
