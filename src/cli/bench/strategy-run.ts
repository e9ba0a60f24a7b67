/**
 * One strategy, measured: set up its resources and accounts; a baseline with the change loop
 * running and no client; the memory of the clients connected; then warm-up, the measured window
 * and a drain with the changes running; then every client closed and the connections' bytes
 * counted from first open to last close.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openFleet, type Fleet } from './clients/fleet';
import type { CommitLog, ServerStats } from './control-api';
import type { ControlClient } from './control';
import type { WindowCost } from './crossover';
import { analyzeDeliveries, type DeliveryResult } from './deliveries';
import { Observations } from './observations';
import { drainSeconds, MAX_CHANGES_PER_SECOND, type BenchOptions } from './options';
import type { Progress } from './progress';
import type { StrategyName, StrategyResult } from './report';
import { bytesBetween, bytesPerUpdate, summarizeLatency } from './stats';

export interface StrategyContext {
  options: BenchOptions;
  control: ControlClient;
  base: URL;
  /** Server clock minus this process's, µs. */
  clockOffset: number;
  progress: Progress;
}

export interface StrategyOutcome {
  result: StrategyResult;
  window: WindowCost;
}

export function describe(strategy: StrategyName, pollIntervalMs: number): string {
  switch (strategy) {
    case 'poll-etag':
      return `REST polling with ETags (the fair version): a GET every ${pollIntervalMs} ms with If-None-Match; an unchanged resource answers 304 with no body.`;
    case 'poll-plain':
      return `REST polling without conditional requests: a GET every ${pollIntervalMs} ms, always answered 200 with the whole body.`;
    case 'sse':
      return "Server-Sent Events (Tandem's SSE fallback): one streamed GET per client carries every change; frames go up in POSTs (auth, sub, a ping every 20 s).";
    case 'websocket':
      return 'WebSocket (tandem.v1): one connection per client; auth and sub, then every change pushed as a frame; a ping frame every 20 s.';
  }
}

interface Prepared {
  itemIds: number[];
  itemOfClient: number[];
  tokens: string[];
  baselineCpuMsPerSecond: number;
}

async function prepare(strategy: StrategyName, ctx: StrategyContext): Promise<Prepared> {
  const w = ctx.options.workload;
  ctx.progress.phase(strategy, 'setting up');
  const { itemIds, tokens } = await ctx.control.setup({ resources: Math.ceil(w.clients / w.watchersPerResource), clients: w.clients, payloadBytes: w.payloadBytes });
  const itemOfClient = tokens.map((_, i) => itemIds[Math.floor(i / w.watchersPerResource)]!);
  ctx.progress.phase(strategy, 'baseline (no clients)');
  await ctx.control.startChanges({ itemIds, changesPerSecond: w.changesPerSecond, payloadBytes: w.payloadBytes });
  const before = await ctx.control.stats();
  await sleep(ctx.options.baselineSeconds * 1000);
  const after = await ctx.control.stats();
  await ctx.control.stopChanges();
  return { itemIds, itemOfClient, tokens, baselineCpuMsPerSecond: cpuMs(before, after) / seconds(before, after) };
}

const cpuMs = (a: ServerStats, b: ServerStats) => (b.cpuMicros - a.cpuMicros) / 1000;
const seconds = (a: ServerStats, b: ServerStats) => (b.now - a.now) / 1e6;

interface Measured {
  window: [ServerStats, ServerStats];
  log: CommitLog;
  clientCpuShare: number;
  skippedPolls: number;
}

/**
 * How much faster than the workload the warm-up runs (polls and changes, up to 10×, within 2,000
 * polls/s and the change limit): a server that has run for a while has compiled its hot paths,
 * and a fresh one at a few requests a second would take minutes to get there.
 */
export function warmUpFactor(w: StrategyContext['options']['workload']): number {
  const polls = (w.clients * 1000) / w.pollIntervalMs;
  const changes = Math.ceil(w.clients / w.watchersPerResource) * w.changesPerSecond;
  return Math.max(1, Math.min(10, 2_000 / polls, MAX_CHANGES_PER_SECOND / changes));
}

async function measure(strategy: StrategyName, ctx: StrategyContext, prepared: Prepared, fleet: Fleet): Promise<Measured> {
  const w = ctx.options.workload;
  const changes = (factor: number) => ctx.control.startChanges({ itemIds: prepared.itemIds, changesPerSecond: w.changesPerSecond * factor, payloadBytes: w.payloadBytes });
  const factor = warmUpFactor(w);
  ctx.progress.phase(strategy, `warming up (${Math.round(factor * 10) / 10}× the pace)`);
  await changes(factor);
  fleet.setPace(factor);
  await sleep(w.warmupSeconds * 1000);
  await changes(1);
  fleet.setPace(1);
  await sleep(SETTLE_MS);
  ctx.progress.phase(strategy, 'measuring');
  const clientCpu = process.cpuUsage();
  const skipped = fleet.skippedPolls();
  const start = await ctx.control.stats();
  await sleep(w.durationSeconds * 1000);
  const end = await ctx.control.stats();
  const used = process.cpuUsage(clientCpu);
  const skippedPolls = fleet.skippedPolls() - skipped;
  ctx.progress.phase(strategy, 'draining');
  await sleep(drainSeconds(w) * 1000);
  const log = await ctx.control.stopChanges();
  return { window: [start, end], log, clientCpuShare: (used.user + used.system) / (end.now - start.now), skippedPolls };
}

