import type { BenchReport, StrategyResult } from '../bench/report';

/**
 * What one operation costs the server, the input of every cost `tandem advise` shows: modelled
 * from Tandem's own benchmarks on its reference machine (docs/performance.md), or measured, from a
 * saved `tandem bench` report (`--costs=report.json`). Each number says where it came from.
 */

export interface CostModel {
  /** Server CPU (ms) for a poll answered 304, no body: the cost of an HTTP round trip that does almost nothing. */
  cpuMsPer304: number;
  /** Server CPU (ms) for a poll answered 200 with the resource. */
  cpuMsPer200: number;
  /** Server CPU (ms) per update pushed to one client. */
  cpuMsPerPush: { sse: number; websocket: number };
  /** Server CPU (ms) per message a client sends over its WebSocket (parse and route; the handler's own work is not counted). */
  cpuMsPerClientMessage: number;
  /** Server CPU (ms) per heartbeat (a ping and its pong, or an SSE comment). */
  cpuMsPerHeartbeat: number;
  heartbeatIntervalMs: number;
  /** Bytes of a request's headers, client to server (a browser with cookies: the article's 500–800 B). */
  requestHeaderBytes: number;
  /** Bytes of a response's headers: a 200, a 304. */
  responseHeaderBytes: { ok: number; notModified: number };
  /** Bytes a pushed update adds to its payload: framing and the event envelope. */
  pushOverheadBytes: { sse: number; websocket: number };
  /** Server memory per connection held: an SSE stream, a WebSocket, an idle keep-alive socket between polls. */
  memoryPerConnectionBytes: { sse: number; websocket: number; poll: number };
  /** How long the server keeps an idle keep-alive socket open (Fastify's default: 72 s). */
  keepAliveMs: number;
  /** Latency of a pushed update, p99, ms. */
  pushLatencyMs: { sse: number; websocket: number };
  /** CDN points of presence that each revalidate a shared resource once per max-age (an assumption, not a measurement). */
  cdnEdges: number;
  /** Where each number came from (dotted paths, e.g. `cpuMsPerPush.sse`); absent means modelled. */
  measured: string[];
  /** The report the measured numbers came from. */
  source: { kind: 'modelled' } | { kind: 'measured'; file: string; startedAt: string; machine: string; target: string };
}

/**
 * Tandem's costs on its reference VM (docs/performance.md: REST 304 43–57 µs, 200 ~46 µs;
 * WebSocket delivery 7–9 µs, SSE 0.9–1.2× that; idle WebSocket 3.3–3.7 KiB, SSE stream 0.9–1.5 KiB).
 */
export const MODELLED: CostModel = {
  cpuMsPer304: 0.045,
  cpuMsPer200: 0.05,
  cpuMsPerPush: { sse: 0.01, websocket: 0.009 },
  cpuMsPerClientMessage: 0.015,
  cpuMsPerHeartbeat: 0.005,
  heartbeatIntervalMs: 25_000,
  requestHeaderBytes: 600,
  responseHeaderBytes: { ok: 350, notModified: 250 },
  pushOverheadBytes: { sse: 80, websocket: 60 },
  memoryPerConnectionBytes: { sse: 1_500, websocket: 3_700, poll: 1_200 },
  keepAliveMs: 72_000,
  pushLatencyMs: { sse: 7, websocket: 5 },
  cdnEdges: 20,
  measured: [],
  source: { kind: 'modelled' },
};

/** A report's optional additions that carry unit costs directly (newer `tandem bench` writes them). */
interface ReportExtras {
  unitCosts?: { poll304Ms?: number; poll200Ms?: number; pushMs?: number; push?: 'websocket' | 'sse' };
}
interface ResultExtras {
  baselineCpuMsPerSecond?: number;
}

/** Thrown for a file that is not a usable bench report; the message says why. */
export class CostsFileError extends Error {
  override name = 'CostsFileError';
}

/** Checks that `value` is a `tandem bench` report this version reads (the fields the cost model uses). */
export function asBenchReport(value: unknown): BenchReport {
  const report = value as Partial<BenchReport> | null;
  if (typeof report !== 'object' || report === null || report.tool !== 'tandem bench') throw new CostsFileError('not a tandem bench report (no "tool": "tandem bench")');
  if (report.version !== 1) throw new CostsFileError(`report version ${String(report.version)}; this tandem reads version 1`);
  if (!Array.isArray(report.results) || typeof report.workload?.payloadBytes !== 'number' || typeof report.machine !== 'object') {
    throw new CostsFileError('report without results, workload or machine');
  }
  return report as BenchReport;
}

