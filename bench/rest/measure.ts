/**
 * One measurement: a warm-up, then a timed autocannon run against one target, with the server's
 * CPU time from /proc/<pid>/stat and how busy each pinned core was in total. Contended
 * measurements (other processes on a pinned core) are repeated.
 */
import { coreBusy, coreTicks, cpuMicrosOf } from '../common/cpu';
import { pct } from './format';
import type { LoadWorker } from './load-worker-ipc';
import { pinned } from './processes';
import type { Reference, Server } from './servers';
import { CONTENDED, POST_ID, opts, type TargetName } from './settings';

export interface Measurement {
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

export const contended = (m: Measurement) => m.foreignCoreUse !== null && m.foreignCoreUse > CONTENDED;

async function measure(load: LoadWorker, server: Server, target: TargetName, ref: Reference, round: number): Promise<Measurement> {
  const expected = target.endsWith('304') ? 304 : 200;
  const authenticated = target.endsWith('-me');
  const job = {
    url: authenticated ? `${server.url}/api/me` : `${server.url}/api/posts/${POST_ID}`,
    headers: (authenticated ? { authorization: `Bearer ${ref.token}` } : expected === 304 ? { 'if-none-match': ref.etag } : {}) as Record<string, string>,
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
export async function measureSlot(load: LoadWorker, server: Server, target: TargetName, ref: Reference, round: number): Promise<Measurement> {
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
