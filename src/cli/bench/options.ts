/**
 * `tandem bench`'s options: the flags, their defaults, the --quick preset, and the checks that
 * keep a run bounded (how many clients, how much load, how long).
 */
import path from 'node:path';
import type { HeaderProfile } from './clients/headers';
import { parseFlags, type FlagSpec } from '../flags';
import { UsageError } from '../io';
import type { StrategyName, Workload } from './report';

export const STRATEGIES: readonly StrategyName[] = ['poll-etag', 'poll-plain', 'sse', 'websocket'];

export const BENCH_FLAGS = {
  help: { kind: 'boolean' },
  quick: { kind: 'boolean' },
  clients: { kind: 'integer', min: 1, max: 10_000 },
  watchers: { kind: 'integer', min: 1, max: 10_000 },
  'change-rate': { kind: 'number', min: 0.001, max: 100 },
  payload: { kind: 'integer', min: 64, max: 256 * 1024 },
  'poll-interval': { kind: 'integer', min: 50, max: 600_000 },
  duration: { kind: 'number', min: 1, max: 600 },
  warmup: { kind: 'number', min: 0, max: 60 },
  strategies: { kind: 'string' },
  headers: { kind: 'string', choices: ['browser', 'minimal'] },
  auth: { kind: 'string', choices: ['token', 'none'] },
  url: { kind: 'string' },
  'allow-remote': { kind: 'boolean' },
  out: { kind: 'string' },
  html: { kind: 'string' },
  'no-html': { kind: 'boolean' },
  pin: { kind: 'boolean' },
  quiet: { kind: 'boolean' },
  verbose: { kind: 'boolean' },
  timeout: { kind: 'integer', min: 10, max: 24 * 3600 },
  'server-node-args': { kind: 'string' },
} as const satisfies Record<string, FlagSpec>;

/** The workload without --quick, and with it (a run under a minute on two cores). */
export const DEFAULT_WORKLOAD: Workload = { clients: 200, watchersPerResource: 10, changesPerSecond: 1, payloadBytes: 512, pollIntervalMs: 1000, durationSeconds: 20, warmupSeconds: 3 };
export const QUICK_WORKLOAD: Workload = { clients: 40, watchersPerResource: 5, changesPerSecond: 2, payloadBytes: 512, pollIntervalMs: 500, durationSeconds: 3, warmupSeconds: 1 };

/** Most polls a second the client side offers, and most changes a second the server makes: beyond, the bench measures itself. */
export const MAX_POLLS_PER_SECOND = 20_000;
export const MAX_CHANGES_PER_SECOND = 5_000;

