import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAdviseArgs } from '../../src/cli/advise/flags';
import { runAdvise } from '../../src/cli/advise/main';
import { advise } from './advise-cli';

/** `tandem advise`'s command line: what each flag accepts, and every mistake → exit 2 naming the flag. */

const CHAT = ['--feature=chat', '--initiator=both', '--changes-per-minute=20', '--freshness=500ms'];
let dir: string;
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-advise-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('flag values', () => {
  it('reads rates, durations, counts and sizes in the spellings people use', () => {
    const options = parseAdviseArgs([
      '--clients=10k',
      '--feature=a',
      '--initiator=server',
      '--changes-per-minute=0.5/s',
      '--freshness=1.5s',
      '--payload-bytes=4KiB',
      '--cache=public',
      '--feature',
      'b',
      '--changes-per-minute',
      '2/h',
      '--freshness=1m',
      '--clients=1,500',
    ]);
    expect(options.defaults).toEqual({ clients: 10_000 });
    expect(options.features).toEqual([
      { name: 'a', initiator: 'server', changesPerMinute: 30, freshnessMs: 1500, payloadBytes: 4096, cache: 'public' },
      { name: 'b', changesPerMinute: 2 / 60, freshnessMs: 60_000, clients: 1500 },
    ]);
  });

  it('prints its help with --help and -h, and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout } = await advise([flag]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^usage: tandem advise/);
      expect(stdout).toContain('--changes-per-minute=RATE');
    }
  });
});

