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
 * BENCH_SERVERS/--servers (tandem,ws,socketio; add ws-frame-once for the framed-once reference),
 * BENCH_SIO_OFFICIAL/--sio-official (10 socket.io-client connections among the Socket.IO clients),
 * BENCH_SERVER_CPU/--server-cpu (0), BENCH_LOAD_CPU/--load-cpu (1), BENCH_OUT/--out
 * (bench/results/realtime-latest.json; "-" skips writing), BENCH_TANDEM_NODE_ARGS/
 * --tandem-node-args (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_SERVER_NODE_ARGS/
 * --server-node-args (the same for every server), BENCH_MAX_SECONDS (900), BENCH_REPORT/--report=FILE
 * (no run: re-render the tables from a results file).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientCommand, ClientReply, ServerKind, WaitResult } from './clients';
import { HOST, type MemReport, type PublishMode, type PublishReport, type ServerStats } from './common';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DEFAULT_SERVERS: ServerKind[] = ['tandem', 'ws', 'socketio'];
/** ws-frame-once is an optional reference (what framing once is worth), not part of the targets. */
const ALL_SERVERS: ServerKind[] = [...DEFAULT_SERVERS, 'ws-frame-once'];
const LABEL: Record<ServerKind, string> = { tandem: 'Tandem', ws: 'bare ws', socketio: 'Socket.IO', 'ws-frame-once': 'ws, framed once' };
const SCRIPT: Record<ServerKind, string> = {
  tandem: 'bench/realtime/tandem-server.ts',
  ws: 'bench/realtime/ws-server.ts',
  socketio: 'bench/realtime/socketio-server.ts',
  'ws-frame-once': 'bench/realtime/ws-frame-once-server.ts',
};
/** A side whose core was at least this busy during a scenario counts as the bottleneck. */
const SATURATED = 0.85;

// ---------------------------------------------------------------------------------------------
// Options

function option(name: string, envName: string, fallback: string): string {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (flag !== undefined) return flag.slice(name.length + 3);
  const env = process.env[envName];
  return env !== undefined && env.trim() !== '' ? env.trim() : fallback;
}

function int(name: string, envName: string, fallback: number, min = 1): number {
  const raw = option(name, envName, String(fallback));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} / ${envName}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

