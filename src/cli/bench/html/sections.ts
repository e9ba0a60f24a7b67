import type { BenchReport, ClaimCheck, StrategyResult } from '../report';
import { bytes, count, decimal, ms, percent, perSecond, strategyLabel } from './format';
import { html, type SafeHtml } from './html';

/** The report's text parts: header, summary cards, claims, tables. Every report string is escaped by `html`. */

/** Optional fields newer reports carry (additive to the contract): shown when present. */
export interface ReportExtras {
  notes?: string[];
  unitCosts?: { poll304Ms: number; poll200Ms: number; pushMs: number; push: string };
  clientProfile?: { headers: string; pollAuth: string };
}

export function extras(report: BenchReport): ReportExtras {
  return report as BenchReport & ReportExtras;
}

function duration(report: BenchReport): string {
  const seconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  return Number.isFinite(seconds) ? ms(seconds * 1000) : 'unknown';
}

export function header(report: BenchReport): SafeHtml {
  const w = report.workload;
  return html`<header class="page-header">
  <p class="kicker">tandem bench · report version ${report.version}</p>
  <h1>Polling or push: what each costs</h1>
  <p class="lede">${count(w.clients)} clients per strategy, ${count(w.watchersPerResource)} watching each resource; every resource
  changed ${perSecond(w.changesPerSecond)} with a ${bytes(w.payloadBytes)} payload; pollers asked every ${ms(w.pollIntervalMs)}.
  Each strategy was measured for ${ms(w.durationSeconds * 1000)} after ${ms(w.warmupSeconds * 1000)} of warm-up.</p>
  <p class="meta">Started <time datetime="${report.startedAt}">${report.startedAt}</time> · took ${duration(report)} ·
  target: ${report.machine.target}</p>
</header>`;
}

function deliveredShare(r: StrategyResult): string {
  return r.expected > 0 ? percent(r.delivered / r.expected) : 'n/a';
}

function card(r: StrategyResult): SafeHtml {
  return html`<article class="card" data-strategy="${r.strategy}">
  <h3><span class="swatch swatch-${r.strategy}" aria-hidden="true"></span>${strategyLabel(r.strategy)}</h3>
  <dl>
    <div><dt>p99 latency</dt><dd>${ms(r.latency.p99)}</dd></div>
    <div><dt>bytes per update</dt><dd>${bytes(r.bytesPerUpdate.serverToClient + r.bytesPerUpdate.clientToServer)}</dd></div>
    <div><dt>CPU per 1,000 updates</dt><dd>${ms(r.serverCpuMsPer1000Updates)}</dd></div>
    <div><dt>memory per client</dt><dd>${bytes(r.serverMemoryPerClientBytes)}</dd></div>
    <div><dt>delivered</dt><dd>${deliveredShare(r)}</dd></div>
  </dl>
</article>`;
}

export function summary(report: BenchReport): SafeHtml {
  const notes = extras(report).notes ?? [];
  return html`<section id="summary" aria-labelledby="summary-h">
  <h2 id="summary-h">At a glance</h2>
  <div class="cards">${report.results.map(card)}</div>
  ${notes.length > 0 ? html`<div class="run-notes"><h3>About this run</h3><ul>${notes.map((n) => html`<li>${n}</li>`)}</ul></div>` : ''}
</section>`;
}

const VERDICTS: Record<string, { text: string; mark: string; cls: string }> = {
  true: { text: 'Holds', mark: '✓', cls: 'yes' },
  partly: { text: 'Partly', mark: '≈', cls: 'partly' },
  false: { text: 'Does not hold', mark: '✗', cls: 'no' },
};

function claim(c: ClaimCheck): SafeHtml {
  const v = VERDICTS[String(c.holds)] ?? { text: String(c.holds), mark: '?', cls: 'partly' };
  return html`<li class="claim" data-claim="${c.id}">
  <p class="verdict verdict-${v.cls}"><span aria-hidden="true">${v.mark}</span> ${v.text}</p>
  <blockquote>${c.claim}</blockquote>
  <p class="evidence">${c.evidence}</p>
</li>`;
}

export function claims(report: BenchReport): SafeHtml {
  return html`<section id="claims" aria-labelledby="claims-h">
  <h2 id="claims-h">The article's claims, checked</h2>
  <p class="note">From “WebSocket vs REST API”: each claim against this run's numbers.</p>
  <ul class="claims">${report.claims.map(claim)}</ul>
</section>`;
}

function deliveryRow(r: StrategyResult): SafeHtml {
  return html`<tr>
  <th scope="row">${strategyLabel(r.strategy)}</th>
  <td>${count(r.delivered)} / ${count(r.expected)} <span class="sub">(${deliveredShare(r)})</span></td>
  <td>${count(r.staleReads)}</td>
  <td>${ms(r.latency.p50)}</td><td>${ms(r.latency.p90)}</td><td>${ms(r.latency.p99)}</td><td>${ms(r.latency.max)}</td><td>${ms(r.latency.mean)}</td>
</tr>`;
}

