/**
 * From measurements to results: medians per target, which side limited each, the Tandem / floor
 * ratios against their goals (Tandem / bare for information), the results JSON and the markdown tables.
 */
import os from 'node:os';
import path from 'node:path';
import { fmt, pct } from './format';
import { contended, type Measurement } from './measure';
import { pinned } from './processes';
import type { Reference } from './servers';
import { CONTENDED, GOALS, POST_ID, ROOT, SATURATED, opts, type TargetName } from './settings';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOrNull(values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : median(present);
}

/**
 * Which side limited a measurement. A process using >= 90 % of its core is saturated; a core that
 * is >= 90 % busy while our process on it is not means other processes on the shared machine
 * took the rest (reported as contention).
 */
function bottleneck(serverUse: number | null, loadUse: number, serverCpuBusy: number | null, loadCpuBusy: number | null): string {
  const serverBusy = serverUse !== null && serverUse >= SATURATED;
  const loadBusy = loadUse >= SATURATED;
  if (serverBusy && loadBusy) return 'both sides saturated';
  if (serverBusy) return 'server';
  if (loadBusy) return 'load generator';
  const contended = [
    serverCpuBusy !== null && serverCpuBusy >= SATURATED ? 'server' : undefined,
    loadCpuBusy !== null && loadCpuBusy >= SATURATED ? 'load-generator' : undefined,
  ].filter(Boolean);
  if (contended.length > 0) return `${contended.join(' and ')} core full, shared with other processes`;
  return 'neither side saturated';
}

/** Medians over the valid measurements of each target, in the order of --targets. */
function summarize(measurements: Measurement[]) {
  return opts.targets.map((target: TargetName) => {
    const rows = measurements.filter((m) => m.target === target && m.valid);
    const serverCoreUse = medianOrNull(rows.map((m) => m.serverCoreUse));
    const loadCoreUse = median(rows.map((m) => m.loadCoreUse));
    const serverCpuBusy = medianOrNull(rows.map((m) => m.serverCpuBusy));
    const loadCpuBusy = medianOrNull(rows.map((m) => m.loadCpuBusy));
    return {
      target,
      validRuns: rows.length,
      contendedRuns: rows.filter(contended).length,
      medianRequestsPerSecond: rows.length === 0 ? 0 : median(rows.map((m) => m.requestsPerSecond)),
      medianP99Ms: rows.length === 0 ? null : median(rows.map((m) => m.p99Ms)),
      medianServerCpuMicrosPerRequest: medianOrNull(rows.map((m) => m.serverCpuMicrosPerRequest)),
      medianServerCoreUse: serverCoreUse,
      medianLoadCoreUse: rows.length === 0 ? null : loadCoreUse,
      medianServerCpuBusy: serverCpuBusy,
      medianLoadCpuBusy: loadCpuBusy,
      bottleneck: rows.length === 0 ? 'no valid run' : bottleneck(serverCoreUse, loadCoreUse, serverCpuBusy, loadCpuBusy),
    };
  });
}

/**
 * Tandem / the floor (against GOALS) and Tandem / bare (for information: bare serves constant
 * bytes, so no server doing the work can match it) for 200 and 304, where both have valid runs.
 */
function ratiosOf(summary: ReturnType<typeof summarize>) {
  const byTarget = Object.fromEntries(summary.map((s) => [s.target, s]));
  return (['floor', 'bare'] as const).flatMap((reference) => (['200', '304', 'me'] as const).flatMap((status) => {
    const t = byTarget[`tandem-${status}`];
    const r = byTarget[`${reference}-${status}`];
    if (t === undefined || r === undefined || t.validRuns === 0 || r.validRuns === 0) return [];
    const ratio = t.medianRequestsPerSecond / r.medianRequestsPerSecond;
    const cpuRatio = t.medianServerCpuMicrosPerRequest !== null && r.medianServerCpuMicrosPerRequest !== null ? r.medianServerCpuMicrosPerRequest / t.medianServerCpuMicrosPerRequest : null;
    const goal = reference === 'floor' ? GOALS[status] : null;
    return [{ reference, status, ratio, goal, pass: goal === null ? null : ratio >= goal, serverCpuEfficiency: cpuRatio }];
  }));
}

