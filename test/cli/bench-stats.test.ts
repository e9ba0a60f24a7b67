import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkClaims } from '../../src/cli/bench/claims';
import type { CommitLog } from '../../src/cli/bench/control-api';
import { breakEvenRate, crossoverSweep, pollCost, pushCost, unitCosts, type UnitCosts } from '../../src/cli/bench/crossover';
import { analyzeDeliveries } from '../../src/cli/bench/deliveries';
import { baselineForWindow, warmUpFactor } from '../../src/cli/bench/strategy-run';
import { recordPublications } from '../../src/cli/bench/clients/ws-client';
import { Observations, PUSHED } from '../../src/cli/bench/observations';
import type { StrategyResult } from '../../src/cli/bench/report';
import { bytesBetween, bytesPerUpdate, histogram, percentile, summarizeLatency } from '../../src/cli/bench/stats';

/** tandem bench's statistics, pure: percentiles, the latency summary, byte accounting, deliveries, the crossover. */

describe('percentile (nearest rank)', () => {
  it('is the smallest value with at least p% of the values at or below it', () => {
    const sorted = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 90)).toBe(90);
    expect(percentile(sorted, 99)).toBe(100);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile(sorted, 0)).toBe(10);
    expect(percentile(sorted, 10)).toBe(10);
    expect(percentile(sorted, 11)).toBe(20);
  });

  it('is 0 for no values, the value for one, and refuses a p outside 0..100', () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('has at least p% of the values at or below it and fewer below it, for any input', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.01, max: 100, noNaN: true }), (values, p) => {
        const sorted = [...values].sort((a, b) => a - b);
        const v = percentile(sorted, p);
        expect(sorted.filter((x) => x <= v).length / sorted.length).toBeGreaterThanOrEqual(p / 100 - 1e-9);
        expect(sorted.filter((x) => x < v).length / sorted.length).toBeLessThan(p / 100);
      }),
    );
  });
});

describe('latency summary', () => {
  it('gives count, percentiles, max and mean of unsorted latencies, negatives taken as 0', () => {
    const s = summarizeLatency([5, 1, 3, 2, 4, -1]);
    expect(s).toMatchObject({ count: 6, p50: 2, p90: 5, p99: 5, max: 5, mean: 2.5 });
  });

  it('is all zeros for no deliveries', () => {
    expect(summarizeLatency([])).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0, histogram: { edges: [0, 0.5], counts: [0] } });
  });

  it('puts every value in exactly one bucket [edge, next edge), the last edge above the largest value', () => {
    const h = histogram([0, 0.4, 0.5, 1, 1.99, 250, 999.9, 1_000]);
    expect(h.edges).toEqual([0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000]);
    expect(h.counts).toEqual([2, 1, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { maxLength: 100 }), (values) => {
        const sorted = [...values].sort((a, b) => a - b);
        const { edges, counts } = histogram(sorted);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
        expect(counts.length).toBe(edges.length - 1);
        if (values.length > 0) expect(edges[edges.length - 1]!).toBeGreaterThan(sorted[sorted.length - 1]!);
      }),
    );
  });
});

describe('byte accounting', () => {
  it('takes what the server read as client → server and what it wrote as server → client', () => {
    expect(bytesBetween({ bytesIn: 100, bytesOut: 1_000 }, { bytesIn: 900, bytesOut: 5_000 })).toEqual({ clientToServer: 800, serverToClient: 4_000 });
  });

  it('refuses counters that went backwards (readings of two different servers)', () => {
    expect(() => bytesBetween({ bytesIn: 100, bytesOut: 0 }, { bytesIn: 50, bytesOut: 0 })).toThrow(/backwards/);
  });

  it('divides by the updates delivered, to a tenth of a byte, and gives 0 when none were', () => {
    expect(bytesPerUpdate({ clientToServer: 1_000, serverToClient: 2_000 }, 3)).toEqual({ clientToServer: 333.3, serverToClient: 666.7 });
    expect(bytesPerUpdate({ clientToServer: 1_000, serverToClient: 2_000 }, 0)).toEqual({ clientToServer: 0, serverToClient: 0 });
  });
});

