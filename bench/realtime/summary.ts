/**
 * Medians over the rounds: per size, scenario and server for deliveries, and per size and server
 * for idle memory; plus which core limited each scenario.
 */
import type { ServerKind } from './clients';
import type { PublishMode } from './common';
import { pct } from './format';
import type { Measurement, MemoryMeasurement } from './measure';
import { SATURATED, opts } from './settings';

/** The median of the finite values; null when there are none. */
function median(values: number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export interface Summary {
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

export function summarize(measurements: Measurement[]): Summary[] {
  const out: Summary[] = [];
  for (const n of opts.sizes) {
    for (const mode of opts.modes) {
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

export interface MemorySummary {
  server: ServerKind;
  subscribers: number;
  bytesPerConnection: number | null;
  marginalBytesPerConnection: number | null;
  heapBytesPerConnection: number | null;
  connectCpuMsPer1000: number | null;
}

export function summarizeMemory(memory: MemoryMeasurement[]): MemorySummary[] {
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
        connectCpuMsPer1000: median(ms.map((m) => m.connectCpuMsPer1000).filter((x): x is number => x !== null)),
      });
    }
  }
  return out;
}
