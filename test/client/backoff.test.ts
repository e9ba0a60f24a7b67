import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, backoffCeiling, backoffDelay } from '../../src/client/backoff';

const almostOne = () => 1 - Number.EPSILON;
const shape = { baseMs: 500, capMs: 30_000, factor: 2 };

/** A random source that walks evenly through [0, 1): n draws cover it in steps of 1/n. */
function evenRandom(n: number): () => number {
  let i = 0;
  return () => (i++ % n) / n;
}

describe('backoff ceilings', () => {
  it('grow by the factor from the base and stop at the cap', () => {
    const ceilings = Array.from({ length: 9 }, (_, attempt) => backoffCeiling(attempt, shape));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('follow base, cap and factor when they are configured', () => {
    const options = { baseMs: 100, capMs: 1000, factor: 3 };
    expect([0, 1, 2, 3, 4].map((a) => backoffCeiling(a, options))).toEqual([100, 300, 900, 1000, 1000]);
    expect(backoffCeiling(50, { baseMs: 250, capMs: 250, factor: 2 })).toBe(250);
    expect(backoffCeiling(50, { baseMs: 250, capMs: 5000, factor: 1 })).toBe(250);
  });

  it('never overflow: days offline, MAX_SAFE_INTEGER and Infinity attempts still give the cap', () => {
    for (const attempt of [1_100, 1e6, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Infinity]) {
      expect(backoffCeiling(attempt, shape)).toBe(30_000);
      const delay = backoffDelay(attempt, { ...shape, random: () => 0.5 });
      expect(delay).toBe(15_000);
    }
    expect(backoffCeiling(Number.NaN, shape)).toBe(500);
    expect(backoffCeiling(-5, shape)).toBe(500);
  });

  it('refuses shapes that could give NaN, Infinity or shrinking delays', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: Infinity })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 1000, capMs: 500 })).toThrow(RangeError);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(RangeError);
    expect(() => new Backoff({ factor: Number.NaN })).toThrow(RangeError);
  });
});

describe('backoff delays (full jitter)', () => {
  it('stay within [0, ceiling) for every attempt', () => {
    const low = new Backoff({ ...shape, random: () => 0 });
    const high = new Backoff({ ...shape, random: almostOne });
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const ceiling = backoffCeiling(attempt, shape);
      expect(low.next()).toBe(0);
      const top = high.next();
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThan(ceiling * 0.999);
    }
  });

  it('spread over the whole [0, cap) window at the cap, in even buckets', () => {
    const draws = 10_000;
    const random = evenRandom(draws);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < draws; i += 1) {
      const delay = backoffDelay(1e6, { ...shape, random });
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(30_000);
      buckets[Math.floor(delay / 3000)]! += 1;
    }
    expect(buckets).toEqual(new Array<number>(10).fill(draws / 10));
  });

  it('spread with the real random source too (no clustering at the cap)', () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(Number.MAX_SAFE_INTEGER, shape));
    expect(Math.min(...delays)).toBeLessThan(30_000 * 0.05);
    expect(Math.max(...delays)).toBeGreaterThan(30_000 * 0.95);
  });

  it('treat a broken random source as a number in [0, 1), never NaN or negative', () => {
    for (const value of [Number.NaN, -1, 1, 7, Infinity]) {
      const delay = backoffDelay(3, { ...shape, random: () => value });
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(4000);
    }
  });

  it('keep a finite, capped delay after a million attempts (Socket.IO returns 0 ms after ~1,000)', () => {
    const backoff = new Backoff({ ...shape, random: () => 0.5 });
    for (let i = 0; i < 1_000_000; i += 1) backoff.next();
    expect(backoff.attempt).toBe(1_000_000);
    expect(backoff.next()).toBe(15_000);
  });
});

describe('Backoff schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts attempts and starts over on reset()', () => {
    const backoff = new Backoff({ ...shape, random: almostOne });
    backoff.next();
    backoff.next();
    backoff.next();
    expect(backoff.attempt).toBe(3);
    expect(backoff.next()).toBeGreaterThan(3990);
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBeLessThan(500);
    expect(backoff.attempt).toBe(1);
  });

  it('starts over after a connection stayed open for the stable period, not before', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const backoff = new Backoff({ ...shape, random: almostOne, stableMs: 10_000, now: () => Date.now() });
    for (let i = 0; i < 5; i += 1) backoff.next();

    // Opened, then dropped after 2 s: a flapping link keeps backing off.
    backoff.markOpen();
    vi.advanceTimersByTime(2_000);
    expect(backoff.next()).toBeGreaterThan(15_000);
    expect(backoff.attempt).toBe(6);

    // Opened and stayed up for 10 s: the next drop starts from the base again.
    backoff.markOpen();
    vi.advanceTimersByTime(10_000);
    expect(backoff.next()).toBeLessThan(500);
    expect(backoff.attempt).toBe(1);
  });

  it('waits the delays it gives, with fake timers', async () => {
    vi.useFakeTimers();
    const backoff = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.5 });
    const attempts: number[] = [];
    const retry = () => {
      attempts.push(Date.now());
      if (attempts.length < 5) setTimeout(retry, backoff.next());
    };
    const start = Date.now();
    retry();
    await vi.runAllTimersAsync();
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps).toEqual([50, 100, 200, 400]);
    expect(attempts[0]).toBe(start);
  });
});
