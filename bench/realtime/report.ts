/**
 * The markdown tables printed after a run (or by --report): deliveries per scenario, idle memory
 * per connection, and the targets.
 */
import { fmt, fmtInt, pct } from './format';
import type { Measurement, MemoryMeasurement } from './measure';
import { LABEL, opts } from './settings';
import { summarize, summarizeMemory, type MemorySummary, type Summary } from './summary';
import { targets, type Target } from './targets';

/** SSE / WebSocket on the same Tandem server, when both were benched: medians and the ratio in each round. */
function sseComparison(summary: Summary[], measurements: Measurement[]): string[] {
  if (!opts.servers.includes('tandem') || !opts.servers.includes('tandem-sse')) return [];
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);
  const lines = ['| subscribers | scenario | server CPU µs/delivery, WS → SSE | SSE / WS | per round | p50 ms, WS → SSE | p99 ms, WS → SSE | deliveries/s, WS → SSE |', '| ---: | --- | --- | ---: | --- | --- | --- | --- |'];
  for (const n of opts.sizes) {
    for (const mode of opts.modes) {
      const ws = summary.find((s) => s.server === 'tandem' && s.subscribers === n && s.mode === mode);
      const sse = summary.find((s) => s.server === 'tandem-sse' && s.subscribers === n && s.mode === mode);
      if (ws === undefined || sse === undefined) continue;
      const perRound = Array.from({ length: opts.rounds }, (_, i) => i + 1).flatMap((round) => {
        const find = (server: 'tandem' | 'tandem-sse') => measurements.find((m) => m.round === round && m.server === server && m.subscribers === n && m.mode === mode && m.valid);
        const r = ratio(find('tandem-sse')?.serverCpuMicrosPerDelivery, find('tandem')?.serverCpuMicrosPerDelivery);
        return r === null ? [] : [fmt(r, 2)];
      });
      lines.push(
        `| ${n.toLocaleString('en-US')} | ${mode} | ${fmt(ws.serverCpuMicrosPerDelivery, 2)} → ${fmt(sse.serverCpuMicrosPerDelivery, 2)} | ${fmt(ratio(sse.serverCpuMicrosPerDelivery, ws.serverCpuMicrosPerDelivery), 2)}× | ${perRound.join(', ')} | ` +
          `${fmt(ws.p50Ms, 2)} → ${fmt(sse.p50Ms, 2)} | ${fmt(ws.p99Ms, 2)} → ${fmt(sse.p99Ms, 2)} | ${fmtInt(ws.deliveriesPerSecond)} → ${fmtInt(sse.deliveriesPerSecond)} |`,
      );
    }
  }
  return ['', ...lines];
}

function markdown(summary: Summary[], mem: MemorySummary[], goals: Target[], measurements: Measurement[]): string {
  const lines: string[] = [];
  lines.push('| subscribers | scenario | server | deliveries/s | server CPU µs/delivery | p50 ms | p99 ms | server core | client core | limited by |');
  lines.push('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const s of summary) {
    const runs = s.validRuns === s.runs ? '' : ` (${s.validRuns}/${s.runs} valid)`;
    lines.push(
      `| ${s.subscribers.toLocaleString('en-US')} | ${s.mode} | ${LABEL[s.server]}${runs} | ${fmtInt(s.deliveriesPerSecond)} | ${fmt(s.serverCpuMicrosPerDelivery, 2)} | ${fmt(s.p50Ms, 2)} | ${fmt(s.p99Ms, 2)} | ${pct(s.serverCoreUse)} | ${pct(s.clientCoreUse)} | ${s.limitedBy} |`,
    );
  }
  lines.push('');
  const kib = (v: number | null) => (v === null ? 'n/a' : `${fmt(v / 1024, 2)} KiB`);
  lines.push('| connections | server | idle RSS per connection | marginal RSS per added connection | JS heap per connection | server CPU to connect, ms per 1,000 |');
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const m of mem) {
    lines.push(`| ${m.subscribers.toLocaleString('en-US')} | ${LABEL[m.server]} | ${kib(m.bytesPerConnection)} | ${kib(m.marginalBytesPerConnection)} | ${kib(m.heapBytesPerConnection)} | ${fmt(m.connectCpuMsPer1000, 0)} |`);
  }
  lines.push(...sseComparison(summary, measurements));
  if (goals.length === 0) return lines.join('\n');
  lines.push('');
  lines.push('| target | Tandem / other (medians) | goal | result | detail | ratio in each round | by server CPU per delivery |');
  lines.push('| --- | ---: | --- | --- | --- | --- | ---: |');
  for (const g of goals) {
    const cpu = g.byCpu === null ? '' : `${fmt(g.byCpu, 2)}×`;
    const rounds = g.perRound.map((r) => fmt(r, 2)).join(', ');
    lines.push(`| ${g.name} | ${fmt(g.measured, 2)}${g.unit ?? '×'} | ${g.goal} | ${g.pass === null ? 'n/a' : g.pass ? 'PASS' : 'MISS'} | ${g.detail} | ${rounds} | ${cpu} |`);
  }
  return lines.join('\n');
}

/** Medians, memory medians and targets of the measurements, and the markdown that shows them. */
export function render(measurements: Measurement[], memory: MemoryMeasurement[]): { summary: Summary[]; mem: MemorySummary[]; goals: Target[]; table: string } {
  const summary = summarize(measurements);
  const mem = summarizeMemory(memory);
  const goals = targets({ summary, mem, measurements, memory });
  return { summary, mem, goals, table: markdown(summary, mem, goals, measurements) };
}