export interface RunFacts {
  /** Date.now() when the run began. */
  started: number;
  /** How busy the server and load CPUs were before anything of ours ran. */
  busyBeforeStart: Array<number | null>;
  ref: Reference;
  measurements: Measurement[];
}

/** The results file's content (bench/results/rest-latest.json). */
export function buildResults({ started, busyBeforeStart, ref, measurements }: RunFacts) {
  const summary = summarize(measurements);
  return {
    benchmark: 'rest',
    date: new Date(started).toISOString(),
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${os.type()} ${os.release()}`,
      pinning: pinned ? { server: opts.serverCpu, loadGenerator: opts.loadCpu } : null,
      busyBeforeStart: { serverCpu: busyBeforeStart[0], loadCpu: busyBeforeStart[1] },
      note: '2 shared cores: servers pinned to one, autocannon to the other',
    },
    config: {
      rounds: opts.rounds,
      durationSeconds: opts.duration,
      warmupSeconds: opts.warmup,
      connections: opts.connections,
      pipelining: opts.pipelining,
      targets: opts.targets,
      retriesWhenContended: opts.retries,
      request: `GET /api/posts/${POST_ID}`,
      etag: ref.etag,
      bodyBytes: ref.body.length,
    },
    summary,
    ratios: ratiosOf(summary),
    invalidMeasurements: measurements.filter((m) => !m.valid).length,
    measurements,
  };
}

export type Results = ReturnType<typeof buildResults>;

/** The markdown report printed on stdout: the summary table, the ratios, and any caveats. */
export function renderMarkdown(results: Results): string {
  const { summary, ratios, measurements, invalidMeasurements: invalid } = results;
  const lines = [
    `### REST: GET /api/posts/${POST_ID}, Tandem vs the same-work floor and bare Fastify (${results.date})`,
    '',
    `${opts.rounds} rounds, ${opts.duration} s per measurement after ${opts.warmup} s warm-up, ${opts.connections} connections, pipelining ${opts.pipelining}; ` +
      `${results.machine.cpus} CPUs (${results.machine.cpuModel}), Node ${process.version}; ${pinned ? `servers on CPU ${opts.serverCpu}, autocannon on CPU ${opts.loadCpu}` : 'no pinning'}.`,
    '',
    '| target | median req/s | median p99 (ms) | server CPU µs/req | server process / its core busy | autocannon process / its core busy | bottleneck |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...summary.map(
      (s) =>
        `| ${s.target} | ${fmt(s.medianRequestsPerSecond)} | ${fmt(s.medianP99Ms)} | ${fmt(s.medianServerCpuMicrosPerRequest, 1)} | ${pct(s.medianServerCoreUse)} / ${pct(s.medianServerCpuBusy)} | ${pct(s.medianLoadCoreUse)} / ${pct(s.medianLoadCpuBusy)} | ${s.bottleneck} |`,
    ),
    '',
    '| ratio | req/s ratio | target | result | server-CPU ratio (reference µs ÷ Tandem µs) |',
    '|---|---:|---:|---|---:|',
    ...ratios.map((r) => `| Tandem / ${r.reference}, ${r.status} | ${r.ratio.toFixed(2)}× | ${r.goal === null ? '(none)' : `≥ ${r.goal}×`} | ${r.pass === null ? 'info' : r.pass ? 'PASS' : 'MISS'} | ${r.serverCpuEfficiency === null ? 'n/a' : `${r.serverCpuEfficiency.toFixed(2)}×`} |`),
    '',
    ...ratios.filter((r) => r.pass !== null).map((r) => `${r.pass ? 'PASS' : 'MISS'}  Tandem ${r.status} = ${r.ratio.toFixed(2)}× the same-work floor (target ≥ ${r.goal}×)`),
  ];
  const contendedKept = measurements.filter((m) => m.valid && contended(m)).length;
  if (contendedKept > 0) {
    lines.push('', `NOTE: ${contendedKept} of ${measurements.length} measurements were still contended after retries (other processes took > ${CONTENDED * 100} % of a pinned core); req/s is less reliable than server CPU µs/req for those.`);
  }
  if (invalid > 0) lines.push('', `WARNING: ${invalid} measurement(s) had unexpected status codes or errors and were left out of the medians.`);
  if (opts.out !== '-') lines.push('', `Results: ${path.relative(ROOT, opts.out)}`);
  return `${lines.join('\n')}\n`;
}
