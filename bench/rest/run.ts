/**
 * `npm run bench:rest`: Tandem's cached read (`GET /api/posts/:id`, 200 and 304) against a bare
 * Fastify 5 route serving the same bytes (bench/rest/bare-server.ts), in one run.
 *
 * - Tandem and the bare server each run in their own process, pinned to one core; the load
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
 * --pipelining (1), BENCH_TARGETS / --targets (tandem-200,bare-200,tandem-304,bare-304),
 * BENCH_RETRIES / --retries (1 extra attempt per contended measurement),
 * BENCH_SERVER_CPU / --server-cpu (0), BENCH_LOAD_CPU / --load-cpu (1), BENCH_OUT / --out
 * (bench/results/rest-latest.json; "-" to skip writing), BENCH_TANDEM_NODE_ARGS /
 * --tandem-node-args (extra node flags for the Tandem process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LoadJob, LoadResult } from './load-worker';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const HOST = '127.0.0.1';
const POST_ID = 1;
const ALL_TARGETS = ['tandem-200', 'bare-200', 'tandem-304', 'bare-304'] as const;
type TargetName = (typeof ALL_TARGETS)[number];
/** Ratio floors from the issue: Tandem / bare requests per second. */
const GOALS = { '200': 0.6, '304': 0.8 } as const;
/** A side whose core is this busy during a measurement is counted as saturated. */
const SATURATED = 0.9;
/** Other processes using more than this share of a pinned core make a measurement "contended". */
const CONTENDED = 0.25;

// ---------------------------------------------------------------------------------------------
// Options

function option(name: string, envName: string, fallback: string): string {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (flag !== undefined) return flag.slice(name.length + 3);
  const env = process.env[envName];
  return env !== undefined && env.trim() !== '' ? env.trim() : fallback;
}

