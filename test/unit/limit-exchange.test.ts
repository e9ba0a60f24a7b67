import { afterEach, describe, expect, it, vi } from 'vitest';
import { LimitExchange } from '../../src/server/cluster/limit-exchange';
import { KeyedRateLimiter } from '../../src/server/limits/rate-limiter';

/**
 * The exchange's rule, with time faked: nodes decide from their own buckets and charge each other
 * what they spent, so an address's rate holds for the cluster. Here the "cluster" is N exchanges
 * whose publish delivers to the others synchronously (Redis pub/sub in production; the cluster
 * suite runs it for real: test/cluster/cross-node.test.ts).
 */
afterEach(() => vi.useRealTimers());

function cluster(nodes: number, limits: { capacity: number; refillPerSecond: number }, syncMs = 200) {
  const exchanges: LimitExchange[] = [];
  const published: string[] = [];
  const limiters = Array.from({ length: nodes }, (_, i) => {
    const limiter = new KeyedRateLimiter({ ...limits, clock: Date.now });
    const exchange = new LimitExchange({
      instance: `n${i}`,
      syncMs,
      maxKeysPerMessage: 3,
      publish: async (payload) => {
        published.push(payload);
        for (const other of exchanges) other.receive(payload); // its own message included, as Redis does
      },
    });
    exchange.share('rest', limiter);
    exchanges.push(exchange);
    return limiter;
  });
  return { limiters, exchanges, published };
}

describe('LimitExchange', () => {
  it('holds an address to the configured rate across nodes it spreads its requests over', async () => {
    vi.useFakeTimers();
    const { limiters, exchanges } = cluster(2, { capacity: 10, refillPerSecond: 1 });
    let allowed = 0;
    // 100 requests over 10 s, alternating nodes: alone, each node would allow 10 + 5 of its 50.
    for (let i = 0; i < 100; i += 1) {
      if (limiters[i % 2]!.consume('1.2.3.4').allowed) allowed += 1;
      await vi.advanceTimersByTimeAsync(100);
    }
    // The cluster's budget: a burst of 10 and 1/s for 10 s, plus what one 200 ms lag lets through.
    expect(allowed).toBeGreaterThanOrEqual(19);
    expect(allowed).toBeLessThanOrEqual(22);
    for (const exchange of exchanges) exchange.close();
  });

  it('lets each node alone decide for the first interval: at most N bursts, and the debt is paid back at the rate', async () => {
    vi.useFakeTimers();
    const { limiters, exchanges } = cluster(3, { capacity: 5, refillPerSecond: 1 });
    const burst = limiters.map((limiter) => Array.from({ length: 10 }, () => limiter.consume('k').allowed).filter(Boolean).length);
    expect(burst).toEqual([5, 5, 5]);
    await vi.advanceTimersByTimeAsync(200);
    // Each node was charged the others' 10: minus 5 (the floor), so 10 s until a token, not 0.2 s.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(limiters.map((limiter) => limiter.consume('k').allowed)).toEqual([false, false, false]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(limiters[0]!.consume('k').allowed).toBe(true);
    for (const exchange of exchanges) exchange.close();
  });

  it('publishes nothing while idle, batches an interval into one message, and splits a flood of keys', async () => {
    vi.useFakeTimers();
    const { limiters, exchanges, published } = cluster(2, { capacity: 100, refillPerSecond: 10 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(published).toEqual([]);
    for (let i = 0; i < 20; i += 1) limiters[0]!.consume('a');
    await vi.advanceTimersByTimeAsync(200);
    expect(published.map((p) => JSON.parse(p))).toEqual([{ n: 'n0', l: { rest: { a: 20 } } }]);
    expect(limiters[1]!.peek('a').remaining).toBe(80);
    // Seven keys at three per message: three messages, one interval apart.
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']) limiters[1]!.consume(key);
    await vi.advanceTimersByTimeAsync(600);
    expect(published.slice(1).map((p) => Object.keys((JSON.parse(p) as { l: { rest: object } }).l.rest).length)).toEqual([3, 3, 1]);
    expect(limiters[0]!.peek('k7').remaining).toBe(99);
    for (const exchange of exchanges) exchange.close();
  });

  it('ignores malformed messages, unknown limiters and its own spends', () => {
    const limiter = new KeyedRateLimiter({ capacity: 5, refillPerSecond: 1 });
    const exchange = new LimitExchange({ instance: 'me', publish: async () => undefined });
    exchange.share('rest', limiter);
    for (const raw of ['not json', 'null', '{"n":"x"}', '{"n":"x","l":{"other":{"k":3}}}', '{"n":"x","l":{"rest":{"k":"3"}}}', '{"n":"me","l":{"rest":{"k":3}}}', '{"n":"x","l":{"rest":{"k":-3}}}']) {
      exchange.receive(raw);
    }
    expect(limiter.peek('k').remaining).toBe(5);
    exchange.receive('{"n":"x","l":{"rest":{"k":3}}}');
    expect(limiter.peek('k').remaining).toBe(2);
    expect(() => exchange.share('rest', limiter)).toThrow(/shared already/);
    exchange.close();
  });
});
