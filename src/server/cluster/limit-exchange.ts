import type { KeyedRateLimiter, SharedLimits } from '../limits/rate-limiter';

/**
 * Rate limits that hold across a cluster without a Redis round trip per request.
 *
 * Each node keeps deciding from its own token buckets (a request costs a Map lookup, as on one
 * process), and tells the other nodes what it spent: every `syncMs` it publishes the tokens each key
 * took since the last message, and charges what the others published to its own buckets. So every
 * node's bucket for an address drains with the whole cluster's use of it, and the configured rate
 * holds for the cluster, not per node. The price is the lag: within one interval each of N nodes
 * may still let a full burst through (at most N × burst, once; the debt is then repaid at the
 * configured rate, since a bucket may go down to minus its capacity).
 *
 * While Redis is away the messages are lost and each node falls back to its own limits.
 */
export interface LimitExchangeOptions {
  /** This node's instance id (messages from it are ignored when they come back). */
  instance: string;
  /** Sends one message to every node (Redis PUBLISH). */
  publish(payload: string): Promise<unknown>;
  /** Default 200 ms. */
  syncMs?: number;
  /** Keys per message, so that a flood of addresses cannot make one huge message. Default 5,000. */
  maxKeysPerMessage?: number;
}

/** `{ n: instance, l: { limiter name: { key: tokens spent } } }` */
interface SpendMessage {
  n: string;
  l: Record<string, Record<string, number>>;
}

export class LimitExchange implements SharedLimits {
  readonly #options: Required<LimitExchangeOptions>;
  readonly #limiters = new Map<string, KeyedRateLimiter>();
  /** Spent here since the last message: limiter name → key → tokens. */
  readonly #pending = new Map<string, Map<string, number>>();
  #pendingKeys = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: LimitExchangeOptions) {
    this.#options = { syncMs: 200, maxKeysPerMessage: 5_000, ...options };
  }

  /** Shares a limiter under a name every node uses for the same limit ('rest', 'handshake'). */
  share(name: string, limiter: KeyedRateLimiter): void {
    if (this.#limiters.has(name)) throw new Error(`A limiter named '${name}' is shared already`);
    this.#limiters.set(name, limiter);
    limiter.onSpend((key, cost) => this.#spent(name, key, cost));
  }

  /** A message from the limits channel (any node's, this one's included). */
  receive(raw: string): void {
    let message: SpendMessage;
    try {
      message = JSON.parse(raw) as SpendMessage;
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || message.n === this.#options.instance || typeof message.l !== 'object' || message.l === null) return;
    for (const [name, spends] of Object.entries(message.l)) {
      const limiter = this.#limiters.get(name);
      if (limiter === undefined || typeof spends !== 'object' || spends === null) continue;
      for (const [key, cost] of Object.entries(spends)) if (typeof cost === 'number') limiter.charge(key, cost);
    }
  }

  /** Sends what is pending now (the timer does it every syncMs). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pendingKeys === 0 || this.#closed) return;
    const l: SpendMessage['l'] = {};
    let keys = 0;
    for (const [name, spends] of this.#pending) {
      const out: Record<string, number> = {};
      for (const [key, cost] of spends) {
        if (keys >= this.#options.maxKeysPerMessage) break;
        out[key] = cost;
        spends.delete(key);
        keys += 1;
      }
      l[name] = out;
      if (spends.size === 0) this.#pending.delete(name);
    }
    this.#pendingKeys -= keys;
    if (this.#pendingKeys > 0) this.#schedule();
    // Lost while Redis is away: the other nodes then go by their own counts.
    await this.#options.publish(JSON.stringify({ n: this.#options.instance, l } satisfies SpendMessage)).catch(() => undefined);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
    this.#pendingKeys = 0;
  }

  #spent(name: string, key: string, cost: number): void {
    if (this.#closed) return;
    let spends = this.#pending.get(name);
    if (spends === undefined) this.#pending.set(name, (spends = new Map()));
    const before = spends.get(key);
    if (before === undefined) {
      // Bounded: beyond four messages' worth of addresses, new ones go unshared (their limit is then per node).
      if (this.#pendingKeys >= 4 * this.#options.maxKeysPerMessage) return;
      this.#pendingKeys += 1;
    }
    spends.set(key, (before ?? 0) + cost);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => void this.flush(), this.#options.syncMs);
    this.#timer.unref();
  }
}
