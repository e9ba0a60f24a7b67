/**
 * One fanout measurement: the publisher writes `rate` publications per second for
 * `measureSeconds` through REST to one node; every subscriber (on one node, or split over two)
 * receives each. Measured: deliveries/s, server CPU per delivery (every node plus Redis; the
 * PostgreSQL backends and the load processes on the side), and publish→deliver latency per node.
 */
import { openCpuWindow, type PidGroups } from './cpu-window';
import type { FanoutResult } from './fanout-clients';
import type { LoadCommand } from './load-clients';
import type { LoadProcess } from './load-ipc';
import { control, type NodeHandle } from './nodes';
import type { PublishCommand, PublishReport } from './publisher';
import { postgresBackends } from './services';
import { SATURATED, opts } from './settings';

export type SetupKind = 'single' | 'cluster';

export interface Setup {
  kind: SetupKind;
  nodes: NodeHandle[];
  /** The node the publisher's REST writes go to (the single node, or A). */
  publishTo: NodeHandle;
  publisherToken: string;
  redisPid: number | undefined;
}

export interface Load {
  clients: LoadProcess<LoadCommand>;
  publisher: LoadProcess<PublishCommand | { cmd: 'exit' }>;
}

export interface Latency {
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface FanoutMeasurement {
  round: number;
  setup: SetupKind;
  subscribers: number;
  rate: number;
  publications: number;
  offeredDeliveriesPerSecond: number;
  expected: number;
  delivered: number;
  extra: number;
  dropped: number;
  deliveriesPerSecond: number;
  /** Every node plus Redis, µs of CPU per delivery: the target's measure. */
  serverCpuMicrosPerDelivery: number;
  /** Per process group (node, node A, node B, redis, postgres, load clients, publisher), µs per delivery. */
  cpuMicrosPerDelivery: Record<string, number>;
  /** Per process group, share of one core over the window. */
  coreShare: Record<string, number>;
  serverCore: number | null;
  loadCore: number | null;
  /**
   * Busy time of the two cores not spent by any process of the bench (nor PostgreSQL's backends
   * serving it), in cores: other work on the machine, the noise of this measurement.
   */
  foreignCores: number | null;
  windowSeconds: number;
  /** Per node group ('single'; 'A' = the publisher's node, 'B' = across nodes) and 'all'. */
  latency: Record<string, Latency>;
  rest: { p50Ms: number | null; p99Ms: number | null; failures: number; maxLagMs: number };
  limitedBy: string;
  valid: boolean;
}

const ms = (us: number | null) => (us === null ? null : us / 1000);
const latencyOf = (g: { samples: number; p50Us: number | null; p99Us: number | null; maxUs: number | null }): Latency => ({ samples: g.samples, p50Ms: ms(g.p50Us), p99Ms: ms(g.p99Us), maxMs: ms(g.maxUs) });

export function nodeGroups(setup: Setup): PidGroups {
  const groups: PidGroups = {};
  for (const node of setup.nodes) groups[node.name === 'single' ? 'node' : `node ${node.name}`] = [node.pid];
  if (setup.redisPid !== undefined) groups.redis = [setup.redisPid];
  return groups;
}

/** (server core + load core busy) − every measured process's share, in cores; null when unknown. */
export function foreignCores(serverCore: number | null, loadCore: number | null, shares: Record<string, number>): number | null {
  if (serverCore === null || loadCore === null) return null;
  return Math.max(0, serverCore + loadCore - Object.values(shares).reduce((a, b) => a + b, 0));
}

function limitedBy(m: Pick<FanoutMeasurement, 'deliveriesPerSecond' | 'offeredDeliveriesPerSecond' | 'serverCore' | 'loadCore' | 'delivered' | 'expected' | 'foreignCores'>): string {
  const server = m.serverCore ?? 0;
  const load = m.loadCore ?? 0;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const foreign = m.foreignCores ?? 0;
  const contended = foreign >= 0.25 ? `; contended: ${foreign.toFixed(2)} cores of other work` : '';
  if (m.delivered === m.expected && m.deliveriesPerSecond >= 0.95 * m.offeredDeliveriesPerSecond) {
    return `offered load (kept up; server core ${pct(server)}, load core ${pct(load)}${contended})`;
  }
  if (server >= SATURATED && load >= SATURATED) return `both cores full (server ${pct(server)}, load ${pct(load)}${contended})`;
  if (server >= SATURATED) return `server core (${pct(server)})`;
  if (load >= SATURATED) return `load core (${pct(load)})`;
  return `neither core full (server ${pct(server)}, load ${pct(load)}): latency-bound`;
}

/** Publishes `count` at opts.rate to setup.publishTo; with `measure`, returns the measurement. */
export async function runFanout(setup: Setup, load: Load, round: number, count: number, measure: boolean): Promise<FanoutMeasurement | undefined> {
  const subscribers = opts.subscribers;
  const expected = count * subscribers;
  await load.clients.send({ cmd: 'expect', count: expected });
  const groups: PidGroups = {
    ...nodeGroups(setup),
    postgres: await postgresBackends(setup.nodes.map((n) => n.pid)),
    'load clients': [load.clients.pid],
    publisher: [load.publisher.pid],
  };
  const profiling = measure && opts.profileDir !== '';
  if (profiling) await Promise.all(setup.nodes.map((node) => control(node, '/bench/profile/start', 'POST')));
  const window = openCpuWindow(groups);
  const report = await load.publisher.send<PublishReport>({
    cmd: 'publish', base: setup.publishTo.base, token: setup.publisherToken, channel: '1', count, rate: opts.rate, size: opts.size, maxInFlight: 64,
  });
  const result = await load.clients.send<FanoutResult>({ cmd: 'wait', timeoutMs: 30_000 });
  const cpu = window.end();
  if (profiling) await Promise.all(setup.nodes.map((node) => control(node, `/bench/profile/stop?name=${setup.kind}-${node.name}-round${round}`, 'POST')));
  if (!measure) return undefined;
  const delivered = result.received;
  const serverMicros = Object.keys(nodeGroups(setup)).reduce((sum, group) => sum + cpu.micros[group]!, 0);
  const perDelivery: Record<string, number> = {};
  const coreShare: Record<string, number> = {};
  for (const [group, micros] of Object.entries(cpu.micros)) {
    perDelivery[group] = micros / Math.max(1, delivered);
    coreShare[group] = micros / 1e6 / cpu.seconds;
  }
  const latency: Record<string, Latency> = { all: latencyOf(result.all) };
  for (const [group, g] of Object.entries(result.groups)) latency[group] = latencyOf(g);
  const partial = {
    deliveriesPerSecond: result.lastAt > report.t0 ? delivered / ((result.lastAt - report.t0) / 1e6) : 0,
    offeredDeliveriesPerSecond: opts.rate * subscribers,
    serverCore: cpu.serverCore,
    loadCore: cpu.loadCore,
    foreignCores: foreignCores(cpu.serverCore, cpu.loadCore, coreShare),
    delivered,
    expected,
  };
  return {
    round,
    setup: setup.kind,
    subscribers,
    rate: opts.rate,
    publications: count,
    extra: result.extra,
    dropped: result.dropped,
    serverCpuMicrosPerDelivery: serverMicros / Math.max(1, delivered),
    cpuMicrosPerDelivery: perDelivery,
    coreShare,
    windowSeconds: cpu.seconds,
    latency,
    rest: { p50Ms: report.restP50Ms, p99Ms: report.restP99Ms, failures: report.failures, maxLagMs: report.maxLagMs },
    ...partial,
    limitedBy: limitedBy(partial),
    valid: delivered === expected && result.extra === 0 && result.dropped === 0 && report.failures === 0,
  };
}
