/**
 * One storm, on one server kind: a fresh server (Tandem: a fresh SQLite data folder) on CPU 0,
 * N clients connected and subscribed, the reader's idle window, publications before the
 * restart, the restart (SIGTERM or SIGKILL, then the same command on the same port and data
 * folder), publications during the storm, and the wait until every client is back. Times count
 * from the moment the new server listens.
 */
import { openCpuWindow } from '../cluster/cpu-window';
import { coreBusy, coreTicks, cpuMicrosOf } from '../common/cpu';
import { nowMicros, percentile } from '../cluster/wire';
import { stop } from '../realtime/processes';
import type { ClientCommand } from './clients';
import type { ReaderCommand, ReaderSample } from './reader';
import { feedPosition, getJson, newDataDir, publish, removeDataDir, signalAndWait, sleep, startServer, waitSubscriptions, type Server } from './server';
import { READER_ADDRESS, SATURATED, clientAddresses, opts, type ServerKind } from './settings';
import type { StormStats } from './storm-stats';
import type { Worker } from './worker';

export interface Latency {
  requests: number;
  failed: Record<string, number>;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface StormMeasurement {
  round: number;
  kind: ServerKind;
  clients: number;
  restart: 'sigterm' | 'sigkill';
  /** Signal → the old server gone, and → the new one listening, seconds. */
  exitSeconds: number;
  downSeconds: number;
  /** From listening: until 50%, 99% and 100% of the clients were back (null: never reached). */
  p50Seconds: number | null;
  p99Seconds: number | null;
  allSeconds: number | null;
  stats: StormStats;
  /** Tandem: duplicates and lost publications among those made before the restart. */
  beforeRestart: { duplicates: number; lost: number } | null;
  publications: { before: number; during: number; target: number | null };
  readerIdle: Latency;
  readerStorm: Latency;
  /** The reader's requests from listening on: [seconds after listening, ms (null: failed)]; and the idle window's, from its start. */
  readerTrace: Array<[number, number | null]>;
  readerIdleTrace: Array<[number, number | null]>;
  /** Clients back in each second after listening. */
  backPerSecond: number[];
  /** readerStorm.p99Ms / readerIdle.p99Ms. */
  restRatio: number | null;
  /** The new server's CPU from listening until the storm ended, s, and per client back, µs. */
  serverCpuSeconds: number | null;
  serverCpuPerClientUs: number | null;
  windowSeconds: number;
  serverCore: number | null;
  loadCore: number | null;
  /**
   * Every second from listening: [second, server core busy, client core busy, the server
   * process's share of a core]; and the two cores' busy share until 99% were back (the tail
   * after that is mostly clients waiting out their backoff).
   */
  perSecond: Array<[number, number | null, number | null, number | null]>;
  serverCoreTo99: number | null;
  loadCoreTo99: number | null;
  /** The clients' and the reader's CPU in the same window, s. */
  clientsCpuSeconds: number | null;
  readerCpuSeconds: number | null;
  /**
   * Both cores' busy time minus the server, clients and reader, in cores: what else ran
   * meanwhile (kernel network work not charged to a process, other users of the machine).
   */
  otherCores: number | null;
  limitedBy: string;
  valid: boolean;
}

function latencyOf(samples: readonly ReaderSample[]): Latency {
  const failed: Record<string, number> = {};
  const ok: number[] = [];
  for (const s of samples) {
    if (s.us === null) failed[s.result] = (failed[s.result] ?? 0) + 1;
    else ok.push(s.us / 1000);
  }
  ok.sort((a, b) => a - b);
  return { requests: samples.length, failed, p50Ms: percentile(ok, 50), p99Ms: percentile(ok, 99), maxMs: ok.at(-1) ?? null };
}

/** Samples both cores and the server process once a second until `stop()`, which returns the rows. */
function sampleEverySecond(pid: number): { stop(): Array<[number, number | null, number | null, number | null]> } {
  const rows: Array<[number, number | null, number | null, number | null]> = [];
  let last = { server: coreTicks(opts.serverCpu), load: coreTicks(opts.loadCpu), proc: cpuMicrosOf(pid), at: Date.now() };
  const timer = setInterval(() => {
    const now = { server: coreTicks(opts.serverCpu), load: coreTicks(opts.loadCpu), proc: cpuMicrosOf(pid), at: Date.now() };
    const share = now.proc === undefined || last.proc === undefined ? null : (now.proc - last.proc) / ((now.at - last.at) * 1000);
    rows.push([rows.length, coreBusy(last.server, now.server), coreBusy(last.load, now.load), share === null ? null : Math.round(share * 100) / 100]);
    last = now;
  }, 1000);
  return { stop: () => (clearInterval(timer), rows) };
}

const traceOf = (samples: readonly ReaderSample[], from: number): Array<[number, number | null]> =>
  samples.map((x) => [Math.round((x.at - from) / 1e4) / 100, x.us === null ? null : Math.round(x.us / 100) / 10]);

/** The moment `share` of `total` clients were back (nearest rank over all clients), seconds after `from`. */
function backAt(doneAt: readonly number[], total: number, share: number, from: number): number | null {
  const sorted = [...doneAt].sort((a, b) => a - b);
  const rank = Math.ceil(share * total);
  return sorted.length >= rank && rank > 0 ? (sorted[rank - 1]! - from) / 1e6 : null;
}

export interface Workers {
  clients: Worker<ClientCommand>;
  reader: Worker<ReaderCommand>;
}

/** Connects every client (Tandem: after the publisher's session and the reader's post), then the reader's idle window. */
async function prepare(kind: ServerKind, server: Server, { clients, reader }: Workers, round: number, log: (line: string) => void): Promise<{ token: string; idleSamples: ReaderSample[] }> {
  let token = '';
  if (kind === 'tandem') {
    token = (await getJson<string[]>(`${server.base}/bench/sessions?from=${opts.clients}&count=1`)).body[0]!;
    await publish(server.base, token, 'The post the reader reads.');
  }
  const connected = await clients.send<{ ms: number }>({ cmd: 'connect', kind, base: server.base, count: opts.clients, addresses: clientAddresses() });
  await waitSubscriptions(server, opts.clients);
  log(`  ${kind} round ${round}: ${opts.clients.toLocaleString('en-US')} clients subscribed in ${(connected.ms / 1000).toFixed(1)} s`);
  const readUrl = kind === 'tandem' ? `${server.base}/api/posts/1` : `${server.base}/api/items/1`;
  await reader.send({ cmd: 'start', url: readUrl, intervalMs: opts.readerIntervalMs, address: READER_ADDRESS });
  await sleep(1000);
  await reader.send({ cmd: 'collect' }); // warm-up: connections, JIT
  await sleep(opts.idleSeconds * 1000);
  return { token, idleSamples: await reader.send<ReaderSample[]>({ cmd: 'collect' }) };
}

interface Restarted {
  server: Server;
  signalAt: number;
  exitAt: number;
  listenAt: number;
}

/** Stops the server as --restart says and starts the same command on the same port and data folder. */
async function restart(kind: ServerKind, server: Server, dataDir: string | undefined): Promise<Restarted> {
  const signalAt = nowMicros();
  await signalAndWait(server);
  const exitAt = nowMicros();
  const next = await startServer(kind, server.port, dataDir);
  return { server: next, signalAt, exitAt, listenAt: nowMicros() };
}

interface Storm {
  stats: StormStats;
  target: number | null;
  endAt: number;
  samples: ReaderSample[];
  cpu: ReturnType<ReturnType<typeof openCpuWindow>['end']>;
  perSecond: Array<[number, number | null, number | null, number | null]>;
}

/** From listening: the publications of the storm (Tandem), then the wait until every client is back; CPU meanwhile. */
async function duringStorm(kind: ServerKind, server: Server, token: string, { clients, reader }: Workers, listenAt: number): Promise<Storm> {
  const window = openCpuWindow({ server: [server.pid], clients: [clients.pid], reader: [reader.pid] });
  // The window's cores are the cluster bench's settings; these are this bench's (--server-cpu, --load-cpu).
  const cores = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)] as const;
  const sampler = sampleEverySecond(server.pid);
  let target: number | null = null;
  if (kind === 'tandem') {
    for (let i = 1; i <= opts.during; i++) {
      await publish(server.base, token, `During the storm, ${i}.`);
      await sleep(200);
    }
    target = await feedPosition(server.base);
    await clients.send({ cmd: 'target', offset: target });
  }
  const remaining = Math.max(1000, opts.stormTimeoutSeconds * 1000 - (nowMicros() - listenAt) / 1000);
  const stats = await clients.send<StormStats>({ cmd: 'wait', kind, timeoutMs: remaining });
  const endAt = nowMicros();
  const cpu = { ...window.end(), serverCore: coreBusy(cores[0], coreTicks(opts.serverCpu)), loadCore: coreBusy(cores[1], coreTicks(opts.loadCpu)) };
  const perSecond = sampler.stop();
  const samples = (await reader.send<ReaderSample[]>({ cmd: 'collect' })).filter((x) => x.at >= listenAt && x.at <= endAt);
  await reader.send({ cmd: 'stop' });
  await clients.send({ cmd: 'close' });
  return { stats, target, endAt, samples, cpu, perSecond };
}

