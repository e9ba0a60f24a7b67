/**
 * One server's turn in a round: a fresh server, idle memory per connection while connecting up
 * to each size, then the throughput and latency scenarios at each size from the largest down.
 */
import type { ServerKind } from './clients';
import type { Clients } from './clients-ipc';
import type { MemReport } from './common';
import { fmt, fmtInt, pct } from './format';
import { measure, scenarioFor, type Measurement, type MemoryMeasurement } from './measure';
import { stop } from './processes';
import { control, startServer, waitSubscribed, type RunningServer } from './servers';
import { LABEL, maxSize, opts } from './settings';
import { cpuMicrosOf } from '../common/cpu';

/** Everything measured so far, in the order it was measured. */
export interface Collected {
  measurements: Measurement[];
  memory: MemoryMeasurement[];
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Connects up to each size in turn and records RSS and heap per connection; returns the connections left open. */
async function measureIdleMemory(server: RunningServer, clients: Clients, round: number, into: Collected): Promise<number> {
  const kind = server.kind;
  // Primed: every server's young generation grown and resident before the baseline (see primeHeap).
  const base = await control<MemReport>(server, 'GET', '/mem?prime=1');
  const sampleEvery = Math.max(1, Math.floor(maxSize() / 1000));
  let connected = 0;
  let previous: { n: number; rss: number } | undefined;
  for (const n of opts.sizes) {
    const started = Date.now();
    const cpuBefore = cpuMicrosOf(server.pid);
    const r = await clients.send<{ failures: number }>({ cmd: 'connect', kind, base: server.base, from: connected, to: n, concurrency: 64, officialSocketIo: opts.sioOfficial, sampleEvery });
    const connectSeconds = (Date.now() - started) / 1000;
    if (r.failures > 0) log(`  ${LABEL[kind]}: ${r.failures} connection attempts failed and were retried`);
    await waitSubscribed(server, n);
    const cpuAfter = cpuMicrosOf(server.pid);
    const connectCpuMsPer1000 = cpuBefore === undefined || cpuAfter === undefined ? null : (cpuAfter - cpuBefore) / 1000 / ((n - connected) / 1000);
    connected = n;
    await new Promise((res) => setTimeout(res, 300));
    const mem = await control<MemReport>(server, 'GET', '/mem');
    into.memory.push({
      round,
      server: kind,
      subscribers: n,
      baselineRss: base.rss,
      rss: mem.rss,
      bytesPerConnection: (mem.rss - base.rss) / n,
      marginalBytesPerConnection: previous === undefined ? null : (mem.rss - previous.rss) / (n - previous.n),
      heapBytesPerConnection: (mem.heapUsed - base.heapUsed) / n,
      connectSeconds,
      connectCpuMsPer1000,
    });
    previous = { n, rss: mem.rss };
    log(`  ${LABEL[kind]} n=${n}: ${((mem.rss - base.rss) / n / 1024).toFixed(2)} KiB RSS per idle connection (connected in ${connectSeconds.toFixed(1)} s, server CPU ${connectCpuMsPer1000 === null ? 'n/a' : connectCpuMsPer1000.toFixed(0)} ms per 1,000)`);
  }
  return connected;
}

/** At each size, largest first (closing connections down to it): a warm-up, then the scenarios (single, burst and paced by default). */
async function measureDeliveries(server: RunningServer, clients: Clients, round: number, connected: number, into: Collected): Promise<void> {
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
    for (const mode of opts.modes) {
      const m = await measure(server, clients, n, scenarioFor(mode, n), round, true);
      into.measurements.push(m);
      log(
        `  ${LABEL[server.kind]} n=${n} ${mode}: ${fmtInt(m.deliveriesPerSecond)} deliveries/s, ${fmt(m.serverCpuMicrosPerDelivery, 2)} µs CPU/delivery, ` +
          `p50 ${fmt(m.p50Ms, 2)} ms p99 ${fmt(m.p99Ms, 2)} ms, server core ${pct(m.serverCoreUse)} client core ${pct(m.clientCoreUse)}${m.valid ? '' : ' (INVALID)'}`,
      );
    }
  }
}

/** A fresh `kind` server for one round: memory, then deliveries; the server is stopped and the clients closed after. */
export async function runServerRound(kind: ServerKind, clients: Clients, round: number, into: Collected): Promise<void> {
  const server = await startServer(kind);
  try {
    if (kind === 'tandem' || kind === 'tandem-sse' || kind === 'ws-auth') await clients.send<number>({ cmd: 'tokens', base: server.base, count: maxSize() });
    const connected = await measureIdleMemory(server, clients, round, into);
    await measureDeliveries(server, clients, round, connected, into);
  } finally {
    await clients.send<number>({ cmd: 'close', from: 0 }).catch(() => 0);
    await stop(server.child);
  }
}
