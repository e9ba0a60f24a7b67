/**
 * `npm run bench:storm` (issue 13, "Reconnect storm"): N clients connected to one server, the
 * server restarted, every client back; Tandem and Socket.IO in the same harness.
 *
 * - Processes: the server (bench/storm/tandem-node.ts: the social app through `serve()`, SQLite
 *   in a fresh temp folder removed at exit, the in-process broker; or socketio-node.ts) pinned to
 *   CPU 0; the clients (clients.ts) and the unrelated reader (reader.ts) in two processes pinned
 *   to CPU 1. Loopback only: clients bind 127.0.0.2 … 127.0.0.(1+addresses), the reader
 *   127.0.0.254, the server listens on 127.0.0.1.
 * - Per round and server (fresh server, fresh data folder): connect and subscribe every client
 *   (Tandem: each its own account and session), the reader's idle window, publications before
 *   the restart, then SIGTERM (or SIGKILL) and the same command again on the same port and data
 *   folder; publications over REST while the clients come back; wait until all are back.
 * - Reported: time from "listening again" until 50/99/100% are back, failed attempts by reason,
 *   recovered vs resynced, lost and duplicated publications, the reader's REST p99 idle vs during
 *   the storm, the server's CPU and which core was full. Medians over the rounds; targets as
 *   PASS/MISS; everything in bench/results/storm-latest.json.
 *
 * Knobs (--name=value or BENCH_STORM_NAME; settings.ts): --quick (1,000 clients, 1 round),
 * --clients (10000), --rounds (3), --servers (tandem,socketio), --restart (sigterm | sigkill),
 * --addresses (10), --before (3) / --during (5) publications, --reader-interval-ms (25),
 * --idle-seconds (26; quick 5), --storm-timeout-seconds (60), --node-rate (1000,
 * TANDEM_WS_NEW_CONNECTIONS_PER_SECOND), --handshakes-per-ip (200, TANDEM_WS_HANDSHAKES_PER_IP),
 * --heartbeat-ms (diagnostics: the node's TANDEM_WS_HEARTBEAT_MS), --server-cpu / --load-cpu
 * (0 / 1), --server-node-args (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), --out
 * (bench/results/storm-latest.json; "-" skips), --max-seconds (900; quick 150: a watchdog),
 * --report=FILE (no run: the tables of a results file).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killChildren, pinned } from '../realtime/processes';
import type { ClientCommand } from './clients';
import type { ReaderCommand } from './reader';
import { render, summarize, targets } from './report';
import { GOALS, ROOT, clientAddresses, opts } from './settings';
import { tandemSettings } from './server';
import { runStorm, type StormMeasurement } from './storm';
import { startWorker } from './worker';

const log = (line: string) => process.stderr.write(`${line}\n`);

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  } catch {
    return '';
  }
}

function printReport(measurements: StormMeasurement[]): ReturnType<typeof summarize> {
  const summaries = summarize(measurements);
  process.stdout.write(`\n${render(measurements, summaries, targets(summaries))}\n`);
  return summaries;
}

async function main(): Promise<void> {
  if (opts.report !== '') {
    printReport((JSON.parse(fs.readFileSync(opts.report, 'utf8')) as { measurements: StormMeasurement[] }).measurements);
    return;
  }
  const watchdog = setTimeout(() => {
    log(`\nbench:storm: still running after ${opts.maxSeconds} s (--max-seconds), giving up`);
    killChildren('SIGKILL');
    process.exit(2);
  }, opts.maxSeconds * 1000);
  watchdog.unref();
  const started = Date.now();
  log(`bench:storm: ${opts.clients.toLocaleString('en-US')} clients from ${clientAddresses()[0]}…${clientAddresses().at(-1)}, ${opts.rounds} round(s), ${opts.servers.join(' and ')}, restart by ${opts.restart}${pinned ? '; servers on CPU 0, clients and reader on CPU 1' : '; not pinned (no taskset)'}`);
  const clients = await startWorker<ClientCommand>('bench/storm/clients.ts', 'clients');
  const reader = await startWorker<ReaderCommand>('bench/storm/reader.ts', 'reader');
  const measurements: StormMeasurement[] = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      // The order alternates, so neither server always runs on a machine warmed by the other.
      const order = round % 2 === 1 ? opts.servers : [...opts.servers].reverse();
      for (const kind of order) measurements.push(await runStorm(kind, round, { clients, reader }, log));
    }
  } finally {
    await clients.close();
    await reader.close();
  }
  const summaries = printReport(measurements);
  if (opts.out !== '-') {
    const result = {
      bench: 'storm',
      date: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 1000),
      commit: git(['rev-parse', '--short', 'HEAD']),
      /** Uncommitted changes under src/server when the bench ran (the code measured is the working tree). */
      uncommittedServerChanges: git(['status', '--porcelain', '--', 'src/server']).split('\n').filter(Boolean),
      machine: { cpus: os.cpus().map((c) => c.model), node: process.version, pinned },
      options: { ...opts, addresses: clientAddresses() },
      tandemSettings: tandemSettings(),
      goals: GOALS,
      summaries,
      targets: targets(summaries),
      measurements,
    };
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
    log(`\nbench:storm: results in ${path.relative(ROOT, opts.out)} (${result.seconds} s)`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`bench:storm failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killChildren('SIGKILL');
    process.exit(1);
  },
);