function costRow(r: StrategyResult): SafeHtml {
  return html`<tr>
  <th scope="row">${strategyLabel(r.strategy)}</th>
  <td>${count(r.requests)} <span class="sub">(${perSecond(r.requestsPerSecond)})</span></td>
  <td>${bytes(r.bytesPerUpdate.serverToClient)}</td>
  <td>${bytes(r.bytesPerUpdate.clientToServer)}</td>
  <td>${bytes(r.bytes.serverToClient + r.bytes.clientToServer)}</td>
  <td>${decimal(r.serverCpuMs)} ms</td>
  <td>${decimal(r.serverCpuMsPer1000Updates)} ms</td>
  <td>${bytes(r.serverMemoryPerClientBytes)}</td>
</tr>`;
}

export function resultsTable(report: BenchReport): SafeHtml {
  return html`<section id="results" aria-labelledby="results-h">
  <h2 id="results-h">All numbers</h2>
  <p class="note" id="delivery-caption">Delivery, per strategy during the measured window. Latency runs from the change's commit to the client having it.</p>
  <div class="table-scroll"><table aria-labelledby="delivery-caption">
    <thead><tr>
      <th scope="col">strategy</th><th scope="col">delivered / expected</th><th scope="col">stale reads</th>
      <th scope="col">p50</th><th scope="col">p90</th><th scope="col">p99</th><th scope="col">max</th><th scope="col">mean</th>
    </tr></thead>
    <tbody>${report.results.map(deliveryRow)}</tbody>
  </table></div>
  <p class="note" id="cost-caption">Cost, per strategy during the measured window. Bytes are TCP payload at the socket (headers, framing, bodies); ↓ server to client, ↑ client to server.</p>
  <div class="table-scroll"><table aria-labelledby="cost-caption">
    <thead><tr>
      <th scope="col">strategy</th><th scope="col">requests</th><th scope="col">bytes / update ↓</th><th scope="col">bytes / update ↑</th>
      <th scope="col">bytes, total</th><th scope="col">server CPU</th><th scope="col">CPU / 1,000 updates</th><th scope="col">memory / client</th>
    </tr></thead>
    <tbody>${report.results.map(costRow)}</tbody>
  </table></div>
  ${strategyDetails(report)}
</section>`;
}

function strategyDetails(report: BenchReport): SafeHtml {
  return html`<dl class="details">${report.results.map(
    (r) => html`<div><dt>${strategyLabel(r.strategy)} <code>${r.strategy}</code></dt><dd>${r.description}${
      r.notes.length > 0 ? html`<ul class="notes">${r.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ''
    }</dd></div>`,
  )}</dl>`;
}

function definitionList(entries: [string, string][]): SafeHtml {
  return html`<dl class="facts">${entries.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

function clientProfile(report: BenchReport): [string, string][] {
  const profile = extras(report).clientProfile;
  if (!profile) return [];
  const headers = profile.headers === 'browser' ? 'browser-like request headers' : profile.headers === 'minimal' ? 'minimal request headers' : profile.headers;
  const auth = profile.pollAuth === 'token' ? 'polls carry an access token' : profile.pollAuth === 'none' ? 'polls carry no credentials' : profile.pollAuth;
  return [['clients sent', `${headers}; ${auth}`]];
}

export function workloadAndMachine(report: BenchReport): SafeHtml {
  const w = report.workload;
  const m = report.machine;
  return html`<section id="setup" aria-labelledby="setup-h">
  <h2 id="setup-h">Workload and machine</h2>
  <div class="two">
    <div><h3>Workload</h3>${definitionList([
      ['clients per strategy', count(w.clients)],
      ['watchers per resource', `${count(w.watchersPerResource)} (${count(Math.ceil(w.clients / Math.max(1, w.watchersPerResource)))} resources)`],
      ['changes per resource', perSecond(w.changesPerSecond)],
      ['payload', bytes(w.payloadBytes)],
      ['polling interval', ms(w.pollIntervalMs)],
      ['measured', `${ms(w.durationSeconds * 1000)} per strategy`],
      ['warm-up', `${ms(w.warmupSeconds * 1000)} per strategy`],
      ...clientProfile(report),
    ])}</div>
    <div><h3>Machine</h3>${definitionList([
      ['node', m.node],
      ['CPU', `${m.cpuModel} × ${m.cpus}`],
      ['platform', m.platform],
      ['target', m.target],
      ['run', `${report.startedAt} → ${report.finishedAt}`],
    ])}</div>
  </div>
</section>`;
}