export interface BenchOptions {
  workload: Workload;
  strategies: StrategyName[];
  headerProfile: HeaderProfile;
  pollWithToken: boolean;
  /** A running `tandem bench serve` server; undefined: start one per strategy. */
  url: string | undefined;
  allowRemote: boolean;
  /** Absolute paths; html undefined with --no-html. */
  out: string;
  html: string | undefined;
  htmlExplicit: boolean;
  pin: boolean;
  /** The progress display: a bar when stderr is a terminal (auto), nothing, or a line per phase. */
  progress: 'auto' | 'quiet' | 'verbose';
  quick: boolean;
  /** Seconds the server runs its change loop with no client, per strategy (the baseline): half the window, within 1.5-10 s (3 s at least without --quick). */
  baselineSeconds: number;
  /** Hard limit of the whole run, seconds. */
  timeoutSeconds: number;
  /** Node options for the bench servers this run starts (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  serverNodeArgs: string[];
}

export type BenchCommand = { kind: 'help' } | { kind: 'run'; options: BenchOptions };

/** Parses `tandem bench` flags (after `bench`); throws UsageError. */
export function parseBenchArgs(argv: readonly string[], cwd: string): BenchCommand {
  const { values, positionals } = parseFlags(argv, BENCH_FLAGS);
  if (values.get('help') === true) return { kind: 'help' };
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (tandem bench takes options only; see --help)`);
  const quick = values.get('quick') === true;
  const base = quick ? QUICK_WORKLOAD : DEFAULT_WORKLOAD;
  const get = <T extends number | string | boolean>(name: keyof typeof BENCH_FLAGS, fallback: T): T => (values.has(name) ? (values.get(name) as T) : fallback);
  const workload: Workload = {
    clients: get('clients', base.clients),
    watchersPerResource: get('watchers', base.watchersPerResource),
    changesPerSecond: get('change-rate', base.changesPerSecond),
    payloadBytes: get('payload', base.payloadBytes),
    pollIntervalMs: get('poll-interval', base.pollIntervalMs),
    durationSeconds: get('duration', base.durationSeconds),
    warmupSeconds: get('warmup', base.warmupSeconds),
  };
  checkWorkload(workload);
  if (values.get('verbose') === true && values.get('quiet') === true) throw new UsageError('--quiet and --verbose contradict each other');
  const out = path.resolve(cwd, get('out', path.join('tandem-bench', 'report.json')));
  const html = values.get('no-html') === true ? false : values.get('html');
  if (html === false && values.has('html')) throw new UsageError('--html and --no-html contradict each other');
  const options: BenchOptions = {
    workload,
    strategies: parseStrategies(get('strategies', STRATEGIES.join(','))),
    headerProfile: get('headers', 'browser') as HeaderProfile,
    pollWithToken: get('auth', 'token') === 'token',
    url: values.get('url') as string | undefined,
    allowRemote: get('allow-remote', false),
    out,
    html: html === false ? undefined : path.resolve(cwd, typeof html === 'string' ? html : path.join(path.dirname(out), 'report.html')),
    htmlExplicit: typeof html === 'string',
    pin: get('pin', true),
    progress: get('verbose', false) ? 'verbose' : get('quiet', false) ? 'quiet' : 'auto',
    quick,
    baselineSeconds: Math.max(quick ? 1.5 : 3, Math.min(10, workload.durationSeconds / 2)),
    timeoutSeconds: 0,
    serverNodeArgs: get('server-node-args', '').split(/\s+/).filter(Boolean),
  };
  if (options.serverNodeArgs.length > 0 && options.url !== undefined) throw new UsageError('--server-node-args applies to the servers tandem bench starts, not to one at --url');
  options.timeoutSeconds = get('timeout', Math.ceil(2 * estimateSeconds(options) + 60));
  return { kind: 'run', options };
}

function parseStrategies(list: string): StrategyName[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--strategies needs at least one of ' + STRATEGIES.join(', '));
  for (const name of names) {
    if (name === 'long-poll' || name === 'long-polling') throw new UsageError('long-polling is not a Tandem strategy: Tandem has no long-poll endpoint (REST answers at once; changes are pushed over WebSocket or SSE)');
    if (!STRATEGIES.includes(name as StrategyName)) throw new UsageError(`--strategies: unknown strategy ${JSON.stringify(name)} (known: ${STRATEGIES.join(', ')})`);
  }
  return STRATEGIES.filter((s) => names.includes(s));
}

function checkWorkload(w: Workload): void {
  if (w.watchersPerResource > w.clients) throw new UsageError(`--watchers (${w.watchersPerResource}) cannot exceed --clients (${w.clients})`);
  const polls = (w.clients * 1000) / w.pollIntervalMs;
  if (polls > MAX_POLLS_PER_SECOND) throw new UsageError(`${w.clients} clients polling every ${w.pollIntervalMs} ms is ${Math.round(polls)} polls/s; the bench offers at most ${MAX_POLLS_PER_SECOND}/s (fewer --clients or a longer --poll-interval)`);
  const changes = Math.ceil(w.clients / w.watchersPerResource) * w.changesPerSecond;
  if (changes > MAX_CHANGES_PER_SECOND) throw new UsageError(`${Math.ceil(w.clients / w.watchersPerResource)} resources changing ${w.changesPerSecond}/s is ${Math.round(changes)} changes/s; at most ${MAX_CHANGES_PER_SECOND}/s (more --watchers or a lower --change-rate)`);
}

/** Roughly how long a run takes, seconds (the progress bar's total; twice it plus a minute bounds the run). */
export function estimateSeconds(options: Pick<BenchOptions, 'workload' | 'strategies' | 'baselineSeconds' | 'url' | 'quick'>): number {
  const w = options.workload;
  const perStrategy = 2 + options.baselineSeconds + w.warmupSeconds + 0.5 + w.durationSeconds + drainSeconds(w) + w.clients / 400;
  const probe = options.strategies.includes('poll-etag') ? (options.quick ? 2 : 4) : 0; // the capacity probe
  return (options.url === undefined ? 6 : 0) + options.strategies.length * perStrategy + probe;
}

/** How long clients keep receiving after the window, so the window's last changes can arrive. */
export function drainSeconds(w: Workload): number {
  return w.pollIntervalMs / 1000 + 0.5;
}
