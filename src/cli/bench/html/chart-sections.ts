import type { BenchReport } from '../report';
import type { ChartSpec } from './charts';
import { crossoverCurves, type CrossoverRow } from './crossover';
import { bytes, decimal, ms, perSecond, strategyLabel } from './format';
import { html, type SafeHtml } from './html';
import { extras } from './sections';

/** The report's chart sections: a canvas per chart (drawn by the page's script) and the words around it. */

type Specs = ReadonlyMap<string, ChartSpec>;

function figure(specs: Specs, id: string, caption: string, size: 'wide' | 'small' | 'tall' = 'wide'): SafeHtml {
  const spec = specs.get(id);
  if (!spec) return html``;
  return html`<figure class="chart chart-${size}">
  <div class="canvas-box"><canvas id="chart-${id}" role="img" aria-label="${spec.label}"></canvas></div>
  <figcaption>${caption}</figcaption>
</figure>`;
}

export function latency(report: BenchReport, specs: Specs): SafeHtml {
  return html`<section id="latency" aria-labelledby="latency-h">
  <h2 id="latency-h">Latency: from the change to the client</h2>
  <p>Milliseconds from the change's commit on the server to the client having it. A poller waits
  for its next poll, so its latency spreads over the whole interval (${ms(report.workload.pollIntervalMs)});
  a pushed change leaves at once.</p>
  ${figure(specs, 'latency-percentiles', 'p50, p90 and p99 per strategy (log scale: push and polling differ by orders of magnitude).')}
  <div class="grid">${report.results.map((r) =>
    figure(specs, `latency-histogram-${r.strategy}`, `${strategyLabel(r.strategy)}: share of ${decimal(r.latency.count)} deliveries per latency bucket.`, 'small'),
  )}</div>
</section>`;
}

export function costs(report: BenchReport, specs: Specs): SafeHtml {
  return html`<section id="costs" aria-labelledby="costs-h">
  <h2 id="costs-h">What each update costs</h2>
  <div class="grid">
    ${figure(specs, 'bytes-per-update', 'Bytes at the socket per delivered update, both directions stacked: headers, framing and bodies. A 304 still costs its headers.', 'small')}
    ${figure(specs, 'cpu-per-1000', 'Server CPU (user + system) per 1,000 delivered updates.', 'small')}
    ${figure(specs, 'requests-per-second', 'Requests per second the server answered (push strategies make none once connected).', 'small')}
    ${figure(specs, 'memory-per-client', 'Server memory (RSS) per connected client.', 'small')}
  </div>
</section>`;
}

function crossoverCell(row: CrossoverRow | undefined): SafeHtml {
  if (!row) return html`<td>–</td>`;
  if (row.changesPerSecond !== null) return html`<td>below ${perSecond(row.changesPerSecond)}</td>`;
  if (row.cheaperEverywhere === 'push') return html`<td>at every rate swept (to ${perSecond(row.sweptTo)})</td>`;
  return html`<td class="sub">never (polling from ${perSecond(row.sweptFrom)})</td>`;
}

function crossoverTable(report: BenchReport): SafeHtml {
  const curves = crossoverCurves(report.crossover);
  const intervals = [...new Set(curves.flatMap((c) => c.rows.map((r) => r.pollIntervalMs)))].sort((a, b) => a - b);
  return html`<p class="note" id="crossover-caption">Push is cheaper for the server while a resource changes less often than this, per polling interval and payload.</p>
<div class="table-scroll"><table class="crossover" aria-labelledby="crossover-caption">
  <thead><tr><th scope="col">polling every</th>${curves.map((c) => html`<th scope="col">${bytes(c.payloadBytes)} payload</th>`)}</tr></thead>
  <tbody>${intervals.map(
    (interval) => html`<tr><th scope="row">${ms(interval)}</th>${curves.map((c) => crossoverCell(c.rows.find((r) => r.pollIntervalMs === interval)))}</tr>`,
  )}</tbody>
</table></div>`;
}

function unitCosts(report: BenchReport): SafeHtml {
  const unit = extras(report).unitCosts;
  if (!unit) return html``;
  const us = (msValue: number) => `${decimal(msValue * 1000)} µs`;
  return html`<p class="note">Unit costs measured in this run (server CPU): a 304 ${us(unit.poll304Ms)}, a 200 ${us(unit.poll200Ms)},
  a pushed update (${unit.push}) ${us(unit.pushMs)}.</p>`;
}

export function crossover(report: BenchReport, specs: Specs): SafeHtml {
  if (report.crossover.length === 0) {
    return html`<section id="crossover" aria-labelledby="crossover-h"><h2 id="crossover-h">Crossover</h2><p>This report has no crossover sweep.</p></section>`;
  }
  const curves = crossoverCurves(report.crossover);
  return html`<section id="crossover" aria-labelledby="crossover-h">
  <h2 id="crossover-h">Crossover: when push becomes cheaper</h2>
  <p>Server CPU per client-second of polling (every interval, 200 or 304) against pushing every change, from
  this run's measured costs. Squares: push is cheaper; circles: polling is. The dashed line is where they
  cost the same: below it (slow changes, frequent polls) push wins; above it, polling does.</p>
  ${unitCosts(report)}
  <div class="grid">${curves.map((c) =>
    figure(specs, `crossover-${c.payloadBytes}`, `${bytes(c.payloadBytes)} payload${c.payloadBytes === report.workload.payloadBytes ? ' (the star is this run)' : ''}.`, 'tall'),
  )}</div>
  ${crossoverTable(report)}
</section>`;
}
