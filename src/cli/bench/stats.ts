/**
 * The bench's statistics, pure: percentiles (nearest rank), the latency summary and its
 * histogram, and the byte accounting of a measured window.
 */
import type { LatencySummary } from './report';

/**
 * The p-th percentile of ascending `sorted` by the nearest-rank method: the smallest value with at
 * least p% of the values at or below it (p in (0, 100]; p = 0 gives the minimum). 0 when empty.
 *
 * @example percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within 0..100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Bucket edges of the latency histogram, ms: 0.5 ms up to 2 minutes, then doubling as far as needed. */
const EDGES_MS = [0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000, 120_000];

/**
 * A histogram of `sorted` (ms, ascending): `counts[i]` values in [edges[i], edges[i+1]). The edges
 * stop at the first one above the largest value, so every value has a bucket and none are empty at the end.
 */
export function histogram(sorted: ArrayLike<number>): { edges: number[]; counts: number[] } {
  const max = sorted.length === 0 ? 0 : sorted[sorted.length - 1]!;
  const edges = [EDGES_MS[0]!];
  for (let i = 1; edges[edges.length - 1]! <= max || edges.length < 2; i += 1) edges.push(EDGES_MS[i] ?? edges[edges.length - 1]! * 2);
  const counts = new Array<number>(edges.length - 1).fill(0);
  let bucket = 0;
  for (let i = 0; i < sorted.length; i += 1) {
    const value = sorted[i]!;
    while (value >= edges[bucket + 1]!) bucket += 1;
    counts[bucket]! += 1;
  }
  return { edges, counts };
}

/** Count, p50 / p90 / p99, max, mean and histogram of latencies in ms (any order; negative ones count as 0). */
export function summarizeLatency(latenciesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latenciesMs, (v) => Math.max(0, v)).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i += 1) sum += sorted[i]!;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length === 0 ? 0 : sorted[sorted.length - 1]!),
    mean: round(sorted.length === 0 ? 0 : sum / sorted.length),
    histogram: histogram(sorted),
  };
}

/** The byte counters of the server at one moment (control-api ServerStats, the part that counts bytes). */
export interface ByteCounters {
  bytesIn: number;
  bytesOut: number;
}

/** Bytes between two readings, by direction: what the server read came from clients, what it wrote went to them. */
export function bytesBetween(before: ByteCounters, after: ByteCounters): { clientToServer: number; serverToClient: number } {
  const clientToServer = after.bytesIn - before.bytesIn;
  const serverToClient = after.bytesOut - before.bytesOut;
  if (clientToServer < 0 || serverToClient < 0) throw new Error('byte counters went backwards: the readings are from different servers');
  return { clientToServer, serverToClient };
}

/** Bytes per delivered update in each direction, to a tenth of a byte; 0 when nothing was delivered. */
export function bytesPerUpdate(bytes: { clientToServer: number; serverToClient: number }, delivered: number): { clientToServer: number; serverToClient: number } {
  const per = (n: number) => (delivered > 0 ? Math.round((n / delivered) * 10) / 10 : 0);
  return { clientToServer: per(bytes.clientToServer), serverToClient: per(bytes.serverToClient) };
}