function positiveInt(name: string, envName: string, fallback: number, min = 1): number {
  const raw = option(name, envName, String(fallback));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} / ${envName}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const opts = {
  rounds: positiveInt('rounds', 'BENCH_ROUNDS', 3),
  duration: positiveInt('duration', 'BENCH_DURATION', 5),
  warmup: positiveInt('warmup', 'BENCH_WARMUP', 1, 0),
  connections: positiveInt('connections', 'BENCH_CONNECTIONS', 50),
  pipelining: positiveInt('pipelining', 'BENCH_PIPELINING', 1),
  retries: positiveInt('retries', 'BENCH_RETRIES', 1, 0),
  serverCpu: positiveInt('server-cpu', 'BENCH_SERVER_CPU', 0, 0),
  loadCpu: positiveInt('load-cpu', 'BENCH_LOAD_CPU', 1, 0),
  targets: option('targets', 'BENCH_TARGETS', ALL_TARGETS.join(',')).split(',').map((t) => t.trim()).filter(Boolean) as TargetName[],
  out: option('out', 'BENCH_OUT', path.join(ROOT, 'bench', 'results', 'rest-latest.json')),
  tandemNodeArgs: option('tandem-node-args', 'BENCH_TANDEM_NODE_ARGS', '').split(/\s+/).filter(Boolean),
};
for (const t of opts.targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}; use ${ALL_TARGETS.join(', ')}`);

// ---------------------------------------------------------------------------------------------
// Children: tracked, and killed whatever way this process ends

const children = new Set<ChildProcess>();
let tempDir: string | undefined;

function killAll(signal: NodeJS.Signals): void {
  for (const child of children) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(-child.pid, signal); // each child leads its own process group (detached)
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }
}

function removeTempDir(): void {
  if (tempDir === undefined) return;
  fs.rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}

process.on('exit', () => {
  killAll('SIGKILL');
  removeTempDir();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAll('SIGKILL');
    process.exit(130);
  });
}

async function stopAll(): Promise<void> {
  const exits = [...children].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  killAll('SIGTERM');
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
  await Promise.race([Promise.all(exits), timeout]);
  killAll('SIGKILL');
}

// ---------------------------------------------------------------------------------------------
// Pinning and /proc accounting

function canPin(): boolean {
  if (process.platform !== 'linux') return false;
  if (os.availableParallelism() < 2) return false;
  const probe = spawnSync('taskset', ['-c', String(opts.serverCpu), 'true'], { stdio: 'ignore' });
  const probe2 = spawnSync('taskset', ['-c', String(opts.loadCpu), 'true'], { stdio: 'ignore' });
  return probe.status === 0 && probe2.status === 0;
}
const pinned = canPin();

function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicks();
const procAvailable = fs.existsSync('/proc/self/stat');

/** utime + stime of a process (all its threads), in microseconds; undefined without /proc. */
function cpuMicrosOf(pid: number): number | undefined {
  if (!procAvailable) return undefined;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; everything after the last ')' is space-separated from field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / CLK_TCK;
}

/** Busy and total jiffies of one CPU from /proc/stat (busy = everything but idle and iowait). */
function coreTicks(cpu: number): { busy: number; irq: number; total: number } | undefined {
  if (!procAvailable) return undefined;
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), irq: (v[5] ?? 0) + (v[6] ?? 0), total };
}

function coreBusy(before: ReturnType<typeof coreTicks>, after: ReturnType<typeof coreTicks>, field: 'busy' | 'irq' = 'busy'): number | null {
  if (before === undefined || after === undefined || after.total === before.total) return null;
  return (after[field] - before[field]) / (after.total - before.total);
}

/**
 * Spawns `node --import tsx <script>`, pinned to `cpu` when possible, as its own process group,
 * with exit-with-parent.ts preloaded so it stops by itself if this runner dies.
 */
function spawnNode(script: string, cpu: number, env: NodeJS.ProcessEnv, nodeArgs: string[] = [], ipc = false): ChildProcess {
  const watchdog = pathToFileURL(path.join(HERE, 'exit-with-parent.ts')).href;
  const nodeArgv = [...nodeArgs, '--import', 'tsx', '--import', watchdog, script];
  const [command, args] = pinned ? ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgv]] : [process.execPath, nodeArgv];
  const child = spawn(command, args as string[], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the first stdout match of `pattern`; rejects if the child exits first or after `ms`. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string, ms = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${ms / 1000} s`)), ms);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const match = pattern.exec(buffer);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining so the child never blocks on a full pipe
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited early (code ${code}, signal ${signal})`));
    });
  });
}

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('TANDEM_') || key === 'DATABASE_URL' || key === 'NODE_OPTIONS' || key === 'PORT' || key === 'HOST') continue;
    env[key] = value;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Servers

interface Server {
  name: 'tandem' | 'bare';
  child: ChildProcess;
  pid: number;
  url: string;
}

async function startTandem(dataDir: string): Promise<Server> {
  const child = spawnNode(path.join('src', 'apps', 'social', 'main.ts'), opts.serverCpu, {
    ...baseEnv(),
    PORT: '0',
    HOST,
    TANDEM_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // The config caps both at 10,000,000: at the bench's rate the bucket never runs dry, but
    // the limiter still does all of its work on every request.
    TANDEM_RATE_LIMIT: '10000000',
    TANDEM_RATE_LIMIT_BURST: '10000000',
    TANDEM_SEED: 'true',
  }, opts.tandemNodeArgs);
  const match = await waitForLine(child, /Tandem social: http:\/\/[^:]+:(\d+)/, 'Tandem');
  return { name: 'tandem', child, pid: child.pid!, url: `http://${HOST}:${match[1]}` };
}

interface Reference {
  body: Buffer;
  etag: string;
  cacheControl: string;
  contentType: string;
}

async function startBare(ref: Reference): Promise<Server> {
  const child = spawnNode(path.join('bench', 'rest', 'bare-server.ts'), opts.serverCpu, {
    ...baseEnv(),
    PORT: '0',
    BENCH_BODY_B64: ref.body.toString('base64'),
    BENCH_ETAG: ref.etag,
    BENCH_CACHE_CONTROL: ref.cacheControl,
    BENCH_CONTENT_TYPE: ref.contentType,
  });
  const match = await waitForLine(child, /bare listening on (\d+)/, 'bare server');
  return { name: 'bare', child, pid: child.pid!, url: `http://${HOST}:${match[1]}` };
}

async function fetchPost(server: Server, ifNoneMatch?: string) {
  const response = await fetch(`${server.url}/api/posts/${POST_ID}`, { headers: ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch } });
  const body = Buffer.from(await response.arrayBuffer());
  const header = (name: string) => response.headers.get(name) ?? '';
  return { status: response.status, body, etag: header('etag'), cacheControl: header('cache-control'), contentType: header('content-type') };
}

