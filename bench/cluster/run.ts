/**
 * `npm run bench:cluster`: a two-node Tandem cluster on Redis against one node on the memory
 * broker, in the same run, both on PostgreSQL (their own schema each), so that what differs is the
 * broker and the node count (and, with it, the cluster's outbox row per publication).
 *
 * - Processes: every Tandem node (bench/cluster/node-server.ts, the public API only), the bench's
 *   own redis-server (random port, no persistence: an otherwise idle Redis) and nginx are pinned to
 *   the server core (`taskset -c 0`); the load clients (load-clients.ts: subscribers and storm
 *   clients, raw tandem.v1 over `ws`) and the publisher (publisher.ts: REST writes) run in two
 *   processes pinned to the load core (`taskset -c 1`). PostgreSQL is the machine's, not pinned.
 * - Per round and setup (the order alternates between rounds), fresh nodes: N subscribers (split
 *   evenly over nodes A and B in the cluster), a warm-up, then `rate` publications/s for
 *   `measure-seconds` through `POST /api/ticks/1` on one node (A). Deliveries/s, CPU per delivery
 *   of every server process (/proc/<pid>/stat utime+stime around the window; Redis's pid from
 *   `INFO server`), the PostgreSQL backends and the load processes beside, and publish→deliver
 *   latency per node (half the cluster's deliveries cross nodes).
 * - Then, in the cluster: `storm-clients` clients on node B, kill -9 of B, `storm-missed`
 *   publications on A, the clients reconnect (SDK backoff; directly to A, or with --storm-via=nginx
 *   through deploy/nginx.conf) and recover from their positions: time until every one has.
 * - Figures are medians over the rounds; the targets compare medians and list every round's ratio.
 * - Everything started is stopped and everything created (schemas, Redis keys, temp folders) is
 *   removed, also on failure, Ctrl-C or the watchdog.
 *
 * Knobs (--name=value or BENCH_CLUSTER_NAME): --quick (1 round, 1,000 subscribers, 1,000 storm
 * clients, 3 s windows; under a minute), --rounds (3), --subscribers (2000), --rate (10
 * publications/s), --measure-seconds (6), --warmup-seconds (2), --size (100 bytes), --storm-clients
 * (5000; 0 skips the storm), --storm-missed (5), --storm-via (direct; or nginx, on deploy/nginx.conf),
 * --storm-node-rate (TANDEM_WS_NEW_CONNECTIONS_PER_SECOND, raised to 1,000,000 by default),
 * --storm-timeout-seconds (30), --phases (fanout,storm; "storm" runs the cluster's storm alone),
 * --database-url (postgres://postgres@127.0.0.1:5432/test), --redis-url (default: a redis-server
 * of its own), --server-cpu / --load-cpu (0 / 1), --node-args (e.g. "--cpu-prof
 * --cpu-prof-dir=/tmp/prof"), --profile-dir (a CPU profile of each node over each measured window
 * only), --out (bench/results/cluster-latest.json; "-" skips), --max-seconds (420; quick 110: a
 * watchdog, and no round is started that would not end before it), --report=FILE (no run: the
 * tables of a results file). Diagnostics: --nginx-max-fails (replaces max_fails=N in the bench's
 * copy of deploy/nginx.conf), --listen-backlog (the nodes' accept backlog instead of Node's 511).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Load } from './fanout-phase';
import type { LoadCommand } from './load-clients';
import { startLoad } from './load-ipc';
import { raisedLimits } from './nodes';
import { aborting, cleanUpEverything, log, pinned } from './processes';
import type { PublishCommand } from './publisher';
import { render, summarize } from './report';
import { clusterRound, singleRound, type Collected, type RunContext } from './rounds';
import { createSchema, startRedis } from './services';
import { ROOT, opts } from './settings';

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  if (opts.report !== '') {
    const saved = JSON.parse(fs.readFileSync(opts.report, 'utf8')) as Collected & { date: string; command: string };
    process.stdout.write(`${saved.command} (${saved.date})\n\n${render(summarize({ fanout: saved.fanout, storms: saved.storms }))}\n`);
    return;
  }
  const started = Date.now();
  log(
    `bench:cluster${opts.quick ? ' --quick' : ''}: ${opts.rounds} round(s); ${opts.subscribers.toLocaleString('en-US')} subscribers, ${opts.rate} publications/s ` +
      `(${(opts.rate * opts.subscribers).toLocaleString('en-US')} deliveries/s offered) for ${opts.measureSeconds} s; storm of ${opts.stormClients.toLocaleString('en-US')} clients via ${opts.stormVia}`,
  );
  log(pinned ? `pinned: nodes, Redis and nginx on cpu ${opts.serverCpu}; load clients and publisher on cpu ${opts.loadCpu}` : 'not pinned (taskset or a 2nd CPU unavailable)');
  const redis = await startRedis();
  log(`redis: ${redis.own ? 'own redis-server' : 'existing'} at ${redis.url} (pid ${redis.pid})`);
  const [single, cluster] = await Promise.all([createSchema('single'), createSchema('cluster')]);
  const clients = await startLoad<LoadCommand>('bench/cluster/load-clients.ts', 'load clients');
  const publisher = await startLoad<PublishCommand | { cmd: 'exit' }>('bench/cluster/publisher.ts', 'publisher');
  const load: Load = { clients, publisher };
  const ctx: RunContext = { load, redis, schemas: { single: single.url, cluster: cluster.url }, fetched: new Set() };
  const collected: Collected = { fanout: [], storms: [] };
  try {
    let roundSeconds = 0;
    for (let round = 1; round <= opts.rounds; round++) {
      // A round that would not finish before the watchdog is not started: the report keeps the rounds done.
      const elapsed = (Date.now() - started) / 1000;
      if (round > 1 && elapsed + roundSeconds > opts.maxSeconds - 15) {
        log(`stopping after ${round - 1} round(s): another (~${roundSeconds.toFixed(0)} s) would pass --max-seconds=${opts.maxSeconds}`);
        break;
      }
      const roundStarted = Date.now();
      const both = round % 2 === 1 ? (['single', 'cluster'] as const) : (['cluster', 'single'] as const);
      // The storm alone needs only the cluster.
      const order = opts.phases.includes('fanout') ? both : (['cluster'] as const);
      log(`round ${round}/${opts.rounds}: ${order.join(' → ')}`);
      for (const setup of order) await (setup === 'single' ? singleRound(ctx, round, collected) : clusterRound(ctx, round, collected));
      roundSeconds = Math.max(roundSeconds, (Date.now() - roundStarted) / 1000);
    }
  } finally {
    await clients.close();
    await publisher.close();
  }
  const summary = summarize(collected);
  process.stdout.write(`\n${render(summary)}\n\n`);
  const result = {
    date: new Date().toISOString(),
    command: ['npm run bench:cluster', ...process.argv.slice(2)].join(' '),
    seconds: (Date.now() - started) / 1000,
    environment: {
      commit: git(['rev-parse', '--short', 'HEAD']),
      srcServerChanges: git(['status', '--porcelain', '--', 'src/server']).split('\n').filter(Boolean),
      node: process.version,
      cpus: os.cpus().map((c) => c.model),
      pinned,
      serverCpu: opts.serverCpu,
      loadCpu: opts.loadCpu,
      redis: redis.own ? 'own redis-server (idle, no persistence)' : redis.url,
      redisVersion: redis.own ? safe(() => execFileSync(opts.redisServer, ['--version'], { encoding: 'utf8' }).trim()) : '',
      postgres: new URL(opts.databaseUrl).host,
      nodeLimits: raisedLimits(),
      loadAverageAtEnd: os.loadavg(),
    },
    options: opts,
    summary,
    fanout: collected.fanout,
    storms: collected.storms,
  };
  if (opts.out !== '-') {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${path.relative(ROOT, opts.out)} (${result.seconds.toFixed(0)} s)`);
  }
}

function safe(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

main().then(
  async () => {
    await cleanUpEverything();
    process.exit(0);
  },
  async (error: unknown) => {
    // Cut short by a signal or the watchdog: their handler reports it and exits.
    if (aborting) return void (await cleanUpEverything());
    process.stderr.write(`bench:cluster failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await cleanUpEverything();
    process.exit(1);
  },
);
