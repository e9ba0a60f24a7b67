import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/io';
import { DEFAULT_WORKLOAD, estimateSeconds, parseBenchArgs, QUICK_WORKLOAD, type BenchOptions } from '../../src/cli/bench/options';
import { checkServeHost, checkTargetUrl, isLoopbackAddress } from '../../src/cli/bench/target';
import { main } from '../../src/cli/main';

/** `tandem bench`'s command line: defaults, --quick, every bad flag a usage error naming it, and the loopback rule. */

function run(argv: string[]): BenchOptions {
  const command = parseBenchArgs(argv, '/work');
  if (command.kind !== 'run') throw new Error('expected a run');
  return command.options;
}

function usage(argv: string[]): string {
  try {
    parseBenchArgs(argv, '/work');
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('options', () => {
  it('has the documented defaults, and --quick a run under a minute', () => {
    const options = run([]);
    expect(options.workload).toEqual(DEFAULT_WORKLOAD);
    expect(options).toMatchObject({ strategies: ['poll-etag', 'poll-plain', 'sse', 'websocket'], headerProfile: 'browser', pollWithToken: true, out: '/work/tandem-bench/report.json', html: '/work/tandem-bench/report.html', pin: true, progress: 'auto' });
    const quick = run(['--quick']);
    expect(quick.workload).toEqual(QUICK_WORKLOAD);
    expect(estimateSeconds(quick)).toBeLessThan(60);
    expect(quick.timeoutSeconds).toBeGreaterThan(estimateSeconds(quick));
  });

  it('reads every workload flag, as --name=value or --name value, over --quick', () => {
    const options = run(['--quick', '--clients', '12', '--watchers=3', '--change-rate=0.5', '--payload=2048', '--poll-interval=250', '--duration=2.5', '--warmup=0', '--strategies=websocket,poll-etag', '--headers=minimal', '--auth=none', '--out=r/x.json', '--no-pin', '--verbose']);
    expect(options.workload).toEqual({ clients: 12, watchersPerResource: 3, changesPerSecond: 0.5, payloadBytes: 2048, pollIntervalMs: 250, durationSeconds: 2.5, warmupSeconds: 0 });
    expect(options).toMatchObject({ strategies: ['poll-etag', 'websocket'], headerProfile: 'minimal', pollWithToken: false, out: '/work/r/x.json', html: '/work/r/report.html', pin: false, progress: 'verbose' });
    expect(run(['--html=a.html']).html).toBe('/work/a.html');
    expect(run(['--no-html']).html).toBeUndefined();
  });

  it('names the flag in every mistake', () => {
    expect(usage(['--clints=3'])).toMatch(/unknown option --clints; did you mean --clients\?/);
    expect(usage(['--frobnicate'])).toMatch(/unknown option --frobnicate \(see --help\)/);
    expect(usage(['-x'])).toMatch(/unknown option -x/);
    expect(usage(['--clients=many'])).toMatch(/--clients must be a whole number; got "many"/);
    expect(usage(['--clients=0'])).toMatch(/--clients must be between 1 and 10000/);
    expect(usage(['--clients'])).toMatch(/--clients needs a value/);
    expect(usage(['--change-rate=fast'])).toMatch(/--change-rate must be a number/);
    expect(usage(['--headers=firefox'])).toMatch(/--headers must be one of browser, minimal/);
    expect(usage(['--quick=yes'])).toMatch(/--quick takes no value/);
    expect(usage(['--no-clients'])).toMatch(/--no-clients takes no value and only negates a yes\/no option/);
    expect(usage(['run'])).toMatch(/unexpected argument "run"/);
    expect(usage(['--strategies=poll-etag,carrier-pigeon'])).toMatch(/unknown strategy "carrier-pigeon"/);
    expect(usage(['--strategies=long-poll'])).toMatch(/Tandem has no long-poll endpoint/);
    expect(usage(['--watchers=20', '--clients=10'])).toMatch(/--watchers \(20\) cannot exceed --clients \(10\)/);
    expect(usage(['--clients=10000', '--poll-interval=100'])).toMatch(/100000 polls\/s; the bench offers at most 20000\/s/);
    expect(usage(['--clients=10000', '--watchers=1', '--change-rate=1'])).toMatch(/10000 changes\/s; at most 5000\/s/);
    expect(usage(['--html=a.html', '--no-html'])).toMatch(/contradict/);
    expect(usage(['--quiet', '--verbose'])).toMatch(/contradict/);
  });

  it('asks for help with --help or -h', () => {
    expect(parseBenchArgs(['--help'], '/')).toEqual({ kind: 'help' });
    expect(parseBenchArgs(['--clients=3', '-h'], '/')).toEqual({ kind: 'help' });
  });
});

describe('targets', () => {
  it('tells loopback addresses from others', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ['10.0.0.1', '192.168.1.1', '::', '::2', '128.0.0.1', 'localhost']) expect(isLoopbackAddress(address)).toBe(false);
  });

  it('takes a loopback --url, refuses another unless --allow-remote', async () => {
    expect((await checkTargetUrl('http://127.0.0.1:4100', false)).port).toBe('4100');
    expect((await checkTargetUrl('http://localhost:4100/', false)).hostname).toBe('localhost');
    expect((await checkTargetUrl('http://[::1]:4100', false)).hostname).toBe('[::1]');
    await expect(checkTargetUrl('http://10.1.2.3:4100', false)).rejects.toThrow(/refusing to load 10\.1\.2\.3:4100: it is not on this machine .* --allow-remote/);
    expect((await checkTargetUrl('http://10.1.2.3:4100', true)).hostname).toBe('10.1.2.3');
    await expect(checkTargetUrl('https://127.0.0.1:4100', false)).rejects.toThrow(/only http:\/\//);
    await expect(checkTargetUrl('http://127.0.0.1:4100/api', false)).rejects.toThrow(/base URL only/);
    await expect(checkTargetUrl('127.0.0.1:4100', false)).rejects.toThrow(UsageError);
  });

  it('serves beyond loopback only with --allow-remote', () => {
    expect(() => checkServeHost('127.0.0.1', false)).not.toThrow();
    expect(() => checkServeHost('0.0.0.0', false)).toThrow(/refusing to listen on 0\.0\.0\.0/);
    expect(() => checkServeHost('0.0.0.0', true)).not.toThrow();
  });
});

describe('the tandem command', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: { write: (s: string) => out.push(s) > 0 }, stderr: { write: (s: string) => err.push(s) > 0 }, cwd: '/work' } };
  };

  it('answers --help with exit 0 and mistakes with exit 2 on stderr', async () => {
    const help = io();
    expect(await main(['bench', '--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/Long-polling is not measured: Tandem offers no long-poll/);
    expect(help.out.join('')).toMatch(/Exit codes: 0 done/);
    const bad = io();
    expect(await main(['bench', '--duration=-1'], bad.io)).toBe(2);
    expect(bad.err.join('')).toMatch(/--duration must be between 1 and 600; got -1\nusage: tandem bench/);
    const remote = io();
    expect(await main(['bench', '--url=http://10.9.9.9:1'], remote.io)).toBe(2);
    expect(remote.err.join('')).toMatch(/refusing to load/);
    const unknown = io();
    expect(await main(['bnech'], unknown.io)).toBe(2);
    expect(unknown.err.join('')).toMatch(/unknown command "bnech"/);
    expect(await main([], io().io)).toBe(2);
    expect(await main(['bench', 'serve', '--host=0.0.0.0'], io().io)).toBe(2);
  });

  it('hands `advise` its arguments and the same streams', async () => {
    const help = io();
    expect(await main(['advise', '--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/usage: tandem advise/);
    const bad = io();
    expect(await main(['advise', '--clients=many', '--no-interactive'], bad.io)).toBe(2);
    expect(bad.err.join('')).toMatch(/--clients/);
    expect(bad.out.join('')).toBe('');
  });
});
