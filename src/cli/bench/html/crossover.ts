import type { CrossoverPoint } from '../report';

/** Where, at one polling interval, push stops being the cheaper strategy. */
export interface CrossoverRow {
  pollIntervalMs: number;
  /**
   * The change rate (per second) at which polling and push cost the server the same, interpolated
   * between the two sweep points around the first change of the cheaper side. `null` when one side
   * is cheaper at every swept rate (`cheaperEverywhere` says which).
   */
  changesPerSecond: number | null;
  cheaperEverywhere: 'poll' | 'push' | null;
  /** The swept rates, for saying "below 0.01/s" or "above 10/s". */
  sweptFrom: number;
  sweptTo: number;
}

export interface CrossoverCurve {
  payloadBytes: number;
  rows: CrossoverRow[];
}

/** The sweep's distinct values, ascending. */
export function distinct(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * The crossover line of each payload size: per polling interval, the change rate at which push
 * becomes dearer than polling. A pure function of the report's sweep.
 *
 * @example crossoverCurves(report.crossover)[0].rows[0] // { pollIntervalMs: 250, changesPerSecond: 3.6, … }
 */
export function crossoverCurves(points: readonly CrossoverPoint[]): CrossoverCurve[] {
  return distinct(points.map((p) => p.payloadBytes)).map((payloadBytes) => {
    const ofPayload = points.filter((p) => p.payloadBytes === payloadBytes);
    const rows = distinct(ofPayload.map((p) => p.pollIntervalMs)).map((pollIntervalMs) =>
      rowOf(
        pollIntervalMs,
        ofPayload.filter((p) => p.pollIntervalMs === pollIntervalMs).sort((a, b) => a.changesPerSecond - b.changesPerSecond),
      ),
    );
    return { payloadBytes, rows };
  });
}

function rowOf(pollIntervalMs: number, byRate: CrossoverPoint[]): CrossoverRow {
  const sweptFrom = byRate[0]?.changesPerSecond ?? 0;
  const sweptTo = byRate.at(-1)?.changesPerSecond ?? 0;
  const flip = byRate.findIndex((p, i) => i > 0 && p.cheaper !== byRate[i - 1]!.cheaper);
  if (flip === -1) {
    return { pollIntervalMs, changesPerSecond: null, cheaperEverywhere: byRate[0]?.cheaper ?? null, sweptFrom, sweptTo };
  }
  return { pollIntervalMs, changesPerSecond: equalCostRate(byRate[flip - 1]!, byRate[flip]!), cheaperEverywhere: null, sweptFrom, sweptTo };
}

/**
 * Where log(poll/push) crosses zero, interpolated on a log rate axis (the costs are near power laws
 * of the rate); the geometric midpoint when a cost is not positive.
 */
function equalCostRate(below: CrossoverPoint, above: CrossoverPoint): number {
  const lo = Math.log(below.changesPerSecond);
  const hi = Math.log(above.changesPerSecond);
  const ratio = (p: CrossoverPoint) => Math.log(p.cpuMsPerClientSecond.poll / p.cpuMsPerClientSecond.push);
  const a = ratio(below);
  const b = ratio(above);
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === b) return Math.exp((lo + hi) / 2);
  const t = Math.min(1, Math.max(0, a / (a - b)));
  return Math.exp(lo + t * (hi - lo));
}
