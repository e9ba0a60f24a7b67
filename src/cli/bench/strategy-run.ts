/**
 * One strategy, measured: set up its resources and accounts; the memory of the clients connected;
 * with the changes running, a warm-up, the measured window and a drain; every client closed and
 * the connections' bytes counted from first open to last close; then, changes still running, a
 * baseline without clients (what the server spends on the changes alone, warm); for poll-etag, the
 * capacity probe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { measureCapacity } from './capacity-phase';
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
}

async function prepare(strategy: StrategyName, ctx: StrategyContext): Promise<Prepared> {
  const w = ctx.options.workload;
  ctx.progress.phase(strategy, 'setting up');
  const { itemIds, tokens } = await ctx.control.setup({ resources: Math.ceil(w.clients / w.watchersPerResource), clients: w.clients, payloadBytes: w.payloadBytes });
  return { itemIds, tokens, itemOfClient: tokens.map((_, i) => itemIds[Math.floor(i / w.watchersPerResource)]!) };
}

const cpuMs = (a: ServerStats, b: ServerStats) => (b.cpuMicros - a.cpuMicros) / 1000;
const seconds = (a: ServerStats, b: ServerStats) => (b.now - a.now) / 1e6;

/** Most pushed bytes a second the warm-up asks of the client process (beyond it, its clients fall behind and the server drops them as slow consumers). */
const WARM_UP_PUSH_BYTES_PER_SECOND = 16 * 1024 * 1024;

/**
 * How much faster than the workload the warm-up runs (polls and changes, up to 10×, within 2,000
 * polls/s, the change limit and 16 MiB/s of pushed payload): a server that has run for a while has
 * compiled its hot paths, and a fresh one at a few requests a second would take minutes to get there.
 */
export function warmUpFactor(w: StrategyContext['options']['workload']): number {
  const polls = (w.clients * 1000) / w.pollIntervalMs;
  const changes = Math.ceil(w.clients / w.watchersPerResource) * w.changesPerSecond;
  const pushedBytes = w.clients * w.changesPerSecond * w.payloadBytes;
  return Math.max(1, Math.min(10, 2_000 / polls, MAX_CHANGES_PER_SECOND / changes, WARM_UP_PUSH_BYTES_PER_SECOND / pushedBytes));
}

/** After the warm-up, the workload's own pace for this long before the window opens (polls in flight land). */
const SETTLE_MS = 500;

interface Window {
  start: ServerStats;
  end: ServerStats;
  clientCpuShare: number;
  skippedPolls: number;
}

/** Warm-up at a faster pace, then the window and the drain at the workload's; the changes keep running after. */
async function measure(strategy: StrategyName, ctx: StrategyContext, prepared: Prepared, fleet: Fleet): Promise<Window> {
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
  return { start, end, clientCpuShare: (used.user + used.system) / (end.now - start.now), skippedPolls };
}

/** Waits (up to 10 s) until the server has no client connection open; `closed` false if some stayed. */
async function allClosed(control: ControlClient): Promise<ServerStats & { closed: boolean }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stats = await control.stats();
    if (stats.openSockets === 0 || Date.now() > deadline) return { ...stats, closed: stats.openSockets === 0 };
    await sleep(100);
  }
}

/** The server with the changes running and no client: from a moment after the clients' departure settled. */
interface Baseline {
  start: ServerStats;
  end: ServerStats;
}

async function baseline(strategy: StrategyName, ctx: StrategyContext): Promise<Baseline> {
  ctx.progress.phase(strategy, 'baseline (changes, no clients)');
  await sleep(SETTLE_MS);
  const start = await ctx.control.stats();
  await sleep(ctx.options.baselineSeconds * 1000);
  return { start, end: await ctx.control.stats() };
}

/** Fewer changes than this in the baseline, and its cost is scaled by time instead of by changes. */
const BASELINE_MIN_CHANGES = 20;

/**
 * What the window would have cost with no client: the baseline's CPU scaled by the changes made
 * in each (changes come at random, and committing them is most of what the server does alone),
 * or by time when the baseline saw too few changes to go by.
 */
export function baselineForWindow(baselineCpuMs: number, baselineSeconds: number, baselineChanges: number, windowSeconds: number, windowChanges: number): number {
  if (baselineChanges >= BASELINE_MIN_CHANGES) return (baselineCpuMs * windowChanges) / baselineChanges;
  return (baselineCpuMs * windowSeconds) / baselineSeconds;
}

function changesBetween(log: CommitLog, from: number, to: number): number {
  let n = 0;
  for (const item of log.items) for (const at of item.at) if (at >= from && at <= to) n += 1;
  return n;
}

interface Run {
  prepared: Prepared;
  observations: Observations;
  fleet: Fleet;
  window: Window;
  log: CommitLog;
  memory: [ServerStats, ServerStats];
  connections: { before: ServerStats; after: ServerStats & { closed: boolean }; startedAt: string; finishedAt: string };
  baseline: Baseline;
  capacity: StrategyResult['capacity'];
}