/** One storm of `kind`: a fresh server (and data folder), the clients, the restart, the wait; the measurement. */
export async function runStorm(kind: ServerKind, round: number, workers: Workers, log: (line: string) => void): Promise<StormMeasurement> {
  const dataDir = kind === 'tandem' ? newDataDir() : undefined;
  let server = await startServer(kind, 0, dataDir);
  try {
    const { token, idleSamples } = await prepare(kind, server, workers, round, log);
    if (kind === 'tandem') {
      for (let i = 1; i <= opts.before; i++) await publish(server.base, token, `Before the restart, ${i}.`);
      await workers.clients.send({ cmd: 'settle', offset: await feedPosition(server.base), timeoutMs: 30_000 });
    }
    const before = await workers.clients.send<StormStats | null>({ cmd: 'arm', kind });
    const restarted = await restart(kind, server, dataDir);
    server = restarted.server;
    log(`  ${kind} round ${round}: ${opts.restart.toUpperCase()}, listening again after ${((restarted.listenAt - restarted.signalAt) / 1e6).toFixed(1)} s`);
    const storm = await duringStorm(kind, server, token, workers, restarted.listenAt);
    return measurementOf(kind, round, idleSamples, before, restarted, storm);
  } finally {
    await stop(server.child, 15_000);
    if (dataDir !== undefined) removeDataDir(dataDir);
  }
}

