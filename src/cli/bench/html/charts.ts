import type { ChartConfiguration } from 'chart.js';
import type { BenchReport, StrategyResult } from '../report';
import { crossoverCurves, distinct, type CrossoverCurve } from './crossover';
import { decimal, strategyColor, strategyLabel } from './format';

/**
 * The report's charts as data: Chart.js configurations with no functions in them, so they travel
 * as JSON inside the page. The page's script adds what JSON cannot hold (tick and tooltip
 * formatters) from `units`. Built here, in typed code, so the in-page script stays a thin glue.
 */

/** How the page formats an axis' values: milliseconds, bytes, a count, a share, a rate per second. */
export type Unit = 'ms' | 'bytes' | 'count' | 'percent' | 'perSecond';

export interface ChartSpec {
  /** The canvas' id is `chart-${id}`. */
  id: string;
  /** Said to screen readers (the tables below each chart hold the numbers). */
  label: string;
  config: ChartConfiguration<'bar'> | ChartConfiguration<'scatter'>;
  units: { x?: Unit; y?: Unit };
  /** Where an axis' ticks go, when not where Chart.js would put them (the crossover sweep's values). */
  ticks?: { x?: number[]; y?: number[] };
}

/**
 * A step for a bytes axis that lands on round binary numbers (512 B, 1 KiB, 1.5 KiB …, not
 * 1.46 KiB), for about six to eight ticks up to `max`.
 */
export function binaryStep(max: number): number {
  if (!(max > 0)) return 1;
  return 2 ** Math.max(0, Math.ceil(Math.log2(max / 8)));
}

function bytesAxis(max: number, title: string) {
  const stepSize = binaryStep(max);
  return { beginAtZero: true, max: Math.ceil(max / stepSize) * stepSize, ticks: { stepSize }, title: axisTitle(title) };
}

const PERCENTILE_COLORS = { p50: '#9ecae1', p90: '#4292c6', p99: '#08306b' };
const CHEAPER_COLORS = { push: '#D55E00', poll: '#0072B2' };

function strategies(report: BenchReport): { labels: string[]; colors: string[] } {
  return { labels: report.results.map((r) => strategyLabel(r.strategy)), colors: report.results.map((r) => strategyColor(r.strategy)) };
}

function axisTitle(text: string) {
  return { display: true, text };
}

/** A bar per strategy, one value each. */
function perStrategyBar(report: BenchReport, id: string, label: string, value: (r: StrategyResult) => number, unit: Unit, yTitle: string): ChartSpec {
  const { labels, colors } = strategies(report);
  return {
    id,
    label,
    units: { y: unit },
    config: {
      type: 'bar',
      data: { labels, datasets: [{ label, data: report.results.map(value), backgroundColor: colors }] },
      options: {
        plugins: { legend: { display: false } },
        scales: { y: unit === 'bytes' ? bytesAxis(Math.max(...report.results.map(value)), yTitle) : { beginAtZero: true, title: axisTitle(yTitle) } },
      },
    },
  };
}

function latencyPercentiles(report: BenchReport): ChartSpec {
  const { labels } = strategies(report);
  const datasets = (['p50', 'p90', 'p99'] as const).map((p) => ({
    label: p,
    data: report.results.map((r) => r.latency[p]),
    backgroundColor: PERCENTILE_COLORS[p],
  }));
  return {
    id: 'latency-percentiles',
    label: 'Latency from change to client, p50, p90 and p99 per strategy, logarithmic axis',
    units: { y: 'ms' },
    config: { type: 'bar', data: { labels, datasets }, options: { scales: { y: { type: 'logarithmic', title: axisTitle('ms (log scale)') } } } },
  };
}

/** A histogram's buckets in one unit, seconds once they reach 2 s: labels "0–0.5", "0.5–1" … and that unit. */
function buckets(edges: number[], count: number): { labels: string[]; unit: 'ms' | 's' } {
  const unit = edges.some((e) => e >= 2000) ? 's' : 'ms';
  const value = (n: number) => decimal(unit === 's' ? n / 1000 : n);
  const labels = Array.from({ length: count }, (_, i) => {
    const to = edges[i + 1];
    return to === undefined ? `≥ ${value(edges[i] ?? 0)}` : `${value(edges[i] ?? 0)}–${value(to)}`;
  });
  return { labels, unit };
}

function latencyHistogram(result: StrategyResult): ChartSpec {
  const { edges, counts } = result.latency.histogram;
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  const { labels, unit } = buckets(edges, counts.length);
  return {
    id: `latency-histogram-${result.strategy}`,
    label: `Latency distribution of ${strategyLabel(result.strategy)}: share of deliveries per latency bucket`,
    units: { y: 'percent' },
    config: {
      type: 'bar',
      data: {
        labels,
        datasets: [{ label: 'deliveries', data: counts.map((c) => (c * 100) / total), backgroundColor: strategyColor(result.strategy), categoryPercentage: 1, barPercentage: 0.95 }],
      },
      options: {
        plugins: { legend: { display: false }, title: { display: true, text: strategyLabel(result.strategy) } },
        scales: { y: { beginAtZero: true, title: axisTitle('% of deliveries') }, x: { title: axisTitle(`latency (${unit})`), ticks: { autoSkip: true, maxRotation: 50 } } },
      },
    },
  };
}