const opts = {
  rounds: int('rounds', 'BENCH_ROUNDS', 3),
  sizes: option('sizes', 'BENCH_SIZES', '1000,10000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b),
  deliveries: int('deliveries', 'BENCH_DELIVERIES', 150_000),
  burst: int('burst', 'BENCH_BURST', 50),
  pacedRate: int('paced-rate', 'BENCH_PACED_RATE', 20_000),
  pacedMs: int('paced-ms', 'BENCH_PACED_MS', 2_000),
  warmup: int('warmup', 'BENCH_WARMUP', 40_000, 0),
  servers: option('servers', 'BENCH_SERVERS', DEFAULT_SERVERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean) as ServerKind[],
  sioOfficial: int('sio-official', 'BENCH_SIO_OFFICIAL', 10, 0),
  serverCpu: int('server-cpu', 'BENCH_SERVER_CPU', 0, 0),
  loadCpu: int('load-cpu', 'BENCH_LOAD_CPU', 1, 0),
  out: option('out', 'BENCH_OUT', path.join(ROOT, 'bench', 'results', 'realtime-latest.json')),
  tandemNodeArgs: option('tandem-node-args', 'BENCH_TANDEM_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  serverNodeArgs: option('server-node-args', 'BENCH_SERVER_NODE_ARGS', '').split(/\s+/).filter(Boolean),
  maxSeconds: int('max-seconds', 'BENCH_MAX_SECONDS', 900),
};
for (const s of opts.servers) if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s}; use ${ALL_SERVERS.join(', ')}`);
if (opts.sizes.length === 0) throw new Error('BENCH_SIZES: no valid size');
let maxSize = opts.sizes[opts.sizes.length - 1]!;
/** --report=FILE: no run, re-render the tables and targets from a results file (e.g. after changing the report). */
const reportFrom = option('report', 'BENCH_REPORT', '');

// ---------------------------------------------------------------------------------------------
// Children: tracked, killed whatever way this process ends

const children = new Set<ChildProcess>();

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

process.on('exit', () => killAll('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAll('SIGKILL');
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  process.stderr.write(`\nbench: still running after ${opts.maxSeconds} s, giving up\n`);
  killAll('SIGKILL');
  process.exit(2);
}, opts.maxSeconds * 1000);
watchdog.unref();

/** SIGTERM (servers exit cleanly, so a --cpu-prof profile gets written), SIGKILL after `ms`. */
async function stop(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
  await Promise.race([exited, timer]);
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pinning and /proc accounting

function canPin(): boolean {
  if (process.platform !== 'linux' || os.availableParallelism() < 2) return false;
  const a = spawnSync('taskset', ['-c', String(opts.serverCpu), 'true'], { stdio: 'ignore' });
  const b = spawnSync('taskset', ['-c', String(opts.loadCpu), 'true'], { stdio: 'ignore' });
  return a.status === 0 && b.status === 0;
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

/** utime + stime of a process (all its threads), µs; undefined without /proc. */
function cpuMicrosOf(pid: number): number | undefined {
  if (!procAvailable) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of one CPU (busy = all but idle and iowait). */
function coreTicks(cpu: number): { busy: number; total: number } | undefined {
  if (!procAvailable) return undefined;
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

function coreBusy(before: ReturnType<typeof coreTicks>, after: ReturnType<typeof coreTicks>): number | null {
  if (before === undefined || after === undefined || after.total === before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}

/**
 * Spawns `node [nodeArgs] --import tsx <script>` through `sh` (to raise the fd limit to the hard
 * limit: 10,000 sockets need more than many defaults), pinned with taskset when possible, in its
 * own process group. `exec` keeps one pid all the way down to node.
 */
function spawnNode(script: string, cpu: number, nodeArgs: string[], ipc: boolean): ChildProcess {
  const argv = [...(pinned ? ['taskset', '-c', String(cpu)] : []), process.execPath, ...nodeArgs, '--import', 'tsx', script];
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (key !== 'NODE_OPTIONS' && !key.startsWith('TANDEM_')) env[key] = value;
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...argv], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

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
        child.stdout?.resume();
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

// ---------------------------------------------------------------------------------------------
// Servers and the client process

interface RunningServer {
  kind: ServerKind;
  child: ChildProcess;
  pid: number;
  base: string;
}

async function startServer(kind: ServerKind): Promise<RunningServer> {
  const nodeArgs = ['--expose-gc', ...opts.serverNodeArgs, ...(kind === 'tandem' ? opts.tandemNodeArgs : [])];
  const child = spawnNode(SCRIPT[kind], opts.serverCpu, nodeArgs, false);
  const match = await waitForLine(child, /listening on (\d+)/, `${LABEL[kind]} server`);
  return { kind, child, pid: child.pid!, base: `http://${HOST}:${match[1]}` };
}

async function control<T>(server: RunningServer, method: 'GET' | 'POST', pathAndQuery: string, timeoutMs = 300_000): Promise<T> {
  const response = await fetch(`${server.base}${pathAndQuery}`, { method, signal: AbortSignal.timeout(timeoutMs) });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`${LABEL[server.kind]} ${method} ${pathAndQuery}: ${response.status} ${body.error ?? ''}`);
  return body;
}

interface Clients {
  pid: number;
  child: ChildProcess;
  send<T>(command: ClientCommand): Promise<T>;
}

