import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binaryStep } from '../../src/cli/bench/html/charts';
import { escapeHtml, html, jsonForScript } from '../../src/cli/bench/html/html';
import { chartSpecs, crossoverCurves, renderHtmlReport, writeHtmlReport } from '../../src/cli/bench/html/index';
import type { BenchReport, CrossoverPoint } from '../../src/cli/bench/report';

const fixture = JSON.parse(fs.readFileSync('test/cli/fixtures/bench-report.json', 'utf8')) as BenchReport;

/** The inline blocks of a page: executable scripts (no type), JSON data blocks, styles. */
function blocks(page: string) {
  const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  const data = Object.fromEntries([...page.matchAll(/<script type="application\/json" id="([^"]+)">([\s\S]*?)<\/script>/g)].map((m) => [m[1]!, m[2]!]));
  const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)![1]!.replaceAll('&#39;', "'");
  return { scripts, data, styles, csp };
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('escaping', () => {
  it('html`` escapes every interpolated value and keeps nested html`` as markup', () => {
    const name = '<b onclick="x()">&\'</b>';
    expect(html`<td>${name}</td>`.toString()).toBe('<td>&lt;b onclick=&quot;x()&quot;&gt;&amp;&#39;&lt;/b&gt;</td>');
    expect(html`<ul>${['a<', 'b'].map((s) => html`<li>${s}</li>`)}</ul>`.toString()).toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.toString()).toBe('0');
  });

  it('escapeHtml leaves no character that could open a tag or end an attribute', () => {
    fc.assert(fc.property(fc.string(), (s) => !/[<>"']/.test(escapeHtml(s))));
  });

  it('jsonForScript is the same JSON and can hold no "<", so no </script> or <!--', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = jsonForScript(value);
        return !/[<>&\u2028\u2029]/.test(text) && JSON.stringify(JSON.parse(text)) === JSON.stringify(value);
      }),
    );
    expect(jsonForScript({ note: '</script><!--' })).toBe('{"note":"\\u003c/script\\u003e\\u003c!--"}');
  });
});