function bytesPerUpdate(report: BenchReport): ChartSpec {
  const { labels } = strategies(report);
  return {
    id: 'bytes-per-update',
    label: 'Bytes at the socket per delivered update, server to client and client to server, stacked',
    units: { y: 'bytes' },
    config: {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'server → client', data: report.results.map((r) => r.bytesPerUpdate.serverToClient), backgroundColor: '#332288' },
          { label: 'client → server', data: report.results.map((r) => r.bytesPerUpdate.clientToServer), backgroundColor: '#E69F00' },
        ],
      },
      options: {
        scales: {
          x: { stacked: true },
          y: { stacked: true, ...bytesAxis(Math.max(...report.results.map((r) => r.bytesPerUpdate.serverToClient + r.bytesPerUpdate.clientToServer)), 'bytes per update') },
        },
      },
    },
  };
}

/** The crossover of one payload size: the sweep's points coloured by the cheaper side, the line between them, this run. */
function crossoverChart(report: BenchReport, curve: CrossoverCurve): ChartSpec {
  const points = report.crossover.filter((p) => p.payloadBytes === curve.payloadBytes);
  // Each point also carries both costs, for the page's tooltip (Chart.js ignores other fields).
  const side = (cheaper: 'poll' | 'push') => {
    const data: { x: number; y: number; poll: number; push: number }[] = points
      .filter((p) => p.cheaper === cheaper)
      .map((p) => ({ x: p.pollIntervalMs, y: p.changesPerSecond, ...p.cpuMsPerClientSecond }));
    return data;
  };
  const line = curve.rows.filter((r) => r.changesPerSecond !== null).map((r) => ({ x: r.pollIntervalMs, y: r.changesPerSecond! }));
  const w = report.workload;
  const datasets: ChartConfiguration<'scatter'>['data']['datasets'] = [
    { label: 'push cheaper', data: side('push'), backgroundColor: CHEAPER_COLORS.push, pointStyle: 'rect', pointRadius: 7, pointHoverRadius: 9 },
    { label: 'polling cheaper', data: side('poll'), backgroundColor: CHEAPER_COLORS.poll, pointStyle: 'circle', pointRadius: 6, pointHoverRadius: 8 },
    { label: 'equal cost', data: line, showLine: true, borderColor: '#222222', borderDash: [6, 4], borderWidth: 2, pointRadius: 0, pointStyle: 'line', backgroundColor: '#222222' },
  ];
  if (w.payloadBytes === curve.payloadBytes) {
    datasets.push({ label: 'this run', data: [{ x: w.pollIntervalMs, y: w.changesPerSecond }], pointStyle: 'star', pointRadius: 12, borderWidth: 2, borderColor: '#000000', backgroundColor: '#000000' });
  }
  const intervals = distinct(points.map((p) => p.pollIntervalMs));
  const rates = distinct(points.map((p) => p.changesPerSecond));
  // A little room around the outermost points, so none is cut in half by the chart's edge.
  const padded = (values: number[]) => ({ min: values[0]! / 1.35, max: values.at(-1)! * 1.35 });
  return {
    id: `crossover-${curve.payloadBytes}`,
    label: `Crossover for ${curve.payloadBytes}-byte payloads: which strategy costs the server less at each polling interval and change rate`,
    units: { x: 'ms', y: 'perSecond' },
    ticks: { x: intervals, y: rates },
    config: {
      type: 'scatter',
      data: { datasets },
      options: {
        plugins: { legend: { labels: { usePointStyle: true } } },
        scales: {
          x: { type: 'logarithmic', ...padded(intervals), title: axisTitle('polling interval (log)') },
          y: { type: 'logarithmic', ...padded(rates), title: axisTitle('changes/s per resource (log)') },
        },
      },
    },
  };
}

/** Every chart of the report, in page order. */
export function chartSpecs(report: BenchReport): ChartSpec[] {
  return [
    latencyPercentiles(report),
    ...report.results.map(latencyHistogram),
    bytesPerUpdate(report),
    perStrategyBar(report, 'cpu-per-1000', 'Server CPU milliseconds per 1,000 delivered updates', (r) => r.serverCpuMsPer1000Updates, 'ms', 'CPU ms per 1,000 updates'),
    perStrategyBar(report, 'requests-per-second', 'Requests per second the server answered', (r) => r.requestsPerSecond, 'count', 'requests/s'),
    perStrategyBar(report, 'memory-per-client', 'Server memory per connected client', (r) => r.serverMemoryPerClientBytes, 'bytes', 'bytes per client'),
    ...crossoverCurves(report.crossover).map((curve) => crossoverChart(report, curve)),
  ];
}