/** Resource 7 at version 1; versions 2, 3, 4 begun at 1000, 2000, 3000 µs (server clock). */
const log: CommitLog = { items: [{ id: 7, firstVersion: 2, at: [1_000, 2_000, 3_000] }], behind: 0 };

describe('deliveries from observations and the commit log', () => {
  it('counts each change of the window once per watcher, with its latency, when pushed', () => {
    const seen = new Observations();
    for (const client of [0, 1]) {
      seen.record(client, 2, 1_500, PUSHED);
      seen.record(client, 3, 2_250, PUSHED);
      seen.record(client, 4, 3_100, PUSHED);
    }
    const r = analyzeDeliveries({ log, itemOfClient: [7, 7], observations: seen, clockOffset: 0, windowStart: 1_500, windowEnd: 3_500 });
    expect(r).toMatchObject({ changes: 2, expected: 4, delivered: 4, staleReads: 0, polls: { ok: 0, notModified: 0 } });
    expect(r.latenciesMs).toEqual([0.25, 0.1, 0.25, 0.1]);
  });

  it('counts a version a poll skipped as delivered with the poll that brought a later one', () => {
    const seen = new Observations();
    seen.record(0, 1, 500, 200);
    seen.record(0, -1, 1_800, 304); // 304 while version 2 existed: a stale read
    seen.record(0, 4, 3_500, 200); // brings 2, 3 and 4
    const r = analyzeDeliveries({ log, itemOfClient: [7], observations: seen, clockOffset: 0, windowStart: 0, windowEnd: 4_000 });
    expect(r).toMatchObject({ changes: 3, expected: 3, delivered: 3, staleReads: 1, polls: { ok: 2, notModified: 1 } });
    expect(r.latenciesMs).toEqual([2.5, 1.5, 0.5]);
  });

  it('moves client times onto the server clock with the offset, and counts deliveries after the window (the drain)', () => {
    const seen = new Observations();
    seen.record(0, 3, 10_000 + 2_100, PUSHED); // client clock = server clock + 10 ms
    seen.record(0, 4, 10_000 + 4_000, PUSHED);
    const r = analyzeDeliveries({ log, itemOfClient: [7], observations: seen, clockOffset: -10_000, windowStart: 1_500, windowEnd: 3_500 });
    expect(r).toMatchObject({ changes: 2, delivered: 2 });
    expect(r.latenciesMs).toEqual([0.1, 1]);
  });

  it('leaves out changes begun outside the window, and those that never arrived', () => {
    const seen = new Observations();
    seen.record(0, 2, 1_100, PUSHED);
    const r = analyzeDeliveries({ log, itemOfClient: [7, 7], observations: seen, clockOffset: 0, windowStart: 900, windowEnd: 2_500 });
    expect(r).toMatchObject({ changes: 2, expected: 4, delivered: 1 });
  });

  it('is not fooled by an answer older than what the client holds (counts nothing twice)', () => {
    const seen = new Observations();
    seen.record(0, 4, 3_100, 200);
    seen.record(0, 3, 3_200, 200); // older than held: a stale read, no delivery
    const r = analyzeDeliveries({ log, itemOfClient: [7], observations: seen, clockOffset: 0, windowStart: 0, windowEnd: 4_000 });
    expect(r).toMatchObject({ delivered: 3, staleReads: 1 });
  });
});

const costs: UnitCosts = { poll304Ms: 0.2, poll200Ms: 0.3, pushMs: 0.02, push: 'websocket' };