async function startClients(): Promise<Clients> {
  const child = spawnNode('bench/realtime/clients.ts', opts.loadCpu, ['--max-old-space-size=2048'], true);
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load clients did not start within 60 s')), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`load clients exited early (code ${code})`)));
  });
  child.on('message', (reply: ClientReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`load clients: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`load clients exited (code ${code}, signal ${signal})`));
    pending.clear();
  });
  await ready;
  return {
    pid: child.pid!,
    child,
    send: <T>(command: ClientCommand) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...command, id });
      }),
  };
}

async function waitSubscribed(server: RunningServer, count: number, timeoutMs = 30_000): Promise<ServerStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await control<ServerStats>(server, 'GET', '/stats');
    if (stats.subscribed === count && stats.connections === count) return stats;
    if (Date.now() > deadline) throw new Error(`${LABEL[server.kind]}: expected ${count} subscribed connections, server reports ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Scenario {
  mode: PublishMode;
  pubs: number;
  burst: number;
  intervalMs: number;
}

function scenarioFor(mode: PublishMode, n: number): Scenario {
  if (mode === 'single') return { mode, pubs: Math.max(5, Math.ceil(opts.deliveries / n)), burst: 1, intervalMs: 0 };
  if (mode === 'burst') return { mode, pubs: Math.max(1, Math.round(opts.deliveries / n / opts.burst)) * opts.burst, burst: opts.burst, intervalMs: 0 };
  const intervalMs = (n / opts.pacedRate) * 1000;
  return { mode, pubs: Math.max(5, Math.round(opts.pacedMs / intervalMs)), burst: 1, intervalMs };
}

interface Measurement {
  round: number;
  server: ServerKind;
  subscribers: number;
  mode: PublishMode;
  pubs: number;
  burst: number;
  intervalMs: number;
  expected: number;
  received: number;
  valid: boolean;
  seconds: number;
  deliveriesPerSecond: number;
  serverCpuMicrosPerDelivery: number | null;
  /** Share of one core used by the server / the clients during the scenario. */
  serverCoreUse: number | null;
  clientCoreUse: number | null;
  /** Share of the server's / clients' CPU busy with anything (other processes included); null unpinned. */
  serverCpuBusy: number | null;
  loadCpuBusy: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  latencySamples: number;
  publishLoopMs: number;
}

async function measure(server: RunningServer, clients: Clients, n: number, scenario: Scenario, round: number, record: boolean): Promise<Measurement> {
  const expected = scenario.pubs * n;
  await clients.send({ cmd: 'expect', count: expected });
  const coresBefore = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)];
  const sBefore = cpuMicrosOf(server.pid);
  const cBefore = cpuMicrosOf(clients.pid);
  const wallBefore = process.hrtime.bigint();
  const query = `/publish?mode=${scenario.mode}&pubs=${scenario.pubs}&burst=${scenario.burst}&intervalMs=${scenario.intervalMs}&size=100`;
  const waiting = clients.send<WaitResult>({ cmd: 'wait', timeoutMs: Math.max(30_000, (expected / 20_000) * 1000) });
  const report = await control<PublishReport>(server, 'POST', query);
  const result = await waiting;
  const wallMicros = Number(process.hrtime.bigint() - wallBefore) / 1000;
  const sAfter = cpuMicrosOf(server.pid);
  const cAfter = cpuMicrosOf(clients.pid);
  const coresAfter = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)];
  const serverCpu = sBefore === undefined || sAfter === undefined ? null : sAfter - sBefore;
  const clientCpu = cBefore === undefined || cAfter === undefined ? null : cAfter - cBefore;
  const seconds = result.lastAt > report.t0 ? (result.lastAt - report.t0) / 1e6 : Number.NaN;
  const valid = result.received === expected && result.extra === 0 && result.droppedConnections === 0;
  if (record && !valid) {
    process.stderr.write(`  ! ${LABEL[server.kind]} n=${n} ${scenario.mode} round ${round}: received ${result.received}/${expected}, extra ${result.extra}, dropped connections ${result.droppedConnections}\n`);
  }
  return {
    round,
    server: server.kind,
    subscribers: n,
    mode: scenario.mode,
    pubs: scenario.pubs,
    burst: scenario.burst,
    intervalMs: scenario.intervalMs,
    expected,
    received: result.received,
    valid,
    seconds,
    deliveriesPerSecond: result.received / seconds,
    serverCpuMicrosPerDelivery: serverCpu === null || result.received === 0 ? null : serverCpu / result.received,
    serverCoreUse: serverCpu === null ? null : serverCpu / wallMicros,
    clientCoreUse: clientCpu === null ? null : clientCpu / wallMicros,
    serverCpuBusy: pinned ? coreBusy(coresBefore[0], coresAfter[0]) : null,
    loadCpuBusy: pinned ? coreBusy(coresBefore[1], coresAfter[1]) : null,
    p50Ms: result.p50Us === null ? null : result.p50Us / 1000,
    p99Ms: result.p99Us === null ? null : result.p99Us / 1000,
    maxMs: result.maxUs === null ? null : result.maxUs / 1000,
    latencySamples: result.samples,
    publishLoopMs: (report.t1 - report.t0) / 1000,
  };
}

