/**
 * The REST bench's fixed facts and its knobs (env or --name=value; see run.ts for the list).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { option, intOption } from '../common/options';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const HOST = '127.0.0.1';
export const POST_ID = 1;
export const ALL_TARGETS = ['tandem-200', 'floor-200', 'bare-200', 'tandem-304', 'floor-304', 'bare-304', 'tandem-me', 'floor-me'] as const;
export type TargetName = (typeof ALL_TARGETS)[number];
/** Ratio floors from issue 13: Tandem / the same-work floor, requests per second. */
export const GOALS = { '200': 0.6, '304': 0.8, me: 0.5 } as const;
/** A side whose core is this busy during a measurement is counted as saturated. */
export const SATURATED = 0.9;
/** Other processes using more than this share of a pinned core make a measurement "contended". */
export const CONTENDED = 0.25;

export const opts = {
  rounds: intOption('rounds', 'BENCH_ROUNDS', 3),
  duration: intOption('duration', 'BENCH_DURATION', 5),
  warmup: intOption('warmup', 'BENCH_WARMUP', 1, 0),
  connections: intOption('connections', 'BENCH_CONNECTIONS', 50),
  pipelining: intOption('pipelining', 'BENCH_PIPELINING', 1),
  retries: intOption('retries', 'BENCH_RETRIES', 1, 0),
  serverCpu: intOption('server-cpu', 'BENCH_SERVER_CPU', 0, 0),
  loadCpu: intOption('load-cpu', 'BENCH_LOAD_CPU', 1, 0),
  targets: option('targets', 'BENCH_TARGETS', ALL_TARGETS.join(',')).split(',').map((t) => t.trim()).filter(Boolean) as TargetName[],
  out: option('out', 'BENCH_OUT', path.join(ROOT, 'bench', 'results', 'rest-latest.json')),
  tandemNodeArgs: option('tandem-node-args', 'BENCH_TANDEM_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  /** Tandem's LOG_LEVEL: silent by default (the floor logs nothing); `info` prices the request log. */
  tandemLogLevel: option('tandem-log-level', 'BENCH_TANDEM_LOG_LEVEL', 'silent'),
};
for (const t of opts.targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}; use ${ALL_TARGETS.join(', ')}`);
