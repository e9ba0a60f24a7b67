import fs from 'node:fs/promises';
import path from 'node:path';
import type { BenchReport } from '../report';
import { renderPage } from './page';

/**
 * The HTML report of `tandem bench`: one self-contained file (styles, Chart.js, data inline; a
 * hash-based Content-Security-Policy; no network) with the latency, bytes, CPU, memory and
 * crossover charts, the claims and every number in tables.
 *
 * @example const page = renderHtmlReport(report) // a complete <!doctype html> document
 */
export function renderHtmlReport(report: BenchReport): string {
  return renderPage(report);
}

/**
 * Writes `renderHtmlReport(report)` to `file`, creating its folder.
 *
 * @example await writeHtmlReport(report, 'bench-results/report.html')
 */
export async function writeHtmlReport(report: BenchReport, file: string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fs.writeFile(file, renderHtmlReport(report), 'utf8');
}

export { chartSpecs, type ChartSpec, type Unit } from './charts';
export { crossoverCurves, type CrossoverCurve, type CrossoverRow } from './crossover';
