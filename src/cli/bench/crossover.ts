/**
 * Where push becomes cheaper than polling for the server, pure: unit costs from the measured
 * windows, then a cost model swept over polling intervals and change rates.
 *
 * Model, per client and second, for a resource that changes `c` times a second at random
 * (Poisson) and a client polling every I seconds with ETags:
 *   poll = (1 / I) × (p × cost200 + (1 − p) × cost304), p = 1 − e^(−c·I) (the poll finds a change)
 *   push = c × costPush (one pushed update per change; the connection's upkeep is folded into
 *          costPush at the measured rate)
 * The cost every strategy pays alike (the server committing the change) is left out of both.
 */
import type { CrossoverPoint } from './report';

export interface UnitCosts {
  /** Server CPU per answer, ms. */
  poll304Ms: number;
  poll200Ms: number;
  /** Server CPU per pushed update delivered, ms. */
  pushMs: number;
  /** Which push strategy `pushMs` was measured on. */
  push: 'websocket' | 'sse';
}

/** What one measured window contributes to the unit costs. */
export interface WindowCost {
  /** Server CPU in the window, ms. */
  cpuMs: number;
  /** What the server would have spent in as long a time on the changes alone, with no client (the baseline), ms. */
  baselineMs: number;
  /** Requests the server answered in the window. */
  requests: number;
  /** Poll answers the clients saw in the window, by status (their shares apportion `requests`). */
  polls: { ok: number; notModified: number };
  delivered: number;
}

/**
 * Unit costs from the windows measured: a 200 from poll-plain (every answer a 200), a 304 from
 * poll-etag once its 200s are taken out, a push from websocket (else sse). Undefined when a
 * needed window is missing; `approximate` lists what had to be assumed.
 */
export function unitCosts(windows: Partial<Record<'poll-etag' | 'poll-plain' | 'sse' | 'websocket', WindowCost>>): { costs: UnitCosts; approximate: string[] } | undefined {
  const etag = windows['poll-etag'];
  const pushWindow = windows.websocket ?? windows.sse;
  const push = windows.websocket === undefined ? 'sse' : 'websocket';
  if (etag === undefined || pushWindow === undefined || pushWindow.delivered === 0 || etag.requests === 0) return undefined;
  const approximate: string[] = [];
  const net = (name: string, window: WindowCost) => {
    if (window.cpuMs > window.baselineMs) return window.cpuMs - window.baselineMs;
    approximate.push(`${name}'s window cost no more CPU than the baseline (noise): its whole CPU is counted, an upper bound`);
    return window.cpuMs;
  };
  const plain = windows['poll-plain'];
  const seen = etag.polls.ok + etag.polls.notModified;
  const ok = seen === 0 ? 0 : (etag.requests * etag.polls.ok) / seen;
  const notModified = etag.requests - ok;
  const etagNet = net('poll-etag', etag);
  let poll200Ms: number;
  if (plain !== undefined && plain.requests > 0) poll200Ms = net('poll-plain', plain) / plain.requests;
  else {
    poll200Ms = etagNet / etag.requests;
    approximate.push('no poll-plain window: a 200 is assumed to cost what an average poll-etag answer does');
  }
  let poll304Ms = notModified > 0 ? (etagNet - ok * poll200Ms) / notModified : poll200Ms;
  if (notModified === 0) approximate.push('every poll-etag poll found a change: a 304 is taken to cost what a 200 does');
  else if (!(poll304Ms > 0)) {
    poll304Ms = etagNet / etag.requests;
    approximate.push("the 200s' estimated cost exceeded poll-etag's whole CPU (noise): a 304 is taken as the average poll-etag answer");
  }
  return { costs: { poll304Ms, poll200Ms, pushMs: net(push, pushWindow) / pushWindow.delivered, push }, approximate };
}

/** Server CPU (ms) per client-second of ETag polling every `intervalMs` a resource changing `changesPerSecond`. */
export function pollCost(costs: UnitCosts, intervalMs: number, changesPerSecond: number): number {
  const seconds = intervalMs / 1000;
  const p = 1 - Math.exp(-changesPerSecond * seconds);
  return (p * costs.poll200Ms + (1 - p) * costs.poll304Ms) / seconds;
}

/** Server CPU (ms) per client-second of pushing every change. */
export function pushCost(costs: UnitCosts, changesPerSecond: number): number {
  return changesPerSecond * costs.pushMs;
}

/**
 * The change rate (per second) above which polling every `intervalMs` is cheaper than push;
 * Infinity when push stays cheaper at any rate (a push costs less than a 200).
 */
export function breakEvenRate(costs: UnitCosts, intervalMs: number): number {
  const pollMinusPush = (c: number) => pollCost(costs, intervalMs, c) - pushCost(costs, c);
  let high = 1;
  while (pollMinusPush(high) > 0) {
    high *= 2;
    if (high > 1e7) return Number.POSITIVE_INFINITY;
  }
  let low = 0;
  for (let i = 0; i < 60; i += 1) {
    const mid = (low + high) / 2;
    if (pollMinusPush(mid) > 0) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

export const SWEEP_INTERVALS_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000];
export const SWEEP_RATES = [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50];

/** The sweep for the report's chart: every interval × rate, the cost of each and the cheaper. */
export function crossoverSweep(costs: UnitCosts, payloadBytes: number, intervalsMs = SWEEP_INTERVALS_MS, rates = SWEEP_RATES): CrossoverPoint[] {
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return intervalsMs.flatMap((pollIntervalMs) =>
    rates.map((changesPerSecond) => {
      const poll = pollCost(costs, pollIntervalMs, changesPerSecond);
      const push = pushCost(costs, changesPerSecond);
      return { pollIntervalMs, changesPerSecond, payloadBytes, cpuMsPerClientSecond: { poll: round(poll), push: round(push) }, cheaper: push < poll ? 'push' : 'poll' } satisfies CrossoverPoint;
    }),
  );
}
