import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BenchReport } from '../report';
import { costs, crossover, latency } from './chart-sections';
import { chartSpecs } from './charts';
import { html, jsonForScript, SafeHtml } from './html';
import { claims, header, resultsTable, summary, workloadAndMachine } from './sections';

/**
 * The report as one HTML document: styles, Chart.js, the page's script and the data all inline, so
 * the file opens offline. A Content-Security-Policy allows exactly those inline blocks, by hash,
 * and nothing else: no network, no other script, no inline handlers.
 */

interface Assets {
  css: string;
  chartJs: string;
  pageJs: string;
}

let cached: Assets | undefined;

/** Text that must sit inside a <script> element cannot contain its end tag or a comment opener. */
function inlineable(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function assets(): Assets {
  if (cached) return cached;
  const here = (file: string) => fs.readFileSync(new URL(`./assets/${file}`, import.meta.url), 'utf8');
  // chart.js exports no path to its UMD build: find the package through its main entry.
  const chartDist = path.dirname(createRequire(import.meta.url).resolve('chart.js'));
  const chartJs = fs.readFileSync(path.join(chartDist, 'chart.umd.min.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  cached = { css: here('report.css'), chartJs: inlineable(chartJs), pageJs: inlineable(here('report-page.js')) };
  return cached;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function contentSecurityPolicy(a: Assets): string {
  return [
    "default-src 'none'",
    `script-src ${sha256(a.chartJs)} ${sha256(a.pageJs)}`,
    `style-src ${sha256(a.css)}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

function nav(): SafeHtml {
  const links: [string, string][] = [
    ['summary', 'Summary'],
    ['claims', 'Claims'],
    ['latency', 'Latency'],
    ['costs', 'Costs'],
    ['crossover', 'Crossover'],
    ['results', 'All numbers'],
    ['setup', 'Workload and machine'],
  ];
  return html`<nav aria-label="Sections"><ul>${links.map(([id, text]) => html`<li><a href="#${id}">${text}</a></li>`)}</ul></nav>`;
}

/**
 * The report as a self-contained HTML page.
 *
 * @example fs.writeFileSync('report.html', renderHtmlReport(report))
 */
export function renderPage(report: BenchReport): string {
  const a = assets();
  const specs = chartSpecs(report);
  const byId = new Map(specs.map((s) => [s.id, s]));
  // Inline blocks are put in as SafeHtml: their hashes must match their text byte for byte.
  const raw = (text: string) => new SafeHtml(text);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(a)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light">
<title>Tandem bench report · ${report.startedAt}</title>
<style>${raw(a.css)}</style>
</head>
<body>
${nav()}
<main>
${header(report)}
${summary(report)}
${claims(report)}
${latency(report, byId)}
${costs(report, byId)}
${crossover(report, byId)}
${resultsTable(report)}
${workloadAndMachine(report)}
</main>
<footer><p>Written by <code>tandem bench</code>. Charts drawn by Chart.js (MIT licence), bundled into this file: it needs no network.
The report's data is in this page as JSON (<code>#tandem-bench-report</code>).</p>
<noscript><p class="warning">Scripts are off, so the charts are not drawn; every number is in the tables.</p></noscript></footer>
<script type="application/json" id="tandem-bench-report">${raw(jsonForScript(report))}</script>
<script type="application/json" id="tandem-bench-charts">${raw(jsonForScript(specs))}</script>
<script>${raw(a.chartJs)}</script>
<script>${raw(a.pageJs)}</script>
</body>
</html>
`.toString();
}
