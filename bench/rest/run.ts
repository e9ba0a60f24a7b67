/**
 * `npm run bench:rest`: Tandem's cached read (`GET /api/posts/:id`, 200 and 304) against the
 * same-work floor (bench/rest/floor-server.ts: Fastify + better-sqlite3 reading the row from
 * Tandem's own file on every request) and a bare Fastify 5 route serving constant bytes
 * (bench/rest/bare-server.ts), in one run.
 *
 * - Tandem, the floor and the bare server each run in their own process, pinned to one core; the load
 *   generator (autocannon, bench/rest/load-worker.ts) runs in a third process pinned to the other
 *   core (`taskset -c`, when available and there are at least 2 CPUs).
 * - Targets are alternated inside each round (the order rotates between rounds); every
 *   measurement is preceded by a short warm-up on the same target.
 * - For each measurement the servers' CPU time comes from /proc/<pid>/stat (utime + stime), the
 *   load generator reports its own (process.cpuUsage), and /proc/stat says how busy each pinned
 *   core was in total, so each row says which side was saturated and whether other processes on
 *   a shared machine took part of a core (such "contended" measurements are retried).
 * - Only 127.0.0.1, a temporary data dir that is deleted, and every child is killed on exit/error.
 *
 * Knobs (env or --name=value): BENCH_ROUNDS / --rounds (3), BENCH_DURATION / --duration (5 s),
 * BENCH_WARMUP / --warmup (1 s), BENCH_CONNECTIONS / --connections (50), BENCH_PIPELINING /
 * --pipelining (1), BENCH_TARGETS / --targets (tandem-200,floor-200,bare-200,tandem-304,floor-304,bare-304,
 * tandem-me,floor-me: `GET /api/me` with a demo user's bearer token),
 * BENCH_RETRIES / --retries (1 extra attempt per contended measurement),
 * BENCH_SERVER_CPU / --server-cpu (0), BENCH_LOAD_CPU / --load-cpu (1), BENCH_OUT / --out
 * (bench/results/rest-latest.json; "-" to skip writing), BENCH_TANDEM_NODE_ARGS /
 * --tandem-node-args (extra node flags for the Tandem process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"),
 * BENCH_TANDEM_LOG_LEVEL / --tandem-log-level (silent; `info` adds Tandem's per-request log lines, piped to this process, which drops them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { coreBusy, coreTicks } from '../common/cpu';
import { fmt, pct } from './format';
import { startLoadWorker, type LoadWorker } from './load-worker-ipc';
import { contended, measureSlot, type Measurement } from './measure';
import { makeTempDir, pinned, removeTempDir, stopAll } from './processes';
import { buildResults, renderMarkdown } from './report';
import { fetchMe, fetchPost, signIn, startBare, startFloor, startTandem, verifySameAnswers, type Reference, type Server, type ServerName } from './servers';
import { CONTENDED, POST_ID, opts } from './settings';

/** How busy the machine is before anything of ours runs (other work on shared cores skews results). */
async function busyBeforeStart(): Promise<Array<number | null>> {
  const idleBefore = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)];
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const busy = [coreBusy(idleBefore[0], coreTicks(opts.serverCpu)), coreBusy(idleBefore[1], coreTicks(opts.loadCpu))];
  if (busy.some((b) => b !== null && b > CONTENDED)) {
    process.stderr.write(`warning: CPUs already busy before the bench (${busy.map(pct).join(', ')}): other processes will skew req/s\n`);
  }
  return busy;
}

/** Tandem (seeded, in a temporary data dir), the floor on Tandem's file, the bare server serving Tandem's answer, and the load worker. */
async function startAll(): Promise<{ servers: Record<ServerName, Server>; ref: Reference; load: LoadWorker }> {
  const dataDir = makeTempDir('tandem-bench-rest-');
  const tandem = await startTandem(dataDir);
  const first = await fetchPost(tandem);
  if (first.status !== 200) throw new Error(`Tandem answered ${first.status} for /api/posts/${POST_ID}; is seeding on?`);
  const token = await signIn(tandem);
  const me = await fetchMe(tandem, token);
  if (me.status !== 200) throw new Error(`Tandem answered ${me.status} for GET /api/me`);
  const ref: Reference = { body: first.body, etag: first.etag, cacheControl: first.cacheControl, contentType: first.contentType, token, me: { body: me.body, etag: me.etag } };
  const floor = await startFloor(ref, dataDir);
  const bare = await startBare(ref);
  await verifySameAnswers([tandem, floor, bare], ref);
  const load = await startLoadWorker();
  process.stderr.write(`tandem pid ${tandem.pid} ${tandem.url}, floor pid ${floor.pid} ${floor.url}, bare pid ${bare.pid} ${bare.url}, load pid ${load.pid}; ETag ${ref.etag}, ${ref.body.length} body bytes\n`);
  return { servers: { tandem, floor, bare }, ref, load };
}

/** Every round measures every target once; the order rotates by one target per round. */
async function runRounds(servers: Record<ServerName, Server>, ref: Reference, load: LoadWorker): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const shift = (round - 1) % opts.targets.length;
    const order = [...opts.targets.slice(shift), ...opts.targets.slice(0, shift)];
    for (const target of order) {
      const server = servers[target.slice(0, target.indexOf('-')) as ServerName];
      const m = await measureSlot(load, server, target, ref, round);
      measurements.push(m);
      process.stderr.write(
        `  round ${round} ${target.padEnd(10)} ${fmt(m.requestsPerSecond).padStart(7)} req/s  p99 ${fmt(m.p99Ms, 0)} ms  ` +
          `server ${fmt(m.serverCpuMicrosPerRequest, 1)} µs/req (process ${pct(m.serverCoreUse)} of its core, core ${pct(m.serverCpuBusy)} busy)  ` +
          `load generator ${pct(m.loadCoreUse)} (core ${pct(m.loadCpuBusy)} busy)${contended(m) ? '  [contended]' : ''}\n`,
      );
    }
  }
  return measurements;
}

async function main(): Promise<void> {
  const started = Date.now();
  process.stderr.write(
    `bench:rest  ${opts.rounds} rounds x ${opts.targets.length} targets, ${opts.warmup} s warm-up + ${opts.duration} s each, ` +
      `${opts.connections} connections, pipelining ${opts.pipelining}\n` +
      (pinned ? `pinning: servers on CPU ${opts.serverCpu}, load generator on CPU ${opts.loadCpu} (taskset)\n` : 'pinning: unavailable (no taskset or < 2 CPUs); processes float\n'),
  );
  const busy = await busyBeforeStart();
  const { servers, ref, load } = await startAll();
  const measurements = await runRounds(servers, ref, load);
  await stopAll();
  removeTempDir();

  const results = buildResults({ started, busyBeforeStart: busy, ref, measurements });
  if (opts.out !== '-') {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  }
  process.stdout.write(renderMarkdown(results));
  if (results.invalidMeasurements > 0) process.exitCode = 1;
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench:rest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAll().catch(() => undefined);
  process.exit(1);
});
