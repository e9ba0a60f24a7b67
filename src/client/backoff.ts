/**
 * Retry timing: full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff
 * and Jitter"). `delay(n) = random() * min(cap, base * factor^n)`.
 *
 * The exponent is clamped before exponentiating: after days offline the attempt counter is in
 * the hundreds of thousands, and `2 ** 1100` is Infinity (Infinity * 0 = NaN, and timers treat
 * NaN as 0 ms — the Socket.IO client's tight reconnect loop). Jitter applies at the cap too, so a
 * crowd of clients that all reached the cap still spreads over the whole [0, cap) window.
 */

export interface BackoffOptions {
  /** First ceiling, ms. Default 500. */
  baseMs?: number;
  /** Largest ceiling, ms. Default 30 000. */
  capMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** A number in [0, 1). Default Math.random. */
  random?: () => number;
  /** How long a connection must stay up before `next()` starts again from attempt 0. Default 10 000 ms. */
  stableMs?: number;
  /** The clock `stableMs` is measured with. Default Date.now. */
  now?: () => number;
}

const DEFAULT_BACKOFF = { baseMs: 500, capMs: 30_000, factor: 2, stableMs: 10_000 } as const;

interface Shape {
  baseMs: number;
  capMs: number;
  factor: number;
}

function checkShape(options: BackoffOptions): Shape {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const capMs = options.capMs ?? DEFAULT_BACKOFF.capMs;
  const factor = options.factor ?? DEFAULT_BACKOFF.factor;
  if (!(Number.isFinite(baseMs) && baseMs > 0)) throw new RangeError(`baseMs must be a positive finite number, got ${baseMs}`);
  if (!(Number.isFinite(capMs) && capMs >= baseMs)) throw new RangeError(`capMs must be finite and >= baseMs, got ${capMs}`);
  if (!(Number.isFinite(factor) && factor >= 1)) throw new RangeError(`factor must be finite and >= 1, got ${factor}`);
  return { baseMs, capMs, factor };
}

/** The first attempt whose ceiling reaches the cap; exponents past it change nothing. */
function saturatingAttempt({ baseMs, capMs, factor }: Shape): number {
  if (factor === 1 || capMs === baseMs) return 0;
  return Math.ceil(Math.log(capMs / baseMs) / Math.log(factor));
}

/**
 * The ceiling of the delay before attempt `attempt` (0-based): `min(cap, base * factor^attempt)`,
 * finite and > 0 for any attempt, including Number.MAX_SAFE_INTEGER and Infinity.
 */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const shape = checkShape(options);
  const n = Number.isNaN(attempt) ? 0 : Math.min(Math.max(0, Math.floor(attempt)), saturatingAttempt(shape));
  return Math.min(shape.capMs, shape.baseMs * shape.factor ** n);
}

/** A random source's output forced into [0, 1): a broken source must not yield NaN or negative delays. */
function unit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}

/** The jittered delay before attempt `attempt`: uniform in [0, ceiling). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const random = options.random ?? Math.random;
  return unit(random()) * backoffCeiling(attempt, options);
}

/**
 * A retry schedule: `next()` gives the delay before the next attempt and counts it; `reset()`
 * starts over. Call `markOpen()` when a connection opens: a later `next()` resets first if
 * it stayed up `stableMs`, so a link that drops right after opening keeps backing off.
 *
 * @example
 * const backoff = new Backoff({ baseMs: 500, capMs: 30_000 });
 * setTimeout(reconnect, backoff.next()); // 0-500 ms, then 0-1 s, 0-2 s, ... 0-30 s
 */
export class Backoff {
  readonly #options: BackoffOptions;
  readonly #stableMs: number;
  readonly #now: () => number;
  #attempt = 0;
  #openedAt: number | undefined;

  constructor(options: BackoffOptions = {}) {
    checkShape(options);
    this.#options = { ...options };
    this.#stableMs = options.stableMs ?? DEFAULT_BACKOFF.stableMs;
    this.#now = options.now ?? Date.now;
  }

  /** How many delays `next()` has given since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, in ms; counts the attempt. */
  next(): number {
    if (this.#openedAt !== undefined && this.#now() - this.#openedAt >= this.#stableMs) this.#attempt = 0;
    this.#openedAt = undefined;
    const delay = backoffDelay(this.#attempt, this.#options);
    // The counter saturates instead of losing precision; the delay is clamped anyway.
    if (this.#attempt < Number.MAX_SAFE_INTEGER) this.#attempt += 1;
    return delay;
  }

  /** Records that a connection opened now (see the class comment). */
  markOpen(): void {
    this.#openedAt = this.#now();
  }

  /** Starts over from attempt 0. */
  reset(): void {
    this.#attempt = 0;
    this.#openedAt = undefined;
  }
}
