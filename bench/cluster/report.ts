/**
 * Medians over the rounds, the three targets (pass/fail, with the ratio in each round), and the
 * Markdown tables printed at the end of a run (and pasted into docs/performance.md).
 */
import type { FanoutMeasurement, SetupKind } from './fanout-phase';
import type { Collected } from './rounds';
import { GOALS } from './settings';
import type { StormMeasurement } from './storm';

export function median(values: readonly (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

const f = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
const int = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${Math.round(x * 100)}%`);

export interface SetupSummary {
  setup: SetupKind;
  rounds: number;
  valid: boolean;
  deliveriesPerSecond: number | null;
  offeredDeliveriesPerSecond: number;
  serverCpuMicrosPerDelivery: number | null;
  cpuMicrosPerDelivery: Record<string, number | null>;
  coreShare: Record<string, number | null>;
  latency: Record<string, { p50Ms: number | null; p99Ms: number | null }>;
  restP50Ms: number | null;
  restP99Ms: number | null;
  serverCore: number | null;
  loadCore: number | null;
  /** Other work on the two cores during the windows (median), in cores: the noise. */
  foreignCores: number | null;
  limitedBy: string[];
}

function summarizeSetup(setup: SetupKind, ms: FanoutMeasurement[]): SetupSummary | undefined {
  if (ms.length === 0) return undefined;
  const keys = (pick: (m: FanoutMeasurement) => Record<string, unknown>) => [...new Set(ms.flatMap((m) => Object.keys(pick(m))))];
  const byKey = <T>(pick: (m: FanoutMeasurement) => Record<string, T>, value: (t: T) => number | null) =>
    Object.fromEntries(keys(pick).map((k) => [k, median(ms.map((m) => (pick(m)[k] === undefined ? null : value(pick(m)[k]!))))]));
  const p50 = byKey((m) => m.latency, (l) => l.p50Ms);
  const p99 = byKey((m) => m.latency, (l) => l.p99Ms);
  return {
    setup,
    rounds: ms.length,
    valid: ms.every((m) => m.valid),
    deliveriesPerSecond: median(ms.map((m) => m.deliveriesPerSecond)),
    offeredDeliveriesPerSecond: ms[0]!.offeredDeliveriesPerSecond,
    serverCpuMicrosPerDelivery: median(ms.map((m) => m.serverCpuMicrosPerDelivery)),
    cpuMicrosPerDelivery: byKey((m) => m.cpuMicrosPerDelivery, (v) => v),
    coreShare: byKey((m) => m.coreShare, (v) => v),
    latency: Object.fromEntries(Object.keys(p50).map((k) => [k, { p50Ms: p50[k] ?? null, p99Ms: p99[k] ?? null }])),
    restP50Ms: median(ms.map((m) => m.rest.p50Ms)),
    restP99Ms: median(ms.map((m) => m.rest.p99Ms)),
    serverCore: median(ms.map((m) => m.serverCore)),
    loadCore: median(ms.map((m) => m.loadCore)),
    foreignCores: median(ms.map((m) => m.foreignCores)),
    limitedBy: ms.map((m) => m.limitedBy),
  };
}

export interface StormSummary {
  rounds: number;
  clients: number;
  via: string;
  allRecoveredEveryRound: boolean;
  seconds: number | null;
  p50Seconds: number | null;
  p99Seconds: number | null;
  closesNoticedSeconds: number | null;
  nodeAMicrosPerClient: number | null;
  cpuSeconds: Record<string, number | null>;
  serverCore: number | null;
  loadCore: number | null;
  foreignCores: number | null;
  failed: Record<string, number>;
  recoveryRefused: Record<string, number>;
}

function summarizeStorms(storms: StormMeasurement[]): StormSummary | undefined {
  if (storms.length === 0) return undefined;
  const sum = (pick: (s: StormMeasurement) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const s of storms) for (const [k, v] of Object.entries(pick(s))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const groups = [...new Set(storms.flatMap((s) => Object.keys(s.cpuSeconds)))];
  return {
    rounds: storms.length,
    clients: storms[0]!.clients,
    via: storms[0]!.via,
    allRecoveredEveryRound: storms.every((s) => s.valid),
    // A round where some client never recovered has no time: the median is then over the others, and the target fails.
    seconds: median(storms.map((s) => s.seconds)),
    p50Seconds: median(storms.map((s) => s.p50Seconds)),
    p99Seconds: median(storms.map((s) => s.p99Seconds)),
    closesNoticedSeconds: median(storms.map((s) => s.closesNoticedSeconds)),
    nodeAMicrosPerClient: median(storms.map((s) => s.nodeAMicrosPerClient)),
    cpuSeconds: Object.fromEntries(groups.map((g) => [g, median(storms.map((s) => s.cpuSeconds[g]))])),
    serverCore: median(storms.map((s) => s.serverCore)),
    loadCore: median(storms.map((s) => s.loadCore)),
    foreignCores: median(storms.map((s) => s.foreignCores)),
    failed: sum((s) => s.failed),
    recoveryRefused: sum((s) => s.recoveryRefused),
  };
}

export interface Target {
  target: string;
  goal: string;
  value: string;
  result: 'PASS' | 'FAIL' | 'NOT MEASURED' | 'info';
  perRound: string;
  detail: string;
}

function pairRatios(collected: Collected, value: (m: FanoutMeasurement) => number | null): number[] {
  const out: number[] = [];
  for (const c of collected.fanout.filter((m) => m.setup === 'cluster')) {
    const s = collected.fanout.find((m) => m.setup === 'single' && m.round === c.round);
    const a = value(c);
    const b = s === undefined ? null : value(s);
    if (a !== null && b !== null && b > 0) out.push(a / b);
  }
  return out;
}

function targets(collected: Collected, single: SetupSummary | undefined, cluster: SetupSummary | undefined, storm: StormSummary | undefined): Target[] {
  const out: Target[] = [];
  const cpu = single?.serverCpuMicrosPerDelivery && cluster?.serverCpuMicrosPerDelivery ? cluster.serverCpuMicrosPerDelivery / single.serverCpuMicrosPerDelivery : null;
  out.push({
    target: 'server CPU per delivery, cluster (nodes A + B + Redis) vs single node',
    goal: `≤ ${GOALS.cpuRatio}×`,
    value: cpu === null ? 'n/a' : `${cpu.toFixed(2)}×`,
    result: cpu === null ? 'NOT MEASURED' : cpu <= GOALS.cpuRatio ? 'PASS' : 'FAIL',
    perRound: pairRatios(collected, (m) => m.serverCpuMicrosPerDelivery).map((r) => r.toFixed(2)).join(', '),
    detail: `${f(cluster?.serverCpuMicrosPerDelivery)} vs ${f(single?.serverCpuMicrosPerDelivery)} µs`,
  });
  const withPostgres = (s: SetupSummary | undefined) =>
    s?.serverCpuMicrosPerDelivery == null ? null : s.serverCpuMicrosPerDelivery + (s.cpuMicrosPerDelivery.postgres ?? 0);
  const pgRatio = withPostgres(cluster) !== null && withPostgres(single) ? withPostgres(cluster)! / withPostgres(single)! : null;
  out.push({
    target: '… the same with the PostgreSQL backends of the nodes counted (the cluster also writes the outbox)',
    goal: '(no goal)',
    value: pgRatio === null ? 'n/a' : `${pgRatio.toFixed(2)}×`,
    result: 'info',
    perRound: pairRatios(collected, (m) => m.serverCpuMicrosPerDelivery + (m.cpuMicrosPerDelivery.postgres ?? 0)).map((r) => r.toFixed(2)).join(', '),
    detail: `${f(withPostgres(cluster))} vs ${f(withPostgres(single))} µs`,
  });
  const crossP99 = cluster?.latency.B?.p99Ms ?? null;
  const singleP99 = single?.latency.single?.p99Ms ?? null;
  const p99 = crossP99 !== null && singleP99 !== null && singleP99 > 0 ? crossP99 / singleP99 : null;
  out.push({
    target: 'p99 publish→deliver, cross-node (subscribers on B) vs single node, same load',
    goal: `≤ ${GOALS.p99Ratio}×`,
    value: p99 === null ? 'n/a' : `${p99.toFixed(2)}×`,
    result: p99 === null ? 'NOT MEASURED' : p99 <= GOALS.p99Ratio ? 'PASS' : 'FAIL',
    perRound: pairRatios(collected, (m) => m.latency.B?.p99Ms ?? m.latency.single?.p99Ms ?? null).map((r) => r.toFixed(2)).join(', '),
    detail: `${f(crossP99)} ms vs ${f(singleP99)} ms`,
  });
  if (storm === undefined) {
    out.push({ target: `reconnect storm of ${GOALS.stormClients.toLocaleString('en-US')} clients, all recovered`, goal: `≤ ${GOALS.stormSeconds} s`, value: 'n/a', result: 'NOT MEASURED', perRound: '', detail: '--storm-clients=0' });
  } else {
    const atSize = storm.clients >= GOALS.stormClients;
    const pass = storm.allRecoveredEveryRound && storm.seconds !== null && storm.seconds <= GOALS.stormSeconds;
    out.push({
      target: `reconnect storm of ${storm.clients.toLocaleString('en-US')} clients (kill -9 node B, reconnect via ${storm.via}), all recovered`,
      goal: `≤ ${GOALS.stormSeconds} s at ${GOALS.stormClients.toLocaleString('en-US')}`,
      value: storm.seconds === null ? 'never all' : `${storm.seconds.toFixed(2)} s`,
      result: !atSize ? 'NOT MEASURED' : pass ? 'PASS' : 'FAIL',
      perRound: collected.storms.map((s) => (s.seconds === null ? `${s.recovered}/${s.clients}` : s.seconds.toFixed(2))).join(', '),
      detail: atSize ? `p50 ${f(storm.p50Seconds)} s, p99 ${f(storm.p99Seconds)} s` : `only ${storm.clients} clients (--quick or --storm-clients)`,
    });
  }
  return out;
}

export function summarize(collected: Collected) {
  const single = summarizeSetup('single', collected.fanout.filter((m) => m.setup === 'single'));
  const cluster = summarizeSetup('cluster', collected.fanout.filter((m) => m.setup === 'cluster'));
  const storm = summarizeStorms(collected.storms);
  return { single, cluster, storm, targets: targets(collected, single, cluster, storm) };
}

/** The Markdown tables of a summary. */
export function render(summary: ReturnType<typeof summarize>): string {
  const { single, cluster, storm } = summary;
  const lines: string[] = [];
  lines.push('| setup | deliveries/s (offered) | server CPU µs/delivery | of which | p50 ms | p99 ms | REST p50 / p99 ms | server core | load core | other work, cores | limited by |');
  lines.push('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const row = (s: SetupSummary, label: string, group: string, first: boolean) => {
    const parts = Object.entries(s.cpuMicrosPerDelivery).filter(([g]) => g.startsWith('node') || g === 'redis').map(([g, v]) => `${g} ${f(v)}`).join(', ');
    const side = Object.entries(s.cpuMicrosPerDelivery).filter(([g]) => !(g.startsWith('node') || g === 'redis')).map(([g, v]) => `${g} ${f(v)}`).join(', ');
    const lat = s.latency[group];
    lines.push(
      `| ${label} | ${first ? `${int(s.deliveriesPerSecond)} (${int(s.offeredDeliveriesPerSecond)})` : ''} | ${first ? f(s.serverCpuMicrosPerDelivery) : ''} | ${first ? `${parts}; besides: ${side}` : ''} | ` +
        `${f(lat?.p50Ms)} | ${f(lat?.p99Ms)} | ${first ? `${f(s.restP50Ms)} / ${f(s.restP99Ms)}` : ''} | ${first ? pct(s.serverCore) : ''} | ${first ? pct(s.loadCore) : ''} | ${first ? f(s.foreignCores) : ''} | ${first ? (s.limitedBy[Math.floor(s.limitedBy.length / 2)] ?? '') : ''} |`,
    );
  };
  if (single !== undefined) row(single, 'one node, memory broker', 'single', true);
  if (cluster !== undefined) {
    row(cluster, 'two nodes, Redis broker: all subscribers', 'all', true);
    row(cluster, '… on node A (the publisher\'s node)', 'A', false);
    row(cluster, '… on node B (across nodes)', 'B', false);
  }
  if (storm !== undefined) {
    lines.push('');
    lines.push('| storm clients | via | all recovered, s | p50 s | p99 s | closes noticed, s | node A CPU µs/client | CPU s in the storm | server core | load core | other work, cores | failed attempts | rec: false |');
    lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |');
    lines.push(
      `| ${int(storm.clients)} | ${storm.via} | ${storm.allRecoveredEveryRound ? f(storm.seconds) : `${f(storm.seconds)} (not all, some rounds)`} | ${f(storm.p50Seconds)} | ${f(storm.p99Seconds)} | ${f(storm.closesNoticedSeconds)} | ` +
        `${int(storm.nodeAMicrosPerClient)} | ${Object.entries(storm.cpuSeconds).map(([g, v]) => `${g} ${f(v)}`).join(', ')} | ${pct(storm.serverCore)} | ${pct(storm.loadCore)} | ${f(storm.foreignCores)} | ` +
        `${Object.keys(storm.failed).length === 0 ? 'none' : JSON.stringify(storm.failed)} | ${Object.keys(storm.recoveryRefused).length === 0 ? 'none' : JSON.stringify(storm.recoveryRefused)} |`,
    );
  }
  lines.push('');
  lines.push('| target | goal | cluster / single (medians) | result | per round | detail |');
  lines.push('| --- | --- | ---: | --- | --- | --- |');
  for (const t of summary.targets) lines.push(`| ${t.target} | ${t.goal} | ${t.value} | ${t.result} | ${t.perRound} | ${t.detail} |`);
  return lines.join('\n');
}