interface MemoryMeasurement {
  round: number;
  server: ServerKind;
  subscribers: number;
  baselineRss: number;
  rss: number;
  bytesPerConnection: number;
  /** (RSS here − RSS at the previous size) / (connections added): the marginal cost; null at the first size. */
  marginalBytesPerConnection: number | null;
  heapBytesPerConnection: number;
  connectSeconds: number;
}

const measurements: Measurement[] = [];
const memory: MemoryMeasurement[] = [];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function runServerRound(kind: ServerKind, clients: Clients, round: number): Promise<void> {
  const server = await startServer(kind);
  try {
    if (kind === 'tandem') await clients.send<number>({ cmd: 'tokens', base: server.base, count: maxSize });
    // Primed: every server's young generation grown and resident before the baseline (see primeHeap).
    const base = await control<MemReport>(server, 'GET', '/mem?prime=1');
    const sampleEvery = Math.max(1, Math.floor(maxSize / 1000));
    let connected = 0;
    let previous: { n: number; rss: number } | undefined;
    for (const n of opts.sizes) {
      const started = Date.now();
      const r = await clients.send<{ failures: number }>({ cmd: 'connect', kind, base: server.base, from: connected, to: n, concurrency: 64, officialSocketIo: opts.sioOfficial, sampleEvery });
      const connectSeconds = (Date.now() - started) / 1000;
      if (r.failures > 0) log(`  ${LABEL[kind]}: ${r.failures} connection attempts failed and were retried`);
      connected = n;
      await waitSubscribed(server, n);
      await new Promise((res) => setTimeout(res, 300));
      const mem = await control<MemReport>(server, 'GET', '/mem');
      memory.push({
        round,
        server: kind,
        subscribers: n,
        baselineRss: base.rss,
        rss: mem.rss,
        bytesPerConnection: (mem.rss - base.rss) / n,
        marginalBytesPerConnection: previous === undefined ? null : (mem.rss - previous.rss) / (n - previous.n),
        heapBytesPerConnection: (mem.heapUsed - base.heapUsed) / n,
        connectSeconds,
      });
      previous = { n, rss: mem.rss };
      log(`  ${LABEL[kind]} n=${n}: ${((mem.rss - base.rss) / n / 1024).toFixed(2)} KiB RSS per idle connection (connected in ${connectSeconds.toFixed(1)} s)`);
    }
    for (const n of [...opts.sizes].reverse()) {
      if (n < connected) {
        await clients.send<number>({ cmd: 'close', from: n });
        await waitSubscribed(server, n);
        connected = n;
      }
      if (opts.warmup > 0) {
        await measure(server, clients, n, { mode: 'single', pubs: Math.max(2, Math.ceil(opts.warmup / n / 2)), burst: 1, intervalMs: 0 }, round, false);
        const warmBurst = Math.max(2, Math.min(opts.burst, Math.ceil(opts.warmup / n)));
        await measure(server, clients, n, { mode: 'burst', pubs: warmBurst, burst: warmBurst, intervalMs: 0 }, round, false);
      }
      for (const mode of ['single', 'burst', 'paced'] as const) {
        const m = await measure(server, clients, n, scenarioFor(mode, n), round, true);
        measurements.push(m);
        log(
          `  ${LABEL[kind]} n=${n} ${mode}: ${fmtInt(m.deliveriesPerSecond)} deliveries/s, ${fmt(m.serverCpuMicrosPerDelivery, 2)} µs CPU/delivery, ` +
            `p50 ${fmt(m.p50Ms, 2)} ms p99 ${fmt(m.p99Ms, 2)} ms, server core ${pct(m.serverCoreUse)} client core ${pct(m.clientCoreUse)}${m.valid ? '' : ' (INVALID)'}`,
        );
      }
    }
  } finally {
    await clients.send<number>({ cmd: 'close', from: 0 }).catch(() => 0);
    await stop(server.child);
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

function median(values: number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const fmt = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
const fmtInt = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : Math.round(v).toLocaleString('en-US'));
const pct = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v * 100)}%`);

interface Summary {
  server: ServerKind;
  subscribers: number;
  mode: PublishMode;
  runs: number;
  validRuns: number;
  deliveriesPerSecond: number | null;
  serverCpuMicrosPerDelivery: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  serverCoreUse: number | null;
  clientCoreUse: number | null;
  serverCpuBusy: number | null;
  loadCpuBusy: number | null;
  limitedBy: string;
}

function limitedBy(s: Omit<Summary, 'limitedBy'>): string {
  if (s.mode === 'paced') return 'offered load (paced)';
  const server = s.serverCoreUse ?? 0;
  const client = s.clientCoreUse ?? 0;
  if (server >= SATURATED && client >= SATURATED) return `both cores full (server ${pct(server)}, clients ${pct(client)})`;
  if (server >= SATURATED) return `server core (server ${pct(server)})`;
  if (client >= SATURATED) return `client core (clients ${pct(client)})`;
  // Neither process had a whole core: was the core full anyway (other processes on it)?
  const serverOthers = (s.serverCpuBusy ?? 0) - server;
  const clientOthers = (s.loadCpuBusy ?? 0) - client;
  if ((s.serverCpuBusy ?? 0) >= SATURATED && serverOthers > 0.1) return `server core, shared (server ${pct(server)}, other processes ${pct(serverOthers)})`;
  if ((s.loadCpuBusy ?? 0) >= SATURATED && clientOthers > 0.1) return `client core, shared (clients ${pct(client)}, other processes ${pct(clientOthers)})`;
  return `neither core full (server ${pct(server)}, clients ${pct(client)})`;
}

function summarize(): Summary[] {
  const out: Summary[] = [];
  for (const n of opts.sizes) {
    for (const mode of ['single', 'burst', 'paced'] as const) {
      for (const server of opts.servers) {
        const all = measurements.filter((m) => m.server === server && m.subscribers === n && m.mode === mode);
        const ms = all.filter((m) => m.valid);
        const pick = (f: (m: Measurement) => number | null) => median(ms.map(f).filter((x): x is number => x !== null));
        const s = {
          server,
          subscribers: n,
          mode,
          runs: all.length,
          validRuns: ms.length,
          deliveriesPerSecond: pick((m) => m.deliveriesPerSecond),
          serverCpuMicrosPerDelivery: pick((m) => m.serverCpuMicrosPerDelivery),
          p50Ms: pick((m) => m.p50Ms),
          p99Ms: pick((m) => m.p99Ms),
          serverCoreUse: pick((m) => m.serverCoreUse),
          clientCoreUse: pick((m) => m.clientCoreUse),
          serverCpuBusy: pick((m) => m.serverCpuBusy),
          loadCpuBusy: pick((m) => m.loadCpuBusy),
        };
        out.push({ ...s, limitedBy: limitedBy(s) });
      }
    }
  }
  return out;
}

interface MemorySummary {
  server: ServerKind;
  subscribers: number;
  bytesPerConnection: number | null;
  marginalBytesPerConnection: number | null;
  heapBytesPerConnection: number | null;
}

function summarizeMemory(): MemorySummary[] {
  const out: MemorySummary[] = [];
  for (const n of opts.sizes) {
    for (const server of opts.servers) {
      const ms = memory.filter((m) => m.server === server && m.subscribers === n);
      out.push({
        server,
        subscribers: n,
        bytesPerConnection: median(ms.map((m) => m.bytesPerConnection)),
        marginalBytesPerConnection: median(ms.map((m) => m.marginalBytesPerConnection).filter((x): x is number => x !== null)),
        heapBytesPerConnection: median(ms.map((m) => m.heapBytesPerConnection)),
      });
    }
  }
  return out;
}

interface Target {
  name: string;
  measured: number | null;
  /** The same comparison by server CPU per delivery (other / Tandem): less sensitive to a shared core. */
  byCpu: number | null;
  /** The ratio within each round (servers of one round run minutes apart, not hours): the spread behind the median. */
  perRound: number[];
  goal: string;
  pass: boolean | null;
  detail: string;
}

function targets(summary: Summary[], mem: MemorySummary[]): Target[] {
  const get = (server: ServerKind, n: number, mode: PublishMode) => summary.find((s) => s.server === server && s.subscribers === n && s.mode === mode);
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);
  const out: Target[] = [];
  const has = (s: ServerKind) => opts.servers.includes(s) && opts.servers.includes('tandem');
  const rounds = Array.from({ length: opts.rounds }, (_, i) => i + 1);
  const perRound = (other: ServerKind, n: number, mode: PublishMode, f: (m: Measurement) => number | null): number[] =>
    rounds.flatMap((round) => {
      const find = (server: ServerKind) => measurements.find((m) => m.round === round && m.server === server && m.subscribers === n && m.mode === mode && m.valid);
      const r = ratio(find('tandem') && f(find('tandem')!), find(other) && f(find(other)!));
      return r === null ? [] : [r];
    });
  const memPerRound = rounds.flatMap((round) => {
    const find = (server: ServerKind) => memory.find((m) => m.round === round && m.server === server && m.subscribers === maxSize);
    const r = ratio(find('tandem')?.bytesPerConnection, find('ws')?.bytesPerConnection);
    return r === null ? [] : [r];
  });
  for (const n of opts.sizes) {
    const rows: Array<[ServerKind, PublishMode, number]> = [
      ['ws', 'single', 1],
      ['ws', 'burst', 3],
      ['socketio', 'single', 2],
      ['socketio', 'burst', 3],
    ];
    for (const [other, mode, goal] of rows) {
      if (!has(other)) continue;
      const r = ratio(get('tandem', n, mode)?.deliveriesPerSecond, get(other, n, mode)?.deliveriesPerSecond);
      out.push({
        name: `deliveries/s vs ${LABEL[other]}, ${mode}, ${n.toLocaleString('en-US')} subscribers`,
        measured: r,
        byCpu: ratio(get(other, n, mode)?.serverCpuMicrosPerDelivery, get('tandem', n, mode)?.serverCpuMicrosPerDelivery),
        perRound: perRound(other, n, mode, (m) => m.deliveriesPerSecond),
        goal: `≥ ${goal}×`,
        pass: r === null ? null : r >= goal,
        detail: `${fmtInt(get('tandem', n, mode)?.deliveriesPerSecond ?? null)} vs ${fmtInt(get(other, n, mode)?.deliveriesPerSecond ?? null)}`,
      });
    }
  }
  if (has('ws')) {
    for (const mode of ['paced', 'single'] as const) {
      const t = get('tandem', maxSize, mode)?.p99Ms;
      const w = get('ws', maxSize, mode)?.p99Ms;
      const r = ratio(t, w);
      out.push({
        name: `p99 latency vs bare ws, ${mode}${mode === 'paced' ? ' (same offered load)' : ' (back to back)'}, ${maxSize.toLocaleString('en-US')} subscribers`,
        measured: r,
        byCpu: null,
        perRound: perRound('ws', maxSize, mode, (m) => m.p99Ms),
        goal: '≤ 1×',
        pass: r === null ? null : r <= 1,
        detail: `${fmt(t ?? null, 2)} ms vs ${fmt(w ?? null, 2)} ms`,
      });
    }
    const t = mem.find((m) => m.server === 'tandem' && m.subscribers === maxSize)?.bytesPerConnection;
    const w = mem.find((m) => m.server === 'ws' && m.subscribers === maxSize)?.bytesPerConnection;
    const r = ratio(t, w);
    out.push({
      name: `idle RSS per connection vs bare ws, ${maxSize.toLocaleString('en-US')} connections`,
      measured: r,
      byCpu: null,
      perRound: memPerRound,
      goal: '≤ 1.3×',
      pass: r === null ? null : r <= 1.3,
      detail: `${fmt(t == null ? null : t / 1024, 2)} KiB vs ${fmt(w == null ? null : w / 1024, 2)} KiB`,
    });
  }
  return out;
}

function markdown(summary: Summary[], mem: MemorySummary[], goals: Target[]): string {
  const lines: string[] = [];
  lines.push('| subscribers | scenario | server | deliveries/s | server CPU µs/delivery | p50 ms | p99 ms | server core | client core | limited by |');
  lines.push('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const s of summary) {
    const runs = s.validRuns === s.runs ? '' : ` (${s.validRuns}/${s.runs} valid)`;
    lines.push(
      `| ${s.subscribers.toLocaleString('en-US')} | ${s.mode} | ${LABEL[s.server]}${runs} | ${fmtInt(s.deliveriesPerSecond)} | ${fmt(s.serverCpuMicrosPerDelivery, 2)} | ${fmt(s.p50Ms, 2)} | ${fmt(s.p99Ms, 2)} | ${pct(s.serverCoreUse)} | ${pct(s.clientCoreUse)} | ${s.limitedBy} |`,
    );
  }
  lines.push('');
  const kib = (v: number | null) => (v === null ? 'n/a' : `${fmt(v / 1024, 2)} KiB`);
  lines.push('| connections | server | idle RSS per connection | marginal RSS per added connection | JS heap per connection |');
  lines.push('| ---: | --- | ---: | ---: | ---: |');
  for (const m of mem) {
    lines.push(`| ${m.subscribers.toLocaleString('en-US')} | ${LABEL[m.server]} | ${kib(m.bytesPerConnection)} | ${kib(m.marginalBytesPerConnection)} | ${kib(m.heapBytesPerConnection)} |`);
  }
  lines.push('');
  lines.push('| target | Tandem / other (medians) | goal | result | detail | ratio in each round | by server CPU per delivery |');
  lines.push('| --- | ---: | --- | --- | --- | --- | ---: |');
  for (const g of goals) {
    const cpu = g.byCpu === null ? '' : `${fmt(g.byCpu, 2)}×`;
    const rounds = g.perRound.map((r) => fmt(r, 2)).join(', ');
    lines.push(`| ${g.name} | ${fmt(g.measured, 2)}× | ${g.goal} | ${g.pass === null ? 'n/a' : g.pass ? 'PASS' : 'MISS'} | ${g.detail} | ${rounds} | ${cpu} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

