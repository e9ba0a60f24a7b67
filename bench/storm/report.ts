/**
 * The storm bench's summary (medians over the rounds, per server), its tables and the targets
 * against the issue's goals, printed as Markdown like the other benches.
 */
import { GOALS, LABEL, type ServerKind } from './settings';
import type { StormMeasurement } from './storm';

export interface StormSummary {
  kind: ServerKind;
  rounds: number;
  clients: number;
  /** Medians over the rounds (null where a round had none). */
  p50Seconds: number | null;
  p99Seconds: number | null;
  allSeconds: number | null;
  downSeconds: number | null;
  idleP99Ms: number | null;
  stormP99Ms: number | null;
  restRatio: number | null;
  serverCpuSeconds: number | null;
  serverCpuPerClientUs: number | null;
  /** Summed over the rounds. */
  duplicates: number;
  lost: number;
  notBack: number;
  perRound: { p99Seconds: Array<number | null>; allSeconds: Array<number | null>; restRatio: Array<number | null> };
}

export interface TargetRow {
  target: string;
  kind: ServerKind;
  value: string;
  goal: string;
  result: 'PASS' | 'MISS';
  perRound: string;
}

function median(values: Array<number | null>): number | null {
  const xs = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export function summarize(measurements: readonly StormMeasurement[]): StormSummary[] {
  const kinds = [...new Set(measurements.map((m) => m.kind))];
  return kinds.map((kind) => {
    const ms = measurements.filter((m) => m.kind === kind);
    const pick = (f: (m: StormMeasurement) => number | null) => median(ms.map(f));
    return {
      kind,
      rounds: ms.length,
      clients: ms[0]!.clients,
      p50Seconds: pick((m) => m.p50Seconds),
      // A round where not everyone came back counts as infinitely slow, not as missing.
      p99Seconds: median(ms.map((m) => m.p99Seconds ?? Number.MAX_VALUE)),
      allSeconds: median(ms.map((m) => m.allSeconds ?? Number.MAX_VALUE)),
      downSeconds: pick((m) => m.downSeconds),
      idleP99Ms: pick((m) => m.readerIdle.p99Ms),
      stormP99Ms: pick((m) => m.readerStorm.p99Ms),
      restRatio: pick((m) => m.restRatio),
      serverCpuSeconds: pick((m) => m.serverCpuSeconds),
      serverCpuPerClientUs: pick((m) => m.serverCpuPerClientUs),
      duplicates: ms.reduce((a, m) => a + m.stats.duplicates + (m.beforeRestart?.duplicates ?? 0), 0),
      lost: ms.reduce((a, m) => a + m.stats.lost + (m.beforeRestart?.lost ?? 0), 0),
      notBack: ms.reduce((a, m) => a + m.stats.notBack, 0),
      perRound: { p99Seconds: ms.map((m) => m.p99Seconds), allSeconds: ms.map((m) => m.allSeconds), restRatio: ms.map((m) => m.restRatio) },
    };
  });
}

const num = (x: number | null, digits = 2) => (x === null ? 'n/a' : x >= Number.MAX_VALUE / 2 ? 'never' : x.toFixed(digits));
const list = (xs: Array<number | null>, digits = 2) => xs.map((x) => (x === null ? 'never' : x.toFixed(digits))).join(', ');
const counts = (c: Record<string, number>) => Object.entries(c).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`).join(', ') || 'none';

export function targets(summaries: readonly StormSummary[]): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const s of summaries) {
    const within = (x: number | null, goal: number) => x !== null && x <= goal;
    rows.push({ target: `99% of ${s.clients.toLocaleString('en-US')} clients back`, kind: s.kind, value: `${num(s.p99Seconds)} s`, goal: `≤ ${GOALS.p99Seconds} s`, result: within(s.p99Seconds, GOALS.p99Seconds) ? 'PASS' : 'MISS', perRound: list(s.perRound.p99Seconds) });
    rows.push({ target: `100% of ${s.clients.toLocaleString('en-US')} clients back`, kind: s.kind, value: `${num(s.allSeconds)} s`, goal: `≤ ${GOALS.allSeconds} s`, result: within(s.allSeconds, GOALS.allSeconds) ? 'PASS' : 'MISS', perRound: list(s.perRound.allSeconds) });
    rows.push({ target: 'REST p99 during the storm / idle', kind: s.kind, value: `${num(s.restRatio)}× (${num(s.stormP99Ms, 1)} vs ${num(s.idleP99Ms, 1)} ms)`, goal: `≤ ${GOALS.restRatio}×`, result: within(s.restRatio, GOALS.restRatio) ? 'PASS' : 'MISS', perRound: list(s.perRound.restRatio) });
    if (s.kind === 'tandem') rows.push({ target: 'publications lost / duplicated (all rounds, all clients)', kind: s.kind, value: `${s.lost} / ${s.duplicates}`, goal: '0 / 0', result: s.lost === 0 && s.duplicates === 0 && s.notBack === 0 ? 'PASS' : 'MISS', perRound: '' });
  }
  return rows;
}

export function render(measurements: readonly StormMeasurement[], summaries: readonly StormSummary[], rows: readonly TargetRow[]): string {
  const out: string[] = [];
  out.push('| server | round | restart | listening after | 50% back | 99% back | 100% back | recovered / resynced | failed attempts (of) | REST p99 idle → storm | server CPU | server core to 99% | client core to 99% | other work | limited by |');
  out.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const m of measurements) {
    const outcomes = m.kind === 'tandem' ? `${m.stats.outcomes.recovered ?? 0} / ${m.stats.outcomes.resynced ?? 0}${m.stats.notBack > 0 ? ` (${m.stats.notBack} not back)` : ''}` : `n/a${m.stats.notBack > 0 ? ` (${m.stats.notBack} not back)` : ''}`;
    out.push(`| ${LABEL[m.kind]} | ${m.round} | ${m.restart} | ${m.downSeconds.toFixed(1)} s | ${num(m.p50Seconds)} s | ${num(m.p99Seconds)} s | ${num(m.allSeconds)} s | ${outcomes} | ${counts(m.stats.failed)} (${m.stats.attempts.toLocaleString('en-US')}) | ${num(m.readerIdle.p99Ms, 1)} → ${num(m.readerStorm.p99Ms, 1)} ms | ${num(m.serverCpuSeconds)} s (${num(m.serverCpuPerClientUs, 0)} µs/client) | ${pct(m.serverCoreTo99 ?? m.serverCore)} | ${pct(m.loadCoreTo99 ?? m.loadCore)} | ${m.otherCores === undefined || m.otherCores === null ? 'n/a' : `${m.otherCores.toFixed(2)} cores`} | ${m.limitedBy} |`);
  }
  out.push('');
  out.push('| server | rounds | 99% back | 100% back | REST p99 idle → storm (ratio) | server CPU per client | lost / duplicated |');
  out.push('| --- | ---: | ---: | ---: | --- | ---: | --- |');
  for (const s of summaries) {
    out.push(`| ${LABEL[s.kind]} | ${s.rounds} | ${num(s.p99Seconds)} s | ${num(s.allSeconds)} s | ${num(s.idleP99Ms, 1)} → ${num(s.stormP99Ms, 1)} ms (${num(s.restRatio)}×) | ${num(s.serverCpuPerClientUs, 0)} µs | ${s.kind === 'tandem' ? `${s.lost} / ${s.duplicates}` : 'not measured'} |`);
  }
  out.push('');
  out.push('| target | server | median | goal | result | per round |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) out.push(`| ${r.target} | ${LABEL[r.kind]} | ${r.value} | ${r.goal} | ${r.result} | ${r.perRound} |`);
  const details = measurements.filter((m) => m.kind === 'tandem').map((m) => `round ${m.round}: rec: false ${counts(m.stats.recoveryRefused)}; resync reads failed ${counts(m.stats.restFailed)}; overlap ${m.stats.overlap}; reader failures idle ${counts(m.readerIdle.failed)}, storm ${counts(m.readerStorm.failed)}`);
  if (details.length > 0) out.push('', ...details.map((d) => `- Tandem ${d}`));
  return out.join('\n');
}

const pct = (share: number | null) => (share === null ? 'n/a' : `${Math.round(share * 100)}%`);
