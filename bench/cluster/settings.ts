/**
 * The cluster bench's knobs: each a `--name=value` flag or a BENCH_CLUSTER_* variable, with two
 * presets (the default, under ~5 minutes, and --quick, under ~1 minute). run.ts documents them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { intOption, option } from '../common/options';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');

export const quick = process.argv.includes('--quick') || process.env.BENCH_CLUSTER_QUICK === '1';
const preset = <T>(full: T, short: T): T => (quick ? short : full);

const NGINX = option('nginx', 'BENCH_CLUSTER_NGINX', '/usr/sbin/nginx');

export const opts = {
  quick,
  rounds: intOption('rounds', 'BENCH_CLUSTER_ROUNDS', preset(3, 1)),
  /** Subscribers of the fanout phase (split evenly over the two nodes of the cluster). */
  subscribers: intOption('subscribers', 'BENCH_CLUSTER_SUBSCRIBERS', preset(2000, 1000), 2),
  /** Publications per second, through REST, to one node. */
  rate: intOption('rate', 'BENCH_CLUSTER_RATE', 10),
  /** What to run: the fanout comparison (both setups) and/or the storm (the cluster only). */
  phases: option('phases', 'BENCH_CLUSTER_PHASES', 'fanout,storm').split(',').map((s) => s.trim()).filter(Boolean),
  /** Length of the measured window. */
  measureSeconds: intOption('measure-seconds', 'BENCH_CLUSTER_MEASURE_SECONDS', preset(6, 3)),
  warmupSeconds: intOption('warmup-seconds', 'BENCH_CLUSTER_WARMUP_SECONDS', preset(2, 1), 0),
  /** Approximate JSON size of a publication's data. */
  size: intOption('size', 'BENCH_CLUSTER_SIZE', 100, 43),
  /** Clients on node B when it is killed. */
  stormClients: intOption('storm-clients', 'BENCH_CLUSTER_STORM_CLIENTS', preset(5000, 1000), 0),
  /** Publications made (on node A) while node B is dead: what the storm clients must recover. */
  stormMissed: intOption('storm-missed', 'BENCH_CLUSTER_STORM_MISSED', 5, 1),
  /**
   * Where the storm clients reconnect: 'direct' (node A: what Tandem itself takes) or 'nginx'
   * (deploy/nginx.conf as shipped, in front of both nodes; see docs/performance.md for why it is
   * not the default: with it the storm does not finish, and each round waits out the timeout).
   */
  stormVia: option('storm-via', 'BENCH_CLUSTER_STORM_VIA', 'direct') as 'nginx' | 'direct',
  /** A storm not recovered by then is reported with how many clients made it (3× the target). */
  stormTimeoutSeconds: intOption('storm-timeout-seconds', 'BENCH_CLUSTER_STORM_TIMEOUT_SECONDS', 30),
  /**
   * TANDEM_WS_NEW_CONNECTIONS_PER_SECOND on the nodes: raised (1,000,000) by default like every
   * other limit; `--storm-node-rate=1000` measures the storm under the shipped node-wide pace.
   */
  nodeNewConnectionsPerSecond: intOption('storm-node-rate', 'BENCH_CLUSTER_STORM_NODE_RATE', 1_000_000),
  nginx: NGINX,
  /** Diagnostics: replaces deploy/nginx.conf's `max_fails=N` in the bench's copy (default: the file as shipped). */
  nginxMaxFails: option('nginx-max-fails', 'BENCH_CLUSTER_NGINX_MAX_FAILS', ''),
  /** Diagnostics: the nodes' listen backlog (default: Tandem's, i.e. server.listen() as an app calls it). */
  listenBacklog: option('listen-backlog', 'BENCH_CLUSTER_LISTEN_BACKLOG', ''),
  /** PostgreSQL database the bench schemas are created in (and dropped from). */
  databaseUrl: option('database-url', 'BENCH_CLUSTER_DATABASE_URL', process.env.TANDEM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'),
  /** An existing Redis to use; default: a redis-server of its own on a random port (an idle Redis). */
  redisUrl: option('redis-url', 'BENCH_CLUSTER_REDIS_URL', ''),
  redisServer: option('redis-server', 'BENCH_CLUSTER_REDIS_SERVER', 'redis-server'),
  serverCpu: intOption('server-cpu', 'BENCH_CLUSTER_SERVER_CPU', 0, 0),
  loadCpu: intOption('load-cpu', 'BENCH_CLUSTER_LOAD_CPU', 1, 0),
  /** Extra node flags for every Tandem node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
  nodeArgs: option('node-args', 'BENCH_CLUSTER_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  /** A folder: each node writes a V8 CPU profile of every measured fanout window there. */
  profileDir: option('profile-dir', 'BENCH_CLUSTER_PROFILE_DIR', ''),
  /** No run: print the tables of a saved results file (`--report=bench/results/cluster-latest.json`). */
  report: option('report', 'BENCH_CLUSTER_REPORT', ''),
  out: option('out', 'BENCH_CLUSTER_OUT', path.join(ROOT, 'bench', 'results', 'cluster-latest.json')),
  maxSeconds: intOption('max-seconds', 'BENCH_CLUSTER_MAX_SECONDS', preset(420, 110)),
};

if (opts.stormVia !== 'nginx' && opts.stormVia !== 'direct') throw new Error(`--storm-via: nginx or direct, got ${JSON.stringify(opts.stormVia)}`);
if (opts.stormVia === 'nginx' && !fs.existsSync(opts.nginx)) throw new Error(`--storm-via=nginx: no nginx at ${opts.nginx} (--nginx=PATH, or --storm-via=direct)`);
for (const phase of opts.phases) if (phase !== 'fanout' && phase !== 'storm') throw new Error(`--phases: fanout and/or storm, got ${phase}`);
if (opts.subscribers % 2 !== 0) throw new Error('--subscribers: an even number (they are split evenly over two nodes)');

/** Target goals of the issue. */
export const GOALS = { cpuRatio: 1.3, p99Ratio: 2, stormSeconds: 10, stormClients: 5000 } as const;
/** A core at least this busy is the bottleneck of a phase. */
export const SATURATED = 0.85;
