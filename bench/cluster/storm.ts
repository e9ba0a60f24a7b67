/**
 * The reconnect storm: N clients subscribed to `bench:storm` on node B, holding the same
 * position; node B is killed with SIGKILL; `stormMissed` publications are made on node A while B
 * is dead; the clients reconnect (through nginx, or to A directly) and recover from their
 * positions. Measured: time from the kill until every client has recovered (and p50/p99), what
 * was refused on the way, and the CPU node A, Redis and nginx spent.
 */
import fs from 'node:fs';
import { openCpuWindow, type PidGroups } from './cpu-window';
import { foreignCores, type Load, type Setup } from './fanout-phase';
import { control, waitSubscriptions, type NodeHandle } from './nodes';
import { kill9, log } from './processes';
import type { PublishCommand, PublishReport } from './publisher';
import { postgresBackends, type NginxService } from './services';
import { opts } from './settings';
import type { StormResult } from './storm-clients';
import { nowMicros } from './wire';

export interface StormMeasurement {
  round: number;
  clients: number;
  via: 'nginx' | 'direct';
  missed: number;
  /** Kill → every client recovered (null when some never did), and the p50/p99 client, seconds. */
  seconds: number | null;
  p50Seconds: number | null;
  p99Seconds: number | null;
  /** Kill → the last client noticed its connection was gone. */
  closesNoticedSeconds: number | null;
  back: number;
  recovered: number;
  recoveryRefused: Record<string, number>;
  attempts: number;
  /** Failed connection attempts by reason. */
  failed: Record<string, number>;
  duplicates: number;
  gaps: number;
  /** SYNs dropped because an accept queue was full during the storm (machine-wide counter; null when unknown). */
  listenDrops: number | null;
  /** nginx's error log of the storm, by message (and upstream node), counted. */
  nginxErrors: Record<string, number>;
  /** CPU in the storm window (kill → all recovered), seconds, per process group. */
  cpuSeconds: Record<string, number>;
  /** Node A's CPU per recovered client, µs. */
  nodeAMicrosPerClient: number | null;
  windowSeconds: number;
  serverCore: number | null;
  loadCore: number | null;
  /** See FanoutMeasurement.foreignCores. */
  foreignCores: number | null;
  valid: boolean;
}

/** TcpExt ListenOverflows + ListenDrops from /proc/net/netstat (machine-wide): accept queues that overflowed. */
function listenDrops(): number | null {
  try {
    const lines = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/).map(Number);
    return values[names.indexOf('ListenOverflows')]! + values[names.indexOf('ListenDrops')]!;
  } catch {
    return null;
  }
}

const secondsSince = (from: number, at: number | null) => (at === null ? null : (at - from) / 1e6);

async function publishOnA(setup: Setup, load: Load, count: number): Promise<PublishReport> {
  const command: PublishCommand = { cmd: 'publish', base: setup.publishTo.base, token: setup.publisherToken, channel: 'storm', count, rate: 1000, size: opts.size, maxInFlight: 1 };
  const report = await load.publisher.send<PublishReport>(command);
  if (report.failures > 0) throw new Error(`storm: ${report.failures} of ${count} publications failed`);
  return report;
}

/** Runs the storm against `nodeB` (connected through storm clients `from`…); returns its measurement. B is dead afterwards. */
export async function runStorm(setup: Setup, nodeB: NodeHandle, load: Load, round: number, tokensFrom: number, nginx: NginxService | undefined): Promise<StormMeasurement> {
  const n = opts.stormClients;
  const connected = await load.clients.send<{ ms: number }>({ cmd: 'storm', set: 'cluster', base: nodeB.base, from: tokensFrom, count: n, channel: 'bench:storm' });
  await waitSubscriptions(nodeB, n);
  log(`  storm: ${n.toLocaleString('en-US')} clients subscribed on node B in ${(connected.ms / 1000).toFixed(1)} s`);
  const before = await publishOnA(setup, load, 3);
  await load.clients.send({ cmd: 'stormSettle', offset: before.lastOffset, timeoutMs: 30_000 });
  const reconnectTo = nginx?.url ?? setup.publishTo.base;
  await load.clients.send({ cmd: 'stormArm', base: reconnectTo });

  const nodeA = setup.publishTo;
  const groups: PidGroups = {
    'node A': [nodeA.pid],
    ...(setup.redisPid === undefined ? {} : { redis: [setup.redisPid] }),
    ...(nginx === undefined ? {} : { nginx: nginx.pids() }),
    postgres: await postgresBackends([nodeA.pid]),
    'load clients': [load.clients.pid],
    publisher: [load.publisher.pid],
  };
  const profiling = opts.profileDir !== '';
  if (profiling) await control(nodeA, '/bench/profile/start', 'POST');
  const window = openCpuWindow(groups);
  const dropsBefore = listenDrops();
  const killAt = nowMicros();
  kill9(nodeB.child);
  const missed = await publishOnA(setup, load, opts.stormMissed);
  await load.clients.send({ cmd: 'stormTarget', offset: missed.lastOffset });
  const result = await load.clients.send<StormResult>({ cmd: 'stormWait', timeoutMs: opts.stormTimeoutSeconds * 1000 });
  const cpu = window.end();
  const dropsAfter = listenDrops();
  if (profiling) await control(nodeA, `/bench/profile/stop?name=storm-A-round${round}`, 'POST');
  await load.clients.send({ cmd: 'closeStorm' });

  const cpuSeconds: Record<string, number> = {};
  for (const [group, micros] of Object.entries(cpu.micros)) cpuSeconds[group] = micros / 1e6;
  const all = result.recovered === n;
  return {
    round,
    clients: n,
    via: nginx === undefined ? 'direct' : 'nginx',
    missed: opts.stormMissed,
    seconds: all ? secondsSince(killAt, result.recoveredAt.last) : null,
    p50Seconds: secondsSince(killAt, result.recoveredAt.p50),
    p99Seconds: secondsSince(killAt, result.recoveredAt.p99),
    closesNoticedSeconds: secondsSince(killAt, result.lastCloseAt),
    back: result.back,
    recovered: result.recovered,
    recoveryRefused: result.recoveryRefused,
    attempts: result.attempts,
    failed: result.failed,
    duplicates: result.duplicates,
    gaps: result.gaps,
    listenDrops: dropsBefore === null || dropsAfter === null ? null : dropsAfter - dropsBefore,
    nginxErrors: nginx?.errors() ?? {},
    cpuSeconds,
    nodeAMicrosPerClient: result.recovered > 0 ? cpu.micros['node A']! / result.recovered : null,
    windowSeconds: cpu.seconds,
    serverCore: cpu.serverCore,
    loadCore: cpu.loadCore,
    foreignCores: foreignCores(cpu.serverCore, cpu.loadCore, Object.fromEntries(Object.entries(cpuSeconds).map(([g, s]) => [g, s / cpu.seconds]))),
    valid: all && result.duplicates === 0 && result.gaps === 0,
  };
}
