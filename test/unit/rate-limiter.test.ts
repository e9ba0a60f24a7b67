import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedRateLimiter } from '../../src/server/limits/rate-limiter';

function limiterAt(start = 0, options: { capacity?: number; refillPerSecond?: number; maxKeys?: number } = {}) {
  let now = start;
  const limiter = new KeyedRateLimiter({ capacity: options.capacity ?? 3, refillPerSecond: options.refillPerSecond ?? 1, maxKeys: options.maxKeys ?? 1000, clock: () => now });
  return { limiter, advance: (ms: number) => (now += ms) };
}

describe('KeyedRateLimiter', () => {
  it('allows a burst of `capacity`, then refuses with the seconds until the next token', () => {
    const { limiter } = limiterAt(0, { capacity: 3, refillPerSecond: 0.5 });
    expect([1, 2, 3].map(() => limiter.consume('ip').allowed)).toEqual([true, true, true]);
    const refused = limiter.consume('ip');
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 2 });
  });

  it('refills over time and never above capacity', () => {
    const { limiter, advance } = limiterAt(0, { capacity: 2, refillPerSecond: 1 });
    limiter.consume('k');
    limiter.consume('k');
    expect(limiter.consume('k').allowed).toBe(false);
    advance(1000);
    expect(limiter.consume('k').allowed).toBe(true);
    advance(60_000);
    expect(limiter.peek('k').remaining).toBe(2);
  });

  it('keeps keys apart', () => {
    const { limiter } = limiterAt(0, { capacity: 1 });
    expect(limiter.consume('a').allowed).toBe(true);
    expect(limiter.consume('a').allowed).toBe(false);
    expect(limiter.consume('b').allowed).toBe(true);
  });

  it('peek does not spend and reset forgets', () => {
    const { limiter } = limiterAt(0, { capacity: 1 });
    expect(limiter.peek('a').allowed).toBe(true);
    expect(limiter.peek('a').allowed).toBe(true);
    limiter.consume('a');
    expect(limiter.peek('a').allowed).toBe(false);
    limiter.reset('a');
    expect(limiter.consume('a').allowed).toBe(true);
  });

  it('bounds memory when an attacker rotates keys', () => {
    const { limiter } = limiterAt(0, { capacity: 5, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) limiter.consume(`ip-${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });

  it('forgets buckets that refilled completely', () => {
    const { limiter, advance } = limiterAt(0, { capacity: 2, refillPerSecond: 1, maxKeys: 10 });
    for (let i = 0; i < 10; i++) limiter.consume(`k${i}`);
    advance(5_000);
    limiter.consume('fresh');
    expect(limiter.size).toBe(1);
  });

  it('never allows more than capacity + elapsed * rate (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        const { limiter, advance } = limiterAt(0, { capacity: 4, refillPerSecond: 2 });
        let allowed = 0;
        let elapsed = 0;
        for (const gap of gaps) {
          advance(gap);
          elapsed += gap;
          if (limiter.consume('k').allowed) allowed++;
        }
        return allowed <= 4 + Math.floor((elapsed / 1000) * 2);
      }),
    );
  });
});