describe('every bad flag exits 2 with a message naming it', () => {
  const bad: [string, string[], RegExp][] = [
    ['an unknown option, with a suggestion', ['--client=5'], /unknown option --client \(did you mean --clients\?\)/],
    ['a positional argument', ['chat'], /unexpected argument "chat"/],
    ['a rate that is not one', ['--feature=x', '--changes-per-minute=often'], /--changes-per-minute must be changes per minute, e\.g\. 30.*got "often"/],
    ['a rate with a bad unit', ['--feature=x', '--changes-per-minute=3/week'], /--changes-per-minute must be changes per minute.*got "3\/week"/],
    ['a duration without a unit', ['--feature=x', '--freshness=2'], /--freshness must be a duration with its unit.*got "2"/],
    ['a zero duration', ['--feature=x', '--freshness=0s'], /--freshness must be more than 0/],
    ['an initiator that is not one of three', ['--feature=x', '--initiator=browser'], /--initiator must be one of server, client, both; got "browser"/],
    ['a cache kind that is not one of three', ['--feature=x', '--cache=cdn'], /--cache must be one of public, private, none; got "cdn"/],
    ['clients that are not a whole number', ['--feature=x', '--clients=2.5'], /--clients must be a whole number of at least 1; got "2.5"/],
    ['zero clients', ['--feature=x', '--clients=0'], /--clients must be a whole number of at least 1/],
    ['a payload that is not a size', ['--feature=x', '--payload-bytes=big'], /--payload-bytes must be a size in bytes.*got "big"/],
    ['an empty feature name', ['--feature='], /--feature needs a value/],
    ['a flag without its value', ['--feature=x', '--clients'], /--clients needs a value/],
    ['a value given to a yes/no flag', ['--json=yes'], /--json takes no value/],
    ['the same answer twice for one feature', ['--feature=x', '--clients=1', '--clients=2'], /--clients given twice for feature "x"/],
    ['the same feature twice', ['--feature=x', '--feature=x'], /--feature=x given twice/],
    ['--costs twice', ['--costs=a.json', '--costs=b.json'], /--costs given twice/],
    ['a missing answer without a terminal', ['--feature=x', '--initiator=server'], /feature "x" needs --changes-per-minute, --freshness \(or run it on a terminal/],
    ['no feature at all without a terminal', [], /describe a feature: --feature=NAME/],
    ['a --costs file that does not exist', ['--costs=/nonexistent/report.json', ...CHAT], /--costs=\/nonexistent\/report.json: cannot read it \(ENOENT\)/],
  ];

  it.each(bad)('%s', async (_what, argv, message) => {
    const { code, stderr, stdout } = await advise(argv);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('tandem advise --help');
    expect(stdout).toBe('');
  });

  it('a --costs file that is not JSON or not a bench report', async () => {
    const notJson = file('not.json', '{ nope');
    expect(await advise([`--costs=${notJson}`, ...CHAT])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--costs=.*not\.json: .*JSON/) });
    const other = file('other.json', JSON.stringify({ tool: 'k6', version: 1 }));
    expect(await advise([`--costs=${other}`, ...CHAT])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--costs=.*other\.json: not a tandem bench report/) });
  });

  it('a --features file with a bad entry names the file, the entry and the field', async () => {
    const cases: [string, RegExp][] = [
      ['[{"name":"a","initiator":"sideways"}]', /--features=.*: features\[0\]\.initiator must be one of server, client, both; got "sideways"/],
      ['[{"name":"a"},{"name":"b","clinets":5}]', /features\[1\]\.clinets is not a feature's field/],
      ['[{"initiator":"server"}]', /features\[0\] has no name/],
      ['[{"name":"a"},{"name":"a"}]', /two features are named "a"/],
      ['{"features": []}', /must be a non-empty array of features/],
      ['[{"name":"a","freshness":"2s","freshnessMs":2000}]', /gives freshnessMs twice/],
      ['not json', /not JSON/],
    ];
    for (const [content, message] of cases) {
      const { code, stderr } = await advise([`--features=${file('features.json', content)}`]);
      expect({ code, stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
    }
  });
});

describe('good flags', () => {
  it('prints a recommendation per feature, with the alternatives and the reasons', async () => {
    const { code, stdout, stderr } = await advise([...CHAT, '--feature=profile', '--initiator=server', '--changes-per-minute=1/d', '--freshness=1m', '--cache=public', '--clients=100k']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^Costs: modelled/);
    expect(stdout).toMatch(/chat: both ways, changes 20\/min, 1,000 clients, fresh within 500 ms/);
    expect(stdout).toMatch(/→ websocket/);
    expect(stdout).toMatch(/Recommended: WebSocket \(websocket\), by rule bidirectional-low-latency/);
    expect(stdout).toMatch(/Recommended: REST polling through a CDN \(poll-cdn\), by rule shared-rare-cdn/);
    expect(stdout).toMatch(/Summary:\n {2}chat: WebSocket/);
  });

  it('--json prints one JSON document with the cost model, the thresholds and each feature', async () => {
    const { code, stdout } = await advise([...CHAT, '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc).toMatchObject({ tool: 'tandem advise', version: 1, costModel: { source: { kind: 'modelled' } }, thresholds: { minPollIntervalMs: 2000 } });
    expect(doc.features[0].recommendation).toMatchObject({ strategy: 'websocket', rule: 'bidirectional-low-latency' });
    expect(doc.features[0].alternatives.map((a: { strategy: string }) => a.strategy)).toEqual(['poll-etag', 'sse', 'websocket']);
  });

  it('--costs uses a bench report and says so', async () => {
    const { code, stdout } = await advise(['--costs=test/cli/fixtures/bench-report.json', ...CHAT]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Costs: from test\/cli\/fixtures\/bench-report\.json, tandem bench of 2025-06-12T09:41:07\.512Z/);
    expect(stdout).toMatch(/measured: cpuMsPer200, /);
  });

  it('--features reads several features, and flags before --feature are defaults for all of them', async () => {
    const features = file('ok.json', JSON.stringify([
      { name: 'feed', initiator: 'server', changesPerMinute: '6', freshness: '30s', cache: 'public' },
      { name: 'typing', initiator: 'both', changesPerMinute: 30, freshnessMs: 300, payloadBytes: 40 },
    ]));
    const { code, stdout } = await advise(['--clients=20k', `--features=${features}`, '--feature=bell', '--initiator=server', '--changes-per-minute=0.2', '--freshness=30s', '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { features: { feature: { name: string; clients: number } }[] };
    expect(doc.features.map((f) => [f.feature.name, f.feature.clients])).toEqual([['feed', 20_000], ['typing', 20_000], ['bell', 20_000]]);
  });

  it('runs with only stdout, stderr and cwd (stdin and isTTY default), reading relative paths from cwd', async () => {
    const out: string[] = [];
    const stream = new Writable({ write: (chunk, _e, done) => (out.push(String(chunk)), done()) });
    const code = await runAdvise(['--costs=fixtures/bench-report.json', ...CHAT], { stdout: stream, stderr: stream, cwd: path.resolve('test/cli') });
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/^Costs: from fixtures\/bench-report\.json/);
  });

  it('feature flags without --feature describe one feature', async () => {
    const { code, stdout } = await advise(['--initiator=client', '--changes-per-minute=2']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^feature: clients → server, each client sends 2\/min/m);
    expect(stdout).toMatch(/by rule client-requests/);
  });
});
