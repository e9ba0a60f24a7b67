/** The outcome of one attempt to spend tokens. */
export interface RateDecision {
  allowed: boolean;
  /** Whole tokens left after this attempt. */
  remaining: number;
  /** Seconds until one token is available again (0 when allowed). */
  retryAfterSeconds: number;
}

export interface RateLimiterOptions {
  /** Bucket size: the largest burst allowed. */
  capacity: number;
  /** Tokens added back per second. */
  refillPerSecond: number;
  /** Bound on tracked keys; full buckets are forgotten first, then the least recently touched. */
  maxKeys?: number;
  clock?: () => number;
}

/** Limiters shared by the nodes of a cluster under a name (LimitExchange implements it). */
export interface SharedLimits {
  share(name: string, limiter: KeyedRateLimiter): void;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Token buckets by key (an IP, an account, a connection). Memory is bounded by `maxKeys`:
 * an attacker who rotates keys can only evict entries, never grow the map.
 */
export class KeyedRateLimiter {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #maxKeys: number;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #spendListener: ((key: string, cost: number) => void) | undefined;

  constructor(options: RateLimiterOptions) {
    if (!(options.capacity > 0) || !(options.refillPerSecond > 0)) throw new RangeError('capacity and refillPerSecond must be positive');
    this.#capacity = options.capacity;
    this.#refillPerMs = options.refillPerSecond / 1000;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** Spends `cost` tokens from the key's bucket if it has them; otherwise spends nothing. */
  consume(key: string, cost = 1): RateDecision {
    const now = this.#clock();
    const bucket = this.#refilled(key, now);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      this.#store(key, bucket);
      this.#spendListener?.(key, cost);
      return { allowed: true, remaining: Math.max(0, Math.floor(bucket.tokens)), retryAfterSeconds: 0 };
    }
    this.#store(key, bucket);
    const missing = cost - bucket.tokens;
    return { allowed: false, remaining: Math.max(0, Math.floor(bucket.tokens)), retryAfterSeconds: Math.max(1, Math.ceil(missing / this.#refillPerMs / 1000)) };
  }

  /** What `consume` would answer, without spending. */
  peek(key: string, cost = 1): RateDecision {
    const bucket = this.#refilled(key, this.#clock());
    const allowed = bucket.tokens >= cost;
    const retryAfterSeconds = allowed ? 0 : Math.max(1, Math.ceil((cost - bucket.tokens) / this.#refillPerMs / 1000));
    return { allowed, remaining: Math.max(0, Math.floor(bucket.tokens)), retryAfterSeconds };
  }

  /**
   * Spends what the key used elsewhere (another node of a cluster), allowed or not: the bucket may
   * go into debt, down to minus its capacity, and refills from there. Not reported to onSpend.
   */
  charge(key: string, cost: number): void {
    if (!(cost > 0)) return;
    const bucket = this.#refilled(key, this.#clock());
    bucket.tokens = Math.max(-this.#capacity, bucket.tokens - cost);
    this.#store(key, bucket);
  }

  /** Called with every spend `consume` allows (for sharing it with the other nodes); one listener. */
  onSpend(listener: (key: string, cost: number) => void): void {
    this.#spendListener = listener;
  }

  /** Forgets a key (its bucket is full again). */
  reset(key: string): void {
    this.#buckets.delete(key);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #refilled(key: string, now: number): Bucket {
    const existing = this.#buckets.get(key);
    if (existing === undefined) return { tokens: this.#capacity, updatedAt: now };
    const elapsed = Math.max(0, now - existing.updatedAt);
    return { tokens: Math.min(this.#capacity, existing.tokens + elapsed * this.#refillPerMs), updatedAt: now };
  }

  #store(key: string, bucket: Bucket): void {
    // Re-insert so Map order is least-recently-touched first.
    this.#buckets.delete(key);
    if (bucket.tokens >= this.#capacity) return;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxKeys) this.#evict(bucket.updatedAt);
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.#refillPerMs >= this.#capacity) this.#buckets.delete(key);
    }
    // Down to 90%, not just under the bound: the next tenth of new keys then inserts without a scan
    // (keys arriving in bulk, another node's spends for instance, would otherwise scan the map each).
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(key);
    }
  }
}