function measurementOf(kind: ServerKind, round: number, idleSamples: ReaderSample[], before: StormStats | null, restarted: Restarted, storm: Storm): StormMeasurement {
  const { listenAt, signalAt, exitAt } = restarted;
  const { stats, cpu, perSecond } = storm;
  const n = opts.clients;
  const idle = latencyOf(idleSamples);
  const inStorm = latencyOf(storm.samples);
  const back = stats.doneAt.length;
  const seconds = (group: string) => (cpu.micros[group] === undefined ? null : cpu.micros[group]! / 1e6);
  const [serverCpuSeconds, clientsCpuSeconds, readerCpuSeconds] = [seconds('server'), seconds('clients'), seconds('reader')];
  const otherCores = cpu.serverCore === null || cpu.loadCore === null ? null
    : cpu.serverCore + cpu.loadCore - ((serverCpuSeconds ?? 0) + (clientsCpuSeconds ?? 0) + (readerCpuSeconds ?? 0)) / cpu.seconds;
  const p99Seconds = backAt(stats.doneAt, n, 0.99, listenAt);
  const allSeconds = backAt(stats.doneAt, n, 1, listenAt);
  const [serverCoreTo99, loadCoreTo99] = meanUntil(perSecond, p99Seconds);
  return {
    round,
    kind,
    clients: n,
    restart: opts.restart,
    exitSeconds: (exitAt - signalAt) / 1e6,
    downSeconds: (listenAt - signalAt) / 1e6,
    p50Seconds: backAt(stats.doneAt, n, 0.5, listenAt),
    p99Seconds,
    allSeconds,
    stats: { ...stats, doneAt: [] },
    beforeRestart: before === null ? null : { duplicates: before.duplicates, lost: before.lost },
    publications: { before: kind === 'tandem' ? opts.before : 0, during: kind === 'tandem' ? opts.during : 0, target: storm.target },
    readerIdle: idle,
    readerStorm: inStorm,
    readerTrace: traceOf(storm.samples, listenAt),
    readerIdleTrace: traceOf(idleSamples, idleSamples[0]?.at ?? 0),
    backPerSecond: perSecondCounts(stats.doneAt, listenAt),
    restRatio: idle.p99Ms !== null && inStorm.p99Ms !== null ? inStorm.p99Ms / idle.p99Ms : null,
    serverCpuSeconds,
    serverCpuPerClientUs: serverCpuSeconds !== null && back > 0 ? (serverCpuSeconds * 1e6) / back : null,
    windowSeconds: cpu.seconds,
    serverCore: cpu.serverCore,
    loadCore: cpu.loadCore,
    perSecond,
    serverCoreTo99,
    loadCoreTo99,
    clientsCpuSeconds,
    readerCpuSeconds,
    otherCores,
    limitedBy: limitedBy(serverCoreTo99, loadCoreTo99),
    valid: allSeconds !== null && stats.duplicates === 0 && stats.lost === 0 && (before === null || (before.duplicates === 0 && before.lost === 0)),
  };
}

/** Clients back in each second after `from`. */
function perSecondCounts(doneAt: readonly number[], from: number): number[] {
  const counts: number[] = [];
  for (const at of doneAt) {
    const second = Math.floor((at - from) / 1e6);
    while (counts.length <= second) counts.push(0);
    counts[second]! += 1;
  }
  return counts;
}

/** The mean busy share of the server and the load core over the seconds before 99% were back. */
function meanUntil(rows: Storm['perSecond'], p99Seconds: number | null): [number | null, number | null] {
  const until = rows.filter(([second]) => p99Seconds === null || second < Math.ceil(p99Seconds));
  const mean = (i: 1 | 2) => {
    const xs = until.map((row) => row[i]).filter((x): x is number => x !== null);
    return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  return [mean(1), mean(2)];
}

function limitedBy(server: number | null, load: number | null): string {
  const full = (x: number | null) => x !== null && x >= SATURATED;
  if (full(server) && full(load)) return `both cores full until 99% back (server ${pct(server)}, clients ${pct(load)})`;
  if (full(server)) return `server core until 99% back (${pct(server)})`;
  if (full(load)) return `client core until 99% back (${pct(load)})`;
  return `neither core full until 99% back (server ${pct(server)}, clients ${pct(load)}): admission pace and backoff`;
}

const pct = (share: number | null) => (share === null ? 'n/a' : `${Math.round(share * 100)}%`);
