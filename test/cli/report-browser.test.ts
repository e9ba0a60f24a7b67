import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartSpecs, renderHtmlReport } from '../../src/cli/bench/html/index';
import type { BenchReport } from '../../src/cli/bench/report';
import { CHROMIUM, SHOTS } from '../e2e/browser';

/**
 * The HTML report in a real Chromium, offline: every request but the file itself is aborted, and
 * the charts must still be drawn with no console error and no CSP violation. Screenshots go to
 * test-output/screenshots/bench-report-*.png for a person to look at.
 */

const fixture = JSON.parse(fs.readFileSync('test/cli/fixtures/bench-report.json', 'utf8')) as BenchReport;
// A hostile note: if it ever became markup, the page would hold an <img> and run its handler.
const HOSTILE = '</script><img src=x onerror="document.title=\'owned\'"><!-- & </style>';
const report: BenchReport = { ...fixture, results: fixture.results.map((r, i) => (i === 0 ? { ...r, notes: [...r.notes, HOSTILE] } : r)) };

let browser: Browser;
let dir: string;
let file: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-report-'));
  file = path.join(dir, 'report.html');
  fs.writeFileSync(file, renderHtmlReport(report));
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  problems: string[];
  blocked: string[];
}

async function open(viewport: { width: number; height: number }, deviceScaleFactor = 1): Promise<Opened> {
  const context = await browser.newContext({ viewport, deviceScaleFactor, offline: true });
  const page = await context.newPage();
  const self = pathToFileURL(file).href;
  const problems: string[] = [];
  const blocked: string[] = [];
  await page.route('**', (route) => (route.request().url() === self ? route.continue() : (blocked.push(route.request().url()), route.abort())));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
  await page.goto(self, { waitUntil: 'load' });
  // The script marks <html data-charts> when done; if it never runs, the assertions on it and on
  // `problems` (a CSP refusal, say) tell why.
  await page.locator('html[data-charts]').waitFor({ state: 'attached', timeout: 5_000 }).catch(() => {});
  return { page, problems, blocked };
}

/** Per canvas: its id and how many of its pixels are painted. */
function paintedPixels(page: Page): Promise<{ id: string; width: number; painted: number }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('canvas')].map((canvas) => {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
      return { id: canvas.id, width: canvas.width, painted };
    }),
  );
}

describe('the HTML report in Chromium, offline', () => {
  it('draws every chart with no request, no console error and no CSP violation (desktop)', async () => {
    const { page, problems, blocked } = await open({ width: 1280, height: 900 });
    expect({ charts: await page.getAttribute('html', 'data-charts'), problems }).toEqual({ charts: String(chartSpecs(report).length), problems: [] });
    const canvases = await paintedPixels(page);
    expect(canvases.map((c) => c.id).sort()).toEqual(chartSpecs(report).map((s) => `chart-${s.id}`).sort());
    for (const canvas of canvases) {
      expect(canvas.width, canvas.id).toBeGreaterThan(200);
      expect(canvas.painted, canvas.id).toBeGreaterThan(2_000);
    }
    expect(problems).toEqual([]);
    expect(blocked).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'bench-report-desktop.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('keeps report strings as text and carries the report as JSON', async () => {
    const { page, problems } = await open({ width: 1280, height: 900 });
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).not.toBe('owned');
    expect(await page.locator('.notes li', { hasText: '<img src=x' }).count()).toBe(1);
    const embedded = await page.evaluate(() => JSON.parse(document.getElementById('tandem-bench-report')!.textContent!));
    expect(embedded).toEqual(report);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('fits a phone: no sideways scrolling of the page, charts drawn', async () => {
    const { page, problems } = await open({ width: 390, height: 844 }, 2);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const canvas of await paintedPixels(page)) expect(canvas.painted, canvas.id).toBeGreaterThan(2_000);
    expect(problems).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'bench-report-phone.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('prints: the print styles lay it out and the charts are redrawn for them', async () => {
    const { page, problems } = await open({ width: 1280, height: 900 });
    await page.emulateMedia({ media: 'print' });
    await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
    expect(await page.locator('nav').isVisible()).toBe(false);
    for (const canvas of await paintedPixels(page)) expect(canvas.painted, canvas.id).toBeGreaterThan(2_000);
    expect(problems).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'bench-report-print.png'), fullPage: true });
    await page.close();
  }, 60_000);
});
