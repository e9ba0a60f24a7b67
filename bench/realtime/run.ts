/**
 * `npm run bench:realtime`: fanout, latency and idle memory of Tandem's gateway + hub against a
 * bare `ws` server (one `ws.send` per subscriber) and Socket.IO 4.8 rooms, in one run.
 *
 * - Each server runs in its own process pinned to one core (`taskset -c 0`), the load clients in
 *   another pinned to the other core (`taskset -c 1`), when taskset and 2 CPUs are available.
 *   Only 127.0.0.1. Every child is killed when this process ends, however it ends, and a
 *   watchdog bounds the whole run.
 * - Per round and server (the order rotates between rounds), a fresh server: baseline RSS after a
 *   full GC (young generation primed to full size first, the same for every server), then N₁
 *   connections (authenticated + subscribed / joined), RSS, up to N₂, RSS → idle memory per
 *   connection ((RSS − baseline) / N, and the marginal (RSS₂ − RSS₁) / (N₂ − N₁)), plus JS heap
 *   per connection; then at N₂ and again after closing down to N₁: a warm-up, and
 *   single      one publication per event-loop turn, back to back (throughput),
 *   burst       `burst` publications per call, one call per turn (throughput),
 *   paced       one publication every interval, the same offered deliveries/s for every server
 *               (latency "at the same load").
 * - Deliveries/s = deliveries / (last delivery − first publication), from the clients' counts.
 *   Server CPU per delivery from /proc/<pid>/stat (utime + stime) around each scenario; the
 *   clients' core use the same way, so every row says which side was saturated.
 * - Figures are medians over the rounds.
 *
 * Knobs (env or --name=value): BENCH_ROUNDS/--rounds (3), BENCH_SIZES/--sizes (1000,10000),
 * BENCH_DELIVERIES/--deliveries (150000 per throughput scenario; a burst scenario is at least one
 * burst), BENCH_BURST/--burst (50), BENCH_PACED_RATE/--paced-rate (20000 deliveries/s offered),
 * BENCH_PACED_MS/--paced-ms (2000), BENCH_WARMUP/--warmup (40000 deliveries),
 * BENCH_SERVERS/--servers (tandem,ws,socketio; add ws-frame-once for the framed-once reference,
 * ws-auth for the handshake's same-work floor,
 * tandem-sse for Tandem's SSE fallback: see `npm run bench:sse`), BENCH_MODES/--modes
 * (single,burst,paced),
 * BENCH_SIO_OFFICIAL/--sio-official (10 socket.io-client connections among the Socket.IO clients),
 * BENCH_SERVER_CPU/--server-cpu (0), BENCH_LOAD_CPU/--load-cpu (1), BENCH_OUT/--out
 * (bench/results/realtime-latest.json; "-" skips writing), BENCH_TANDEM_NODE_ARGS/
 * --tandem-node-args (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_SERVER_NODE_ARGS/
 * --server-node-args (the same for every server), BENCH_MAX_SECONDS (900), BENCH_REPORT/--report=FILE
 * (no run: re-render the tables from a results file).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startClients } from './clients-ipc';
import type { Measurement, MemoryMeasurement } from './measure';
import { killChildren, pinned, stop } from './processes';
import { render } from './report';
import { log, runServerRound, type Collected } from './rounds';
import { LABEL, ROOT, opts, reportFrom } from './settings';

function gitOutput(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  } catch {
    return '';
  }
}

/** --report: the tables of a saved results file, with its servers, sizes and rounds. */
function reportSaved(file: string): void {
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { options: typeof opts; measurements: Measurement[]; memoryMeasurements: MemoryMeasurement[] };
  Object.assign(opts, { servers: saved.options.servers, sizes: saved.options.sizes, rounds: saved.options.rounds, modes: saved.options.modes ?? ['single', 'burst', 'paced'] });
  process.stdout.write(`\n${render(saved.measurements, saved.memoryMeasurements).table}\n\n`);
}

/** Every round: each server in turn (the order rotates between rounds), sharing one client process. */
async function runRounds(collected: Collected): Promise<void> {
  log(`bench:realtime: servers ${opts.servers.join(', ')}; sizes ${opts.sizes.join(', ')}; scenarios ${opts.modes.join(', ')}; ${opts.rounds} round(s); ${opts.deliveries.toLocaleString('en-US')} deliveries per throughput scenario, bursts of ${opts.burst}, paced at ${opts.pacedRate.toLocaleString('en-US')} deliveries/s`);
  log(pinned ? `pinned: servers on cpu ${opts.serverCpu}, clients on cpu ${opts.loadCpu}` : 'not pinned (taskset or a 2nd CPU unavailable): CPU shares are less meaningful');
  const clients = await startClients();
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const order = opts.servers.map((_, i) => opts.servers[(i + round - 1) % opts.servers.length]!);
      log(`round ${round}/${opts.rounds}: ${order.map((s) => LABEL[s]).join(' → ')}`);
      for (const kind of order) await runServerRound(kind, clients, round, collected);
    }
  } finally {
    await clients.send({ cmd: 'exit' }).catch(() => undefined);
    await stop(clients.child, 5_000);
  }
}

async function main(): Promise<void> {
  if (reportFrom !== '') {
    reportSaved(reportFrom);
    return;
  }
  const started = Date.now();
  const collected: Collected = { measurements: [], memory: [] };
  await runRounds(collected);
  const { measurements, memory } = collected;
  const { summary, mem, goals, table } = render(measurements, memory);
  process.stdout.write(`\n${table}\n\n`);
  const result = {
    date: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
    environment: {
      commit: gitOutput(['rev-parse', '--short', 'HEAD']).trim(),
      /** Uncommitted changes under src/server when the bench ran (the code measured is the working tree). */
      srcServerChanges: gitOutput(['status', '--porcelain', '--', 'src/server']).split('\n').filter(Boolean),
      node: process.version,
      cpus: os.cpus().map((c) => c.model),
      pinned,
      serverCpu: opts.serverCpu,
      loadCpu: opts.loadCpu,
      loadAverageAtEnd: os.loadavg(),
    },
    options: { ...opts, out: undefined },
    summary,
    memory: mem,
    targets: goals,
    measurements,
    memoryMeasurements: memory,
  };
  if (opts.out !== '-') {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${path.relative(ROOT, opts.out)} (${result.seconds.toFixed(0)} s)`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:realtime failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killChildren('SIGKILL');
    process.exit(1);
  },
);