const positive = (n: number | undefined): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;

/** CPU of a result's window minus what every strategy pays with no client (the change loop), when the report says. */
function ownCpuMs(r: StrategyResult, durationSeconds: number): number {
  const baseline = (r as StrategyResult & ResultExtras).baselineCpuMsPerSecond;
  return positive(baseline) ? Math.max(0, r.serverCpuMs - baseline * durationSeconds) : r.serverCpuMs;
}

/** Sets `path` on `model` when `value` is a positive finite number, and records it as measured. */
function take(model: CostModel, path: string, value: number | undefined): void {
  if (!positive(value)) return;
  const keys = path.split('.');
  let target = model as unknown as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[keys.at(-1)!] = value;
  if (!model.measured.includes(path)) model.measured.push(path);
}

function fromPolls(model: CostModel, report: BenchReport): void {
  const { payloadBytes, durationSeconds } = report.workload;
  const plain = report.results.find((r) => r.strategy === 'poll-plain' && r.requests > 0);
  const etag = report.results.find((r) => r.strategy === 'poll-etag' && r.requests > 0);
  if (plain) {
    take(model, 'cpuMsPer200', ownCpuMs(plain, durationSeconds) / plain.requests);
    take(model, 'responseHeaderBytes.ok', Math.max(0, plain.bytes.serverToClient / plain.requests - payloadBytes));
  }
  const poller = etag ?? plain;
  if (poller) take(model, 'requestHeaderBytes', poller.bytes.clientToServer / poller.requests);
  if (poller) take(model, 'memoryPerConnectionBytes.poll', poller.serverMemoryPerClientBytes);
  if (!etag) return;
  // A poll that got a 200 delivered one version; the rest were 304s.
  const ok = Math.min(etag.delivered, etag.requests);
  const notModified = etag.requests - ok;
  if (notModified <= 0) return;
  const cpu = ownCpuMs(etag, durationSeconds);
  take(model, 'cpuMsPer304', plain ? (cpu - ok * model.cpuMsPer200) / notModified : cpu / etag.requests);
  take(model, 'responseHeaderBytes.notModified', (etag.bytes.serverToClient - ok * (payloadBytes + model.responseHeaderBytes.ok)) / notModified);
}

function fromPushes(model: CostModel, report: BenchReport): void {
  const { payloadBytes, durationSeconds } = report.workload;
  for (const kind of ['sse', 'websocket'] as const) {
    const r = report.results.find((x) => x.strategy === kind && x.delivered > 0);
    if (!r) continue;
    take(model, `cpuMsPerPush.${kind}`, ownCpuMs(r, durationSeconds) / r.delivered);
    take(model, `pushOverheadBytes.${kind}`, Math.max(0, r.bytesPerUpdate.serverToClient - payloadBytes));
    take(model, `memoryPerConnectionBytes.${kind}`, r.serverMemoryPerClientBytes);
    take(model, `pushLatencyMs.${kind}`, r.latency.p99);
  }
}

/** The unit costs the report states outright win over what can be derived from its totals. */
function fromUnitCosts(model: CostModel, report: BenchReport): void {
  const unit = (report as BenchReport & ReportExtras).unitCosts;
  if (!unit) return;
  take(model, 'cpuMsPer304', unit.poll304Ms);
  take(model, 'cpuMsPer200', unit.poll200Ms);
  if (unit.push === 'sse' || unit.push === 'websocket') take(model, `cpuMsPerPush.${unit.push}`, unit.pushMs);
}

/**
 * The cost model measured by a bench report: every number the report's results give (CPU per
 * 304, per 200 and per push, header and framing bytes, memory per connection, push latency);
 * the rest stay modelled. A derived number that comes out negative or not finite is left modelled.
 *
 * @example costModelFromReport(asBenchReport(JSON.parse(text)), 'report.json').measured // ['cpuMsPer200', …]
 */
export function costModelFromReport(report: BenchReport, file: string): CostModel {
  const model: CostModel = structuredClone({ ...MODELLED, measured: [] });
  fromPolls(model, report);
  fromPushes(model, report);
  fromUnitCosts(model, report);
  const m = report.machine;
  model.source = { kind: 'measured', file, startedAt: report.startedAt, machine: `${m.cpuModel} × ${m.cpus}, node ${m.node}`, target: m.target };
  return model;
}