describe('renderHtmlReport', () => {
  const hostile = '</script><script>alert(1)</script><img src=x onerror=alert(2)>';
  const report: BenchReport = {
    ...fixture,
    machine: { ...fixture.machine, cpuModel: hostile },
    results: fixture.results.map((r) => ({ ...r, description: hostile, notes: [hostile] })),
    claims: fixture.claims.map((c) => ({ ...c, evidence: `${c.evidence} ${hostile}` })),
  };
  const page = renderHtmlReport(report);
  const { scripts, data, styles, csp } = blocks(page);

  it('lets only its own inline blocks run: the CSP lists their hashes and allows nothing else', () => {
    expect(scripts).toHaveLength(2); // Chart.js, then the page's script
    expect(styles).toHaveLength(1);
    expect(csp.split('; ')).toEqual([
      "default-src 'none'",
      `script-src ${scripts.map(hash).join(' ')}`,
      `style-src ${hash(styles[0]!)}`,
      "base-uri 'none'",
      "form-action 'none'",
    ]);
    expect(scripts[0]).toContain('Chart.js v4');
    expect(page).not.toMatch(/sourceMappingURL/);
  });

  it('needs nothing from the network: no src, no external href, no CSS import or url()', () => {
    const markup = page.replace(/<script>[\s\S]*?<\/script>/g, '<script></script>');
    expect(markup.match(/<[^>]*\ssrc=/i)).toBeNull();
    expect([...markup.matchAll(/href="([^"]*)"/g)].map((m) => m[1]).filter((href) => !href!.startsWith('#'))).toEqual([]);
    expect(styles[0]!.match(/@import|url\(/)).toBeNull();
  });

  it('turns no report string into markup: hostile text appears only escaped or as \\u-escaped JSON', () => {
    const markup = page.replace(/<script>[\s\S]*?<\/script>/g, '<script></script>');
    expect(markup.match(/<img/g)).toBeNull();
    expect(markup.match(/<script/g)).toHaveLength(4);
    expect(page).toContain(escapeHtml(hostile));
    expect(JSON.parse(data['tandem-bench-report']!)).toEqual(report);
  });

  it('embeds the chart specs as plain JSON (no functions to lose) with a canvas for each', () => {
    const specs = chartSpecs(report);
    expect(JSON.parse(data['tandem-bench-charts']!)).toEqual(JSON.parse(JSON.stringify(specs)));
    for (const spec of specs) expect(page).toContain(`<canvas id="chart-${spec.id}" role="img"`);
    expect(specs.map((s) => s.id)).toEqual([
      'latency-percentiles',
      'latency-histogram-poll-etag',
      'latency-histogram-poll-plain',
      'latency-histogram-sse',
      'latency-histogram-websocket',
      'bytes-per-update',
      'cpu-per-1000',
      'requests-per-second',
      'memory-per-client',
      'crossover-256',
      'crossover-1024',
      'crossover-16384',
    ]);
  });

  it('shows the verdicts, the workload and the machine', () => {
    expect(page).toContain('✓</span> Holds');
    expect(page).toContain('≈</span> Partly');
    expect(page).toContain('✗</span> Does not hold');
    expect(page).toContain('linux x64');
    expect(page).toContain('v20.19.2');
    expect(page).toContain('1,000 clients per strategy');
  });

  it("shows a newer report's optional notes, client profile and unit costs", () => {
    expect(page).toContain('<h3>About this run</h3><ul><li>Long-polling is not measured');
    expect(page).toContain('minimal request headers; polls carry no credentials');
    expect(page).toContain('a 304 43.7 µs, a 200 50.2 µs');
    const { notes: _n, clientProfile: _c, unitCosts: _u, ...plain } = fixture as BenchReport & Record<string, unknown>;
    expect(renderHtmlReport(plain as BenchReport)).not.toContain('About this run');
  });

  it('renders a report with an unknown strategy and no crossover sweep', () => {
    const odd = { ...fixture, crossover: [], results: [{ ...fixture.results[0]!, strategy: 'long-poll' as never }] };
    const oddPage = renderHtmlReport(odd);
    expect(oddPage).toContain('This report has no crossover sweep.');
    expect(oddPage).toContain('long-poll');
  });
});

describe('crossoverCurves', () => {
  const point = (pollIntervalMs: number, changesPerSecond: number, poll: number, push: number): CrossoverPoint => ({
    pollIntervalMs,
    changesPerSecond,
    payloadBytes: 100,
    cpuMsPerClientSecond: { poll, push },
    cheaper: poll < push ? 'poll' : 'push',
  });

  it('interpolates the equal-cost rate on a log axis between the two points around the flip', () => {
    // poll/push = 10 at 0.1/s and 0.1 at 10/s: equal in the log middle, 1/s.
    const [curve] = crossoverCurves([point(1000, 10, 1, 10), point(1000, 0.1, 1, 0.1)]);
    expect(curve!.rows[0]!.changesPerSecond).toBeCloseTo(1, 9);
    expect(curve!.rows[0]!.cheaperEverywhere).toBeNull();
  });

  it('says which side wins everywhere when the sweep never flips', () => {
    const [curve] = crossoverCurves([point(500, 0.01, 5, 1), point(500, 1, 5, 2), point(60_000, 0.01, 0.1, 1), point(60_000, 1, 0.1, 2)]);
    expect(curve!.rows).toEqual([
      { pollIntervalMs: 500, changesPerSecond: null, cheaperEverywhere: 'push', sweptFrom: 0.01, sweptTo: 1 },
      { pollIntervalMs: 60_000, changesPerSecond: null, cheaperEverywhere: 'poll', sweptFrom: 0.01, sweptTo: 1 },
    ]);
  });

  it('on the fixture: a longer polling interval lowers the rate up to which push is cheaper', () => {
    for (const curve of crossoverCurves(fixture.crossover)) {
      const rates = curve.rows.filter((r) => r.changesPerSecond !== null).map((r) => r.changesPerSecond!);
      expect(rates.length).toBeGreaterThan(3);
      expect([...rates].sort((a, b) => b - a)).toEqual(rates);
    }
  });
});

describe('bytes axis steps', () => {
  it('are powers of two giving at most eight ticks', () => {
    expect(binaryStep(3987)).toBe(512);
    expect(binaryStep(100)).toBe(16);
    expect(binaryStep(0)).toBe(1);
    fc.assert(fc.property(fc.double({ min: 1, max: 1e12, noNaN: true }), (max) => Math.ceil(max / binaryStep(max)) <= 8));
  });
});

describe('writeHtmlReport', () => {
  it('creates the folder and writes the page', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-report-'));
    try {
      const file = path.join(dir, 'nested', 'report.html');
      await writeHtmlReport(fixture, file);
      expect(fs.readFileSync(file, 'utf8')).toBe(renderHtmlReport(fixture));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
