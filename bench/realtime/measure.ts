/**
 * One scenario on one server at one size: the clients are told how many deliveries to expect,
 * the server publishes (/publish), and deliveries/s, latency and the CPU both sides used
 * (/proc/<pid>/stat, /proc/stat) are read around it.
 */
import { coreBusy, coreTicks, cpuMicrosOf } from '../common/cpu';
import type { ServerKind, WaitResult } from './clients';
import type { Clients } from './clients-ipc';
import type { PublishMode, PublishReport } from './common';
import { pinned } from './processes';
import { control, type RunningServer } from './servers';
import { LABEL, opts } from './settings';

export interface Scenario {
  mode: PublishMode;
  pubs: number;
  burst: number;
  intervalMs: number;
}

/** About --deliveries deliveries per throughput scenario; paced: --paced-rate deliveries/s for --paced-ms. */
export function scenarioFor(mode: PublishMode, n: number): Scenario {
  if (mode === 'single') return { mode, pubs: Math.max(5, Math.ceil(opts.deliveries / n)), burst: 1, intervalMs: 0 };
  if (mode === 'burst') return { mode, pubs: Math.max(1, Math.round(opts.deliveries / n / opts.burst)) * opts.burst, burst: opts.burst, intervalMs: 0 };
  const intervalMs = (n / opts.pacedRate) * 1000;
  return { mode, pubs: Math.max(5, Math.round(opts.pacedMs / intervalMs)), burst: 1, intervalMs };
}

export interface Measurement {
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

export interface MemoryMeasurement {
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
  /** Server CPU spent connecting (upgrade, auth, subscribe) the connections added at this size, per 1,000; null without /proc. */
  connectCpuMsPer1000: number | null;
}

/** CPU time of a process in µs; undefined without /proc or once the process is gone. */
function cpuMicros(pid: number): number | undefined {
  try {
    return cpuMicrosOf(pid);
  } catch {
    return undefined;
  }
}

/** Runs `scenario` against `server` with `n` subscribers; `record` false (warm-ups) keeps quiet about invalid runs. */
export async function measure(server: RunningServer, clients: Clients, n: number, scenario: Scenario, round: number, record: boolean): Promise<Measurement> {
  const expected = scenario.pubs * n;
  await clients.send({ cmd: 'expect', count: expected });
  const coresBefore = [coreTicks(opts.serverCpu), coreTicks(opts.loadCpu)];
  const sBefore = cpuMicros(server.pid);
  const cBefore = cpuMicros(clients.pid);
  const wallBefore = process.hrtime.bigint();
  const query = `/publish?mode=${scenario.mode}&pubs=${scenario.pubs}&burst=${scenario.burst}&intervalMs=${scenario.intervalMs}&size=100`;
  const waiting = clients.send<WaitResult>({ cmd: 'wait', timeoutMs: Math.max(30_000, (expected / 20_000) * 1000) });
  const report = await control<PublishReport>(server, 'POST', query);
  const result = await waiting;
  const wallMicros = Number(process.hrtime.bigint() - wallBefore) / 1000;
  const sAfter = cpuMicros(server.pid);
  const cAfter = cpuMicros(clients.pid);
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