describe('the crossover', () => {
  it('prices polling by how often a poll finds a change, and push by the changes', () => {
    expect(pollCost(costs, 1_000, 0)).toBeCloseTo(0.2);
    expect(pollCost(costs, 1_000, 1e6)).toBeCloseTo(0.3);
    expect(pollCost(costs, 500, 0)).toBeCloseTo(0.4);
    expect(pushCost(costs, 2)).toBeCloseTo(0.04);
  });

  it('finds the change rate where both cost the same, and push cheaper below it', () => {
    for (const interval of [250, 1_000, 60_000]) {
      const rate = breakEvenRate(costs, interval);
      expect(pollCost(costs, interval, rate)).toBeCloseTo(pushCost(costs, rate), 6);
      expect(pushCost(costs, rate / 2)).toBeLessThan(pollCost(costs, interval, rate / 2));
      expect(pushCost(costs, rate * 2)).toBeGreaterThan(pollCost(costs, interval, rate * 2));
    }
    expect(breakEvenRate({ ...costs, pushMs: 0 }, 1_000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('marks each point of the sweep with the cheaper strategy', () => {
    const points = crossoverSweep(costs, 512, [1_000], [0.1, 100]);
    expect(points).toEqual([
      { pollIntervalMs: 1_000, changesPerSecond: 0.1, payloadBytes: 512, cpuMsPerClientSecond: { poll: expect.any(Number), push: 0.002 }, cheaper: 'push' },
      { pollIntervalMs: 1_000, changesPerSecond: 100, payloadBytes: 512, cpuMsPerClientSecond: { poll: 0.3, push: 2 }, cheaper: 'poll' },
    ]);
  });

  it('takes a 200 from poll-plain, a 304 from poll-etag without its 200s, and a push from websocket', () => {
    const derived = unitCosts({
      'poll-plain': { cpuMs: 310, baselineMs: 10, requests: 1_000, polls: { ok: 1_000, notModified: 0 }, delivered: 100 },
      'poll-etag': { cpuMs: 220, baselineMs: 10, requests: 1_000, polls: { ok: 100, notModified: 900 }, delivered: 100 },
      websocket: { cpuMs: 12, baselineMs: 10, requests: 0, polls: { ok: 0, notModified: 0 }, delivered: 100 },
    });
    expect(derived?.approximate).toEqual([]);
    expect(derived?.costs.poll200Ms).toBeCloseTo(0.3);
    expect(derived?.costs.poll304Ms).toBeCloseTo(0.2);
    expect(derived?.costs.pushMs).toBeCloseTo(0.02);
    expect(unitCosts({ websocket: { cpuMs: 2, baselineMs: 0, requests: 0, polls: { ok: 0, notModified: 0 }, delivered: 100 } })).toBeUndefined();
  });

  it('scales the baseline to the window by its changes, or by time when it saw too few', () => {
    expect(baselineForWindow(100, 5, 50, 20, 180)).toBeCloseTo(360);
    expect(baselineForWindow(100, 5, 10, 20, 180)).toBeCloseTo(400);
  });

  it('counts a window that cost no more than the baseline whole, and says so', () => {
    const derived = unitCosts({
      'poll-etag': { cpuMs: 220, baselineMs: 20, requests: 1_000, polls: { ok: 0, notModified: 1_000 }, delivered: 100 },
      websocket: { cpuMs: 8, baselineMs: 10, requests: 0, polls: { ok: 0, notModified: 0 }, delivered: 100 },
    });
    expect(derived?.costs.pushMs).toBeCloseTo(0.08);
    expect(derived?.costs.poll304Ms).toBeCloseTo(0.2);
    expect(derived?.approximate).toEqual([expect.stringMatching(/no poll-plain window/), expect.stringMatching(/^websocket's window cost no more CPU than the baseline/)]);
  });
});

function result(strategy: StrategyResult['strategy'], over: Partial<StrategyResult>): StrategyResult {
  return {
    strategy, description: '', changes: 100, delivered: 100, expected: 100, staleReads: 0, requests: 0, requestsPerSecond: 0,
    bytes: { clientToServer: 0, serverToClient: 0 }, bytesPerUpdate: { clientToServer: 0, serverToClient: 0 }, latency: summarizeLatency([]),
    serverCpuMs: 0, serverCpuMsPer1000Updates: 0, serverMemoryPerClientBytes: 0, notes: [], ...over,
  };
}

describe('the claims', () => {
  const workload = { clients: 100, watchersPerResource: 10, changesPerSecond: 1, payloadBytes: 512, pollIntervalMs: 1_000, durationSeconds: 10, warmupSeconds: 1 };
  const window = { cpuMs: 0, baselineMs: 0, requests: 1_000, polls: { ok: 500, notModified: 500 }, delivered: 1_000 };

  it('judges the request headers by the bytes a poll sent', () => {
    const claimed = (requestBytes: number) =>
      checkClaims({
        workload, headerProfile: 'browser', pollWithToken: true, costs,
        results: { 'poll-etag': result('poll-etag', { requests: 1_000, bytes: { clientToServer: requestBytes * 1_000, serverToClient: 400_000 } }) },
        windows: { 'poll-etag': window },
      }).claims.find((c) => c.id === 'headers-500-800-bytes')!;
    expect(claimed(650)).toMatchObject({ id: 'headers-500-800-bytes', holds: true });
    expect(claimed(650).evidence).toContain('650 B');
    expect(claimed(900).holds).toBe('partly');
    expect(claimed(200).holds).toBe(false);
  });

  it('judges "30% more users" by server CPU per client-second, poll-etag against websocket', () => {
    const claimed = (pollCpu: number, pushCpu: number) =>
      checkClaims({
        workload, headerProfile: 'browser', pollWithToken: true, costs, windows: {},
        results: { 'poll-etag': result('poll-etag', { serverCpuMs: pollCpu }), websocket: result('websocket', { serverCpuMs: pushCpu }) },
      }).claims.find((c) => c.id === 'push-holds-30pct-more-users')!;
    expect(claimed(200, 100)).toMatchObject({ id: 'push-holds-30pct-more-users', holds: true });
    expect(claimed(120, 100).holds).toBe('partly');
    expect(claimed(100, 120).holds).toBe(false);
  });

  it('gives no verdict on what it could not check, and says why', () => {
    const { claims, unchecked } = checkClaims({ workload, headerProfile: 'minimal', pollWithToken: false, results: {}, windows: {}, costs: undefined });
    expect(claims).toEqual([]);
    expect(unchecked.map((c) => c.id)).toEqual(['headers-500-800-bytes', 'push-holds-30pct-more-users', 'rest-10k-vs-ws-1k']);
    expect(unchecked[0]!.why).toMatch(/^Not checked: "REST adds significant overhead.*" needs poll-etag, which this run did not measure\.$/);
  });
});

describe('what a push client records', () => {
  it('reads the version of every publication of a coalesced message, and nothing else', () => {
    const seen = new Observations();
    const pub = (v: number) => JSON.stringify({ t: 'pub', ch: 'item:7', o: v, ev: 'item.changed', d: { id: 7, version: v, at: 1.5, pad: 'x"version":99' } });
    recordPublications([pub(41), '{"t":"pong","id":3}', pub(42)].join('\n'), 3, seen);
    expect(seen.length).toBe(2);
    expect([seen.client(0), seen.version(0), seen.status(0)]).toEqual([3, 41, PUSHED]);
    expect(seen.version(1)).toBe(42);
  });
});

describe('the warm-up pace', () => {
  const w = { clients: 200, watchersPerResource: 10, changesPerSecond: 1, payloadBytes: 512, pollIntervalMs: 1_000, durationSeconds: 20, warmupSeconds: 3 };
  it('is 10× the workload, within 2,000 polls/s and 16 MiB/s of pushed payload, never below 1×', () => {
    expect(warmUpFactor(w)).toBe(10);
    expect(warmUpFactor({ ...w, clients: 1_000 })).toBe(2);
    expect(warmUpFactor({ ...w, payloadBytes: 16_384, changesPerSecond: 2 })).toBeCloseTo(2.56);
    expect(warmUpFactor({ ...w, payloadBytes: 16_384, changesPerSecond: 10 })).toBe(1);
  });
});