/** After the warm-up, the workload's own pace for this long before the window opens (polls in flight land). */
const SETTLE_MS = 500;

/** Waits (up to 10 s) until the server has no client connection open; false if some stayed. */
async function allClosed(control: ControlClient): Promise<ServerStats & { closed: boolean }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stats = await control.stats();
    if (stats.openSockets === 0 || Date.now() > deadline) return { ...stats, closed: stats.openSockets === 0 };
    await sleep(100);
  }
}

export async function runStrategy(strategy: StrategyName, ctx: StrategyContext): Promise<StrategyOutcome> {
  const { options } = ctx;
  const w = options.workload;
  const prepared = await prepare(strategy, ctx);
  const memoryBefore = await ctx.control.stats(true);
  const startedAt = new Date().toISOString();
  const observations = new Observations();
  ctx.progress.phase(strategy, `connecting ${w.clients} clients`);
  const fleet: Fleet = await openFleet(
    { strategy, base: ctx.base, itemIds: prepared.itemIds, tokens: prepared.tokens, watchersPerResource: w.watchersPerResource, pollIntervalMs: w.pollIntervalMs, headerProfile: options.headerProfile, pollWithToken: options.pollWithToken, observations },
    (n) => ctx.progress.phase(strategy, `connecting ${n}/${w.clients} clients`),
  );
  let measured: Measured;
  let memoryAfter: ServerStats;
  try {
    memoryAfter = await ctx.control.stats(true);
    measured = await measure(strategy, ctx, prepared, fleet);
  } finally {
    ctx.progress.phase(strategy, 'closing');
    await fleet.close();
  }
  const closed = await allClosed(ctx.control);
  const finishedAt = new Date().toISOString();
  const [start, end] = measured.window;
  const deliveries = analyzeDeliveries({ log: measured.log, itemOfClient: prepared.itemOfClient, observations, clockOffset: ctx.clockOffset, windowStart: start.now, windowEnd: end.now });
  const bytes = bytesBetween(start, end);
  const serverCpuMs = cpuMs(start, end);
  const windowSeconds = seconds(start, end);
  const requests = end.requests - start.requests;
  const notes = notesFor({ fleet, deliveries, measured, closedAll: closed.closed, memoryBytes: memoryAfter.rss - memoryBefore.rss, options });
  const result: StrategyResult = {
    strategy,
    description: describe(strategy, w.pollIntervalMs),
    changes: deliveries.changes,
    delivered: deliveries.delivered,
    expected: deliveries.expected,
    staleReads: deliveries.staleReads,
    requests,
    requestsPerSecond: round(requests / windowSeconds, 1),
    bytes,
    bytesPerUpdate: bytesPerUpdate(bytes, deliveries.delivered),
    latency: summarizeLatency(deliveries.latenciesMs),
    serverCpuMs: round(serverCpuMs, 3),
    serverCpuMsPer1000Updates: deliveries.delivered > 0 ? round((serverCpuMs * 1000) / deliveries.delivered, 3) : 0,
    serverMemoryPerClientBytes: Math.max(0, Math.round((memoryAfter.rss - memoryBefore.rss) / w.clients)),
    notes,
    baselineCpuMsPerSecond: round(prepared.baselineCpuMsPerSecond, 3),
    connections: { opened: closed.acceptedSockets - memoryBefore.acceptedSockets, bytes: bytesBetween(memoryBefore, closed), startedAt, finishedAt },
  };
  const netCpuMs = serverCpuMs - prepared.baselineCpuMsPerSecond * windowSeconds;
  return { result, window: { netCpuMs, requests, polls: deliveries.polls, delivered: deliveries.delivered } };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

interface NoteInput {
  fleet: Fleet;
  deliveries: DeliveryResult;
  measured: Measured;
  closedAll: boolean;
  memoryBytes: number;
  options: BenchOptions;
}

function notesFor({ fleet, deliveries, measured, closedAll, memoryBytes, options }: NoteInput): string[] {
  const notes: string[] = [];
  const errors = fleet.errors();
  if (errors.count > 0) notes.push(`${errors.count} client errors after connecting (first: ${errors.first.join('; ')})`);
  if (measured.skippedPolls > 0) notes.push(`${measured.skippedPolls} poll ticks in the window skipped: the previous poll of that client had not come back within the interval`);
  if (measured.log.behind > 0) notes.push(`the server's change loop fell behind its schedule ${measured.log.behind} times (more than 50 ms late)`);
  if (measured.clientCpuShare > 0.85) notes.push(`the client process used ${Math.round(measured.clientCpuShare * 100)}% of a core during the window: the clients, not the server, may have set the pace`);
  if (deliveries.expected > 0 && deliveries.delivered < deliveries.expected) {
    notes.push(`${deliveries.expected - deliveries.delivered} of ${deliveries.expected} expected deliveries had not arrived by the end of the drain`);
  }
  if (memoryBytes < 0) notes.push('RSS fell while the clients connected (a GC returned memory): the memory per client is below what this run can resolve, shown as 0');
  if (!closedAll) notes.push('some client connections were still open on the server 10 s after the clients closed: the connection byte totals may be short');
  if (options.url !== undefined) notes.push('one server for every strategy (--url): memory per client of later strategies may reuse what earlier ones freed');
  return notes;
}