async function runPhases(strategy: StrategyName, ctx: StrategyContext): Promise<Run> {
  const { options } = ctx;
  const w = options.workload;
  const prepared = await prepare(strategy, ctx);
  const memoryBefore = await ctx.control.stats('prime');
  const startedAt = new Date().toISOString();
  const observations = new Observations();
  ctx.progress.phase(strategy, `connecting ${w.clients} clients`);
  const fleet = await openFleet(
    { strategy, base: ctx.base, itemIds: prepared.itemIds, tokens: prepared.tokens, watchersPerResource: w.watchersPerResource, pollIntervalMs: w.pollIntervalMs, headerProfile: options.headerProfile, pollWithToken: options.pollWithToken, observations },
    (n) => ctx.progress.phase(strategy, `connecting ${n}/${w.clients} clients`),
  );
  let window: Window;
  let memoryAfter: ServerStats;
  try {
    memoryAfter = await ctx.control.stats('prime');
    window = await measure(strategy, ctx, prepared, fleet);
  } finally {
    ctx.progress.phase(strategy, 'closing');
    await fleet.close();
  }
  const closed = await allClosed(ctx.control);
  const finishedAt = new Date().toISOString();
  const quiet = await baseline(strategy, ctx);
  const log = await ctx.control.stopChanges();
  let capacity: StrategyResult['capacity'];
  if (strategy === 'poll-etag') {
    ctx.progress.phase(strategy, 'capacity probe (304s back to back)');
    capacity = await measureCapacity(options, ctx.control, ctx.base, prepared.itemIds[0]!, prepared.tokens[0]!);
    await allClosed(ctx.control);
  }
  return { prepared, observations, fleet, window, log, memory: [memoryBefore, memoryAfter], connections: { before: memoryBefore, after: closed, startedAt, finishedAt }, baseline: quiet, capacity };
}

export async function runStrategy(strategy: StrategyName, ctx: StrategyContext): Promise<StrategyOutcome> {
  const run = await runPhases(strategy, ctx);
  const w = ctx.options.workload;
  const { start, end } = run.window;
  const deliveries = analyzeDeliveries({ log: run.log, itemOfClient: run.prepared.itemOfClient, observations: run.observations, clockOffset: ctx.clockOffset, windowStart: start.now, windowEnd: end.now });
  const bytes = bytesBetween(start, end);
  const serverCpuMs = cpuMs(start, end);
  const requests = end.requests - start.requests;
  const memoryBytes = run.memory[1].rss - run.memory[0].rss;
  const { before, after, startedAt, finishedAt } = run.connections;
  const result: StrategyResult = {
    strategy,
    description: describe(strategy, w.pollIntervalMs),
    changes: deliveries.changes,
    delivered: deliveries.delivered,
    expected: deliveries.expected,
    staleReads: deliveries.staleReads,
    requests,
    requestsPerSecond: round(requests / seconds(start, end), 1),
    bytes,
    bytesPerUpdate: bytesPerUpdate(bytes, deliveries.delivered),
    latency: summarizeLatency(deliveries.latenciesMs),
    serverCpuMs: round(serverCpuMs, 3),
    serverCpuMsPer1000Updates: deliveries.delivered > 0 ? round((serverCpuMs * 1000) / deliveries.delivered, 3) : 0,
    serverMemoryPerClientBytes: Math.max(0, Math.round(memoryBytes / w.clients)),
    serverHeapPerClientBytes: Math.max(0, Math.round((run.memory[1].heapUsed - run.memory[0].heapUsed) / w.clients)),
    notes: notesFor({ run, deliveries, memoryBytes, options: ctx.options }),
    baselineCpuMsPerSecond: round(cpuMs(run.baseline.start, run.baseline.end) / seconds(run.baseline.start, run.baseline.end), 3),
    connections: { opened: after.acceptedSockets - before.acceptedSockets, bytes: bytesBetween(before, after), startedAt, finishedAt },
    ...(run.capacity === undefined ? {} : { capacity: run.capacity }),
  };
  const { start: b0, end: b1 } = run.baseline;
  const baselineMs = baselineForWindow(cpuMs(b0, b1), seconds(b0, b1), changesBetween(run.log, b0.now, b1.now), seconds(start, end), deliveries.changes);
  const window: WindowCost = { cpuMs: serverCpuMs, baselineMs, requests, polls: deliveries.polls, delivered: deliveries.delivered };
  return { result, window };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

interface NoteInput {
  run: Run;
  deliveries: DeliveryResult;
  memoryBytes: number;
  options: BenchOptions;
}

function notesFor({ run, deliveries, memoryBytes, options }: NoteInput): string[] {
  const notes: string[] = [];
  const errors = run.fleet.errors();
  if (errors.count > 0) notes.push(`${errors.count} client errors after connecting (first: ${errors.first.join('; ')})`);
  if (run.window.skippedPolls > 0) notes.push(`${run.window.skippedPolls} poll ticks in the window skipped: the previous poll of that client had not come back within the interval`);
  if (run.log.behind > 0) notes.push(`the server's change loop fell behind its schedule ${run.log.behind} times (more than 50 ms late)`);
  if (run.window.clientCpuShare > 0.85) notes.push(`the client process used ${Math.round(run.window.clientCpuShare * 100)}% of a core during the window: the clients, not the server, may have set the pace`);
  if (deliveries.expected > 0 && deliveries.delivered < deliveries.expected) {
    notes.push(`${deliveries.expected - deliveries.delivered} of ${deliveries.expected} expected deliveries had not arrived by the end of the drain`);
  }
  if (memoryBytes < 0) notes.push('RSS fell while the clients connected (a GC returned memory): the memory per client is below what this run can resolve, shown as 0');
  if (!run.connections.after.closed) notes.push('some client connections were still open on the server 10 s after the clients closed: the connection byte totals may be short');
  if (options.url !== undefined) notes.push('one server for every strategy (--url): memory per client of later strategies may reuse what earlier ones freed');
  return notes;
}