/** The bare server must answer byte-for-byte what Tandem answers, or the comparison means nothing. */
async function verifySameAnswers(tandem: Server, bare: Server, ref: Reference): Promise<void> {
  const problems: string[] = [];
  for (const server of [tandem, bare]) {
    const ok = await fetchPost(server);
    if (ok.status !== 200) problems.push(`${server.name}: 200 expected, got ${ok.status}`);
    if (!ok.body.equals(ref.body)) problems.push(`${server.name}: body differs`);
    if (ok.etag !== ref.etag) problems.push(`${server.name}: etag ${ok.etag} != ${ref.etag}`);
    if (ok.cacheControl !== ref.cacheControl) problems.push(`${server.name}: cache-control differs`);
    if (ok.contentType !== ref.contentType) problems.push(`${server.name}: content-type ${ok.contentType} != ${ref.contentType}`);
    const cached = await fetchPost(server, ref.etag);
    if (cached.status !== 304) problems.push(`${server.name}: 304 expected for If-None-Match, got ${cached.status}`);
    if (cached.body.length !== 0) problems.push(`${server.name}: 304 has a body`);
    if (cached.etag !== ref.etag || cached.cacheControl !== ref.cacheControl) problems.push(`${server.name}: 304 headers differ`);
  }
  if (problems.length > 0) throw new Error(`Tandem and the bare server do not answer alike:\n  ${problems.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------
// Load worker

interface LoadWorker {
  child: ChildProcess;
  pid: number;
  run(job: Omit<LoadJob, 'id'>): Promise<LoadResult>;
}

async function startLoadWorker(): Promise<LoadWorker> {
  const child = spawnNode(path.join('bench', 'rest', 'load-worker.ts'), opts.loadCpu, baseEnv(), [], true);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load worker did not start within 60 s')), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`load worker exited early (code ${code})`)));
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  child.on('message', (message: { ok: true; result: LoadResult } | { ok: false; id: number; error: string }) => {
    if (message.ok) {
      pending.get(message.result.id)?.resolve(message.result);
      pending.delete(message.result.id);
    } else {
      pending.get(message.id)?.reject(new Error(`load worker: ${message.error}`));
      pending.delete(message.id);
    }
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`load worker exited (code ${code})`));
    pending.clear();
  });
  return {
    child,
    pid: child.pid!,
    run: (job) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ ...job, id });
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Measurement {
  round: number;
  target: TargetName;
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Server CPU (user + system) per completed request, µs. */
  serverCpuMicrosPerRequest: number | null;
  /** Share of one core the server used during the measurement. */
  serverCoreUse: number | null;
  /** Share of one core the load generator used during the measurement. */
  loadCoreUse: number;
  /** How busy the server's / load generator's CPU was in total (all processes), from /proc/stat; null unpinned. */
  serverCpuBusy: number | null;
  loadCpuBusy: number | null;
  /** Interrupt and softirq share of each pinned core (mostly our own loopback TCP traffic). */
  serverCpuIrq: number | null;
  loadCpuIrq: number | null;
  /** Largest share of a pinned core that other processes took during the measurement; null unpinned. */
  foreignCoreUse: number | null;
  /** Measurements of this slot, including this one (more than 1 when contended ones were retried). */
  attempts: number;
  valid: boolean;
}

/** Busy time on a pinned core that was neither our process on it nor interrupt/softirq work. */
function foreignUse(m: Pick<Measurement, 'serverCoreUse' | 'loadCoreUse' | 'serverCpuBusy' | 'loadCpuBusy' | 'serverCpuIrq' | 'loadCpuIrq'>): number | null {
  if (m.serverCpuBusy === null || m.loadCpuBusy === null || m.serverCoreUse === null) return null;
  return Math.max(0, m.serverCpuBusy - m.serverCoreUse - (m.serverCpuIrq ?? 0), m.loadCpuBusy - m.loadCoreUse - (m.loadCpuIrq ?? 0));
}

const contended = (m: Measurement) => m.foreignCoreUse !== null && m.foreignCoreUse > CONTENDED;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOrNull(values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : median(present);
}

async function measure(load: LoadWorker, server: Server, target: TargetName, ref: Reference, round: number): Promise<Measurement> {
  const expected = target.endsWith('304') ? 304 : 200;
  const job = {
    url: `${server.url}/api/posts/${POST_ID}`,
    headers: (expected === 304 ? { 'if-none-match': ref.etag } : {}) as Record<string, string>,
    connections: opts.connections,
    pipelining: opts.pipelining,
  };
  if (opts.warmup > 0) await load.run({ ...job, duration: opts.warmup });
  const coresBefore = pinned ? [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)] : [];
  const cpuBefore = cpuMicrosOf(server.pid);
  const wallBefore = process.hrtime.bigint();
  const result = await load.run({ ...job, duration: opts.duration });
  const wallMicros = Number(process.hrtime.bigint() - wallBefore) / 1000;
  const cpuAfter = cpuMicrosOf(server.pid);
  const coresAfter = pinned ? [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)] : [];
  const serverCpu = cpuBefore === undefined || cpuAfter === undefined ? null : cpuAfter - cpuBefore;
  const answered = Object.values(result.statusCodes).reduce((a, b) => a + b, 0);
  const wrong = answered - (result.statusCodes[String(expected)] ?? 0);
  const valid = wrong === 0 && result.errors === 0 && result.timeouts === 0 && result.requests > 0;
  if (!valid) {
    process.stderr.write(`  ! ${target} round ${round}: status codes ${JSON.stringify(result.statusCodes)}, errors ${result.errors}, timeouts ${result.timeouts}\n`);
  }
  const m = {
    round,
    target,
    requestsPerSecond: result.requests / result.seconds,
    requests: result.requests,
    seconds: result.seconds,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    statusCodes: result.statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuMicrosPerRequest: serverCpu === null || result.requests === 0 ? null : serverCpu / result.requests,
    serverCoreUse: serverCpu === null ? null : serverCpu / wallMicros,
    loadCoreUse: result.cpuMicros / result.wallMicros,
    serverCpuBusy: pinned ? coreBusy(coresBefore[0], coresAfter[0]) : null,
    loadCpuBusy: pinned ? coreBusy(coresBefore[1], coresAfter[1]) : null,
    serverCpuIrq: pinned ? coreBusy(coresBefore[0], coresAfter[0], 'irq') : null,
    loadCpuIrq: pinned ? coreBusy(coresBefore[1], coresAfter[1], 'irq') : null,
    foreignCoreUse: null as number | null,
    attempts: 1,
    valid,
  };
  m.foreignCoreUse = foreignUse(m);
  return m;
}

/**
 * One slot of a round. On a shared machine other processes may take a pinned core; such a
 * measurement is repeated (up to --retries times) and the least contended attempt is kept.
 */
async function measureSlot(load: LoadWorker, server: Server, target: TargetName, ref: Reference, round: number): Promise<Measurement> {
  let best = await measure(load, server, target, ref, round);
  let attempts = 1;
  while (contended(best) && attempts <= opts.retries) {
    process.stderr.write(`  (round ${round} ${target}: other processes took ${pct(best.foreignCoreUse)} of a pinned core; measuring again)\n`);
    const next = await measure(load, server, target, ref, round);
    attempts++;
    if (!next.valid) {
      best = next; // wrong answers are never retried away
      break;
    }
    if ((next.foreignCoreUse ?? 1) < (best.foreignCoreUse ?? 1)) best = next;
  }
  best.attempts = attempts;
  return best;
}

/**
 * Which side limited a measurement. A process using >= 90 % of its core is saturated; a core that
 * is >= 90 % busy while our process on it is not means other processes on the shared machine
 * took the rest (reported as contention).
 */
function bottleneck(serverUse: number | null, loadUse: number, serverCpuBusy: number | null, loadCpuBusy: number | null): string {
  const serverBusy = serverUse !== null && serverUse >= SATURATED;
  const loadBusy = loadUse >= SATURATED;
  if (serverBusy && loadBusy) return 'both sides saturated';
  if (serverBusy) return 'server';
  if (loadBusy) return 'load generator';
  const contended = [
    serverCpuBusy !== null && serverCpuBusy >= SATURATED ? 'server' : undefined,
    loadCpuBusy !== null && loadCpuBusy >= SATURATED ? 'load-generator' : undefined,
  ].filter(Boolean);
  if (contended.length > 0) return `${contended.join(' and ')} core full, shared with other processes`;
  return 'neither side saturated';
}

// ---------------------------------------------------------------------------------------------

const fmt = (n: number | null, digits = 0) => (n === null ? 'n/a' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const pct = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n * 100)} %`);

async function main(): Promise<void> {
  const started = Date.now();
  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  process.stderr.write(
    `bench:rest  ${opts.rounds} rounds x ${opts.targets.length} targets, ${opts.warmup} s warm-up + ${opts.duration} s each, ` +
      `${opts.connections} connections, pipelining ${opts.pipelining}\n` +
      (pinned ? `pinning: servers on CPU ${opts.serverCpu}, load generator on CPU ${opts.loadCpu} (taskset)\n` : 'pinning: unavailable (no taskset or < 2 CPUs); processes float\n'),
  );

  // How busy the machine is before anything of ours runs (other work on shared cores skews results).
  const idleBefore = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)];
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const busyBeforeStart = [coreBusy(idleBefore[0], coreTicks(opts.serverCpu)), coreBusy(idleBefore[1], coreTicks(opts.loadCpu))];
  if (busyBeforeStart.some((b) => b !== null && b > CONTENDED)) {
    process.stderr.write(`warning: CPUs already busy before the bench (${busyBeforeStart.map(pct).join(', ')}): other processes will skew req/s\n`);
  }

  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bench-rest-'));
  const tandem = await startTandem(tempDir);
  const first = await fetchPost(tandem);
  if (first.status !== 200) throw new Error(`Tandem answered ${first.status} for /api/posts/${POST_ID}; is seeding on?`);
  const ref: Reference = { body: first.body, etag: first.etag, cacheControl: first.cacheControl, contentType: first.contentType };
  const bare = await startBare(ref);
  await verifySameAnswers(tandem, bare, ref);
  const load = await startLoadWorker();
  process.stderr.write(`tandem pid ${tandem.pid} ${tandem.url}, bare pid ${bare.pid} ${bare.url}, load pid ${load.pid}; ETag ${ref.etag}, ${ref.body.length} body bytes\n`);

  const servers: Record<'tandem' | 'bare', Server> = { tandem, bare };
  const measurements: Measurement[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const shift = (round - 1) % opts.targets.length;
    const order = [...opts.targets.slice(shift), ...opts.targets.slice(0, shift)];
    for (const target of order) {
      const server = servers[target.startsWith('tandem') ? 'tandem' : 'bare'];
      const m = await measureSlot(load, server, target, ref, round);
      measurements.push(m);
      process.stderr.write(
        `  round ${round} ${target.padEnd(10)} ${fmt(m.requestsPerSecond).padStart(7)} req/s  p99 ${fmt(m.p99Ms, 0)} ms  ` +
          `server ${fmt(m.serverCpuMicrosPerRequest, 1)} µs/req (process ${pct(m.serverCoreUse)} of its core, core ${pct(m.serverCpuBusy)} busy)  ` +
          `load generator ${pct(m.loadCoreUse)} (core ${pct(m.loadCpuBusy)} busy)${contended(m) ? '  [contended]' : ''}\n`,
      );
    }
  }
  await stopAll();
  removeTempDir();

  const summary = opts.targets.map((target) => {
    const rows = measurements.filter((m) => m.target === target && m.valid);
    const serverCoreUse = medianOrNull(rows.map((m) => m.serverCoreUse));
    const loadCoreUse = median(rows.map((m) => m.loadCoreUse));
    const serverCpuBusy = medianOrNull(rows.map((m) => m.serverCpuBusy));
    const loadCpuBusy = medianOrNull(rows.map((m) => m.loadCpuBusy));
    return {
      target,
      validRuns: rows.length,
      contendedRuns: rows.filter(contended).length,
      medianRequestsPerSecond: rows.length === 0 ? 0 : median(rows.map((m) => m.requestsPerSecond)),
      medianP99Ms: rows.length === 0 ? null : median(rows.map((m) => m.p99Ms)),
      medianServerCpuMicrosPerRequest: medianOrNull(rows.map((m) => m.serverCpuMicrosPerRequest)),
      medianServerCoreUse: serverCoreUse,
      medianLoadCoreUse: rows.length === 0 ? null : loadCoreUse,
      medianServerCpuBusy: serverCpuBusy,
      medianLoadCpuBusy: loadCpuBusy,
      bottleneck: rows.length === 0 ? 'no valid run' : bottleneck(serverCoreUse, loadCoreUse, serverCpuBusy, loadCpuBusy),
    };
  });
  const byTarget = Object.fromEntries(summary.map((s) => [s.target, s]));
  const ratios = (['200', '304'] as const).flatMap((status) => {
    const t = byTarget[`tandem-${status}`];
    const b = byTarget[`bare-${status}`];
    if (t === undefined || b === undefined || t.validRuns === 0 || b.validRuns === 0) return [];
    const ratio = t.medianRequestsPerSecond / b.medianRequestsPerSecond;
    const cpuRatio = t.medianServerCpuMicrosPerRequest !== null && b.medianServerCpuMicrosPerRequest !== null ? b.medianServerCpuMicrosPerRequest / t.medianServerCpuMicrosPerRequest : null;
    return [{ status, ratio, goal: GOALS[status], pass: ratio >= GOALS[status], serverCpuEfficiency: cpuRatio }];
  });
  const invalid = measurements.filter((m) => !m.valid).length;

  const results = {
    benchmark: 'rest',
    date: new Date(started).toISOString(),
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
    machine: {
      cpus: os.availableParallelism(),
      cpuModel,
      node: process.version,
      platform: `${os.type()} ${os.release()}`,
      pinning: pinned ? { server: opts.serverCpu, loadGenerator: opts.loadCpu } : null,
      busyBeforeStart: { serverCpu: busyBeforeStart[0], loadCpu: busyBeforeStart[1] },
      note: '2 shared cores: servers pinned to one, autocannon to the other',
    },
    config: {
      rounds: opts.rounds,
      durationSeconds: opts.duration,
      warmupSeconds: opts.warmup,
      connections: opts.connections,
      pipelining: opts.pipelining,
      targets: opts.targets,
      retriesWhenContended: opts.retries,
      request: `GET /api/posts/${POST_ID}`,
      etag: ref.etag,
      bodyBytes: ref.body.length,
    },
    summary,
    ratios,
    invalidMeasurements: invalid,
    measurements,
  };
  if (opts.out !== '-') {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  }

  const lines = [
    `### REST: GET /api/posts/${POST_ID}, Tandem vs bare Fastify (${results.date})`,
    '',
    `${opts.rounds} rounds, ${opts.duration} s per measurement after ${opts.warmup} s warm-up, ${opts.connections} connections, pipelining ${opts.pipelining}; ` +
      `${results.machine.cpus} CPUs (${cpuModel}), Node ${process.version}; ${pinned ? `servers on CPU ${opts.serverCpu}, autocannon on CPU ${opts.loadCpu}` : 'no pinning'}.`,
    '',
    '| target | median req/s | median p99 (ms) | server CPU µs/req | server process / its core busy | autocannon process / its core busy | bottleneck |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...summary.map(
      (s) =>
        `| ${s.target} | ${fmt(s.medianRequestsPerSecond)} | ${fmt(s.medianP99Ms)} | ${fmt(s.medianServerCpuMicrosPerRequest, 1)} | ${pct(s.medianServerCoreUse)} / ${pct(s.medianServerCpuBusy)} | ${pct(s.medianLoadCoreUse)} / ${pct(s.medianLoadCpuBusy)} | ${s.bottleneck} |`,
    ),
    '',
    '| ratio Tandem / bare | req/s ratio | target | result | server-CPU ratio (bare µs ÷ Tandem µs) |',
    '|---|---:|---:|---|---:|',
    ...ratios.map((r) => `| ${r.status} | ${r.ratio.toFixed(2)}× | ≥ ${r.goal}× | ${r.pass ? 'PASS' : 'MISS'} | ${r.serverCpuEfficiency === null ? 'n/a' : `${r.serverCpuEfficiency.toFixed(2)}×`} |`),
    '',
    ...ratios.map((r) => `${r.pass ? 'PASS' : 'MISS'}  Tandem ${r.status} = ${r.ratio.toFixed(2)}× bare (target ≥ ${r.goal}×)`),
  ];
  const contendedKept = measurements.filter((m) => m.valid && contended(m)).length;
  if (contendedKept > 0) {
    lines.push('', `NOTE: ${contendedKept} of ${measurements.length} measurements were still contended after retries (other processes took > ${CONTENDED * 100} % of a pinned core); req/s is less reliable than server CPU µs/req for those.`);
  }
  if (invalid > 0) lines.push('', `WARNING: ${invalid} measurement(s) had unexpected status codes or errors and were left out of the medians.`);
  if (opts.out !== '-') lines.push('', `Results: ${path.relative(ROOT, opts.out)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (invalid > 0) process.exitCode = 1;
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench:rest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAll().catch(() => undefined);
  process.exit(1);
});