function gitOutput(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  } catch {
    return '';
  }
}

function render(): { summary: Summary[]; mem: MemorySummary[]; goals: Target[]; table: string } {
  const summary = summarize();
  const mem = summarizeMemory();
  const goals = targets(summary, mem);
  return { summary, mem, goals, table: markdown(summary, mem, goals) };
}

async function main(): Promise<void> {
  if (reportFrom !== '') {
    const saved = JSON.parse(fs.readFileSync(reportFrom, 'utf8')) as { options: typeof opts; measurements: Measurement[]; memoryMeasurements: MemoryMeasurement[] };
    Object.assign(opts, { servers: saved.options.servers, sizes: saved.options.sizes, rounds: saved.options.rounds });
    maxSize = opts.sizes[opts.sizes.length - 1]!;
    measurements.push(...saved.measurements);
    memory.push(...saved.memoryMeasurements);
    process.stdout.write(`\n${render().table}\n\n`);
    return;
  }
  const started = Date.now();
  log(`bench:realtime: servers ${opts.servers.join(', ')}; sizes ${opts.sizes.join(', ')}; ${opts.rounds} round(s); ${opts.deliveries.toLocaleString('en-US')} deliveries per throughput scenario, bursts of ${opts.burst}, paced at ${opts.pacedRate.toLocaleString('en-US')} deliveries/s`);
  log(pinned ? `pinned: servers on cpu ${opts.serverCpu}, clients on cpu ${opts.loadCpu}` : 'not pinned (taskset or a 2nd CPU unavailable): CPU shares are less meaningful');
  const clients = await startClients();
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const order = opts.servers.map((_, i) => opts.servers[(i + round - 1) % opts.servers.length]!);
      log(`round ${round}/${opts.rounds}: ${order.map((s) => LABEL[s]).join(' → ')}`);
      for (const kind of order) await runServerRound(kind, clients, round);
    }
  } finally {
    await clients.send({ cmd: 'exit' }).catch(() => undefined);
    await stop(clients.child, 5_000);
  }
  const { summary, mem, goals, table } = render();
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
    killAll('SIGKILL');
    process.exit(1);
  },
);
