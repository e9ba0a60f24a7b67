/**
 * Saves each chart of a `tandem bench` HTML report as a PNG, for docs/performance.md:
 *
 *   npx tsx scripts/bench-charts.ts REPORT.html OUT_DIR [--prefix=NAME-]
 *
 * Opens the report offline in Chromium (TANDEM_CHROMIUM, default /usr/bin/chromium), waits for
 * the charts to be drawn, and writes OUT_DIR/<prefix><chart id>.png for every chart figure.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [report, outDir] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const prefix = process.argv.find((a) => a.startsWith('--prefix='))?.slice(9) ?? '';
if (report === undefined || outDir === undefined) {
  process.stderr.write('usage: npx tsx scripts/bench-charts.ts REPORT.html OUT_DIR [--prefix=NAME-]\n');
  process.exit(2);
}

const browser = await chromium.launch({ executablePath: process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1, offline: true });
  const page = await context.newPage();
  await page.goto(pathToFileURL(path.resolve(report)).href, { waitUntil: 'load' });
  await page.locator('html[data-charts]').waitFor({ state: 'attached', timeout: 10_000 });
  fs.mkdirSync(outDir, { recursive: true });
  const ids = await page.locator('figure.chart canvas').evaluateAll((canvases) => canvases.map((c) => c.id));
  for (const id of ids) {
    const file = path.join(outDir, `${prefix}${id.replace(/^chart-/, '')}.png`);
    await page.locator(`figure.chart:has(#${id})`).screenshot({ path: file });
    process.stdout.write(`${file}\n`);
  }
} finally {
  await browser.close();
}
