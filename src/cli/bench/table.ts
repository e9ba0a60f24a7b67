/** The summary `tandem bench` prints at the end, pure: a table per strategy, the crossover, the claims. */
import { bytes, interval, ms, num, rate } from './format';
import type { BenchReport } from './report';

/** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function resultsTable(report: BenchReport): string {
  const header = ['strategy', 'delivered', 'B/update up', 'B/update down', 'p50', 'p99', 'stale', 'CPU ms/1k upd', 'RSS/client', 'heap/client', 'req/s'];
  const rows = report.results.map((r) => [
    r.strategy,
    `${num(r.delivered)}/${num(r.expected)}`,
    num(r.bytesPerUpdate.clientToServer),
    num(r.bytesPerUpdate.serverToClient),
    ms(r.latency.p50),
    ms(r.latency.p99),
    num(r.staleReads),
    num(r.serverCpuMsPer1000Updates, 1),
    bytes(r.serverMemoryPerClientBytes),
    r.serverHeapPerClientBytes === undefined ? '-' : bytes(r.serverHeapPerClientBytes),
    num(r.requestsPerSecond, 1),
  ]);
  return renderTable(header, rows);
}

function crossoverLines(report: BenchReport): string[] {
  if (report.unitCosts === undefined || report.breakEven === undefined) return ['Crossover: not computed (needs poll-etag and websocket or sse).'];
  const c = report.unitCosts;
  const capacity = report.results.find((r) => r.capacity !== undefined)?.capacity;
  const lines = [
    `Server CPU per answer or update at this pace: 304 ${ms(c.poll304Ms)}, 200 ${ms(c.poll200Ms)}, ${c.push} push ${ms(c.pushMs)}.`,
    ...(capacity === undefined ? [] : [`Back to back (the capacity probe): ${num(capacity.requestsPerSecond)} 304s/s, ${ms(capacity.serverCpuMsPerRequest)} of server CPU each (${num(capacity.serverCpuShare * 100)}% of a core busy).`]),
    'Push costs the server less than ETag polling while the resource changes less often than:',
  ];
  for (const point of report.breakEven) {
    const perSecond = point.changesPerSecond;
    lines.push(`  polling every ${interval(point.pollIntervalMs).padEnd(7)} ${perSecond === null ? 'at any rate' : `${rate(perSecond)} (${num((perSecond * point.pollIntervalMs) / 1000, 1)} changes per poll interval)`}`);
  }
  return lines;
}

function claimLines(report: BenchReport): string[] {
  const verdict = (holds: boolean | 'partly') => (holds === true ? 'HOLDS' : holds === 'partly' ? 'PARTLY' : 'DOES NOT HOLD');
  const unchecked = (report.notes ?? []).filter((note) => note.startsWith('Not checked:'));
  return [...report.claims.flatMap((claim) => [`[${verdict(claim.holds)}] ${claim.claim}`, `  ${claim.evidence}`]), ...unchecked.map((note) => `[NOT CHECKED] ${note.slice('Not checked: '.length)}`)];
}

/** The whole summary, for stdout. */
export function renderSummary(report: BenchReport): string {
  const w = report.workload;
  return [
    `tandem bench: ${num(w.clients)} clients, ${w.watchersPerResource} per resource, each resource changing ${rate(w.changesPerSecond)}, ${num(w.payloadBytes)} B payload, polls every ${interval(w.pollIntervalMs)}, ${w.durationSeconds} s measured per strategy.`,
    `Target: ${report.machine.target}; ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}.`,
    '',
    resultsTable(report),
    ...report.results.flatMap((r) => r.notes.map((note) => `  ${r.strategy}: ${note}`)),
    '',
    ...crossoverLines(report),
    '',
    ...claimLines(report),
  ].join('\n');
}
