/**
 * The whole run: every strategy in turn against a fresh bench server (or the one at --url), then
 * the unit costs, the crossover, and the article's claims, assembled into the saved report.
 */
import os from 'node:os';
import { checkClaims } from './claims';
import { ControlClient } from './control';
import { breakEvenRate, crossoverSweep, SWEEP_INTERVALS_MS, unitCosts, type WindowCost } from './crossover';
import type { BenchOptions } from './options';
import type { Progress } from './progress';
import { REPORT_VERSION, type BenchReport, type StrategyName, type StrategyResult } from './report';
import { runStrategy } from './strategy-run';
import { pinning, pinProcess, startEmbeddedServer, type EmbeddedServer } from './target';

/** Report-level notes every run carries: what is not measured, and how the figures are defined. */
const STANDING_NOTES = [
  'Long-polling is not measured: Tandem offers no long-poll endpoint (REST answers at once; changes are pushed over WebSocket or SSE).',
  'Changes: each resource changes at random times (a Poisson process) at the workload\'s rate on average; every strategy sees the same rate.',
  'Latency: from the moment the server began a change to the moment a client held a version including it (a poll that skips versions brings their effect too).',
  'Stale read: a poll answered in the window whose answer, on arrival, carried an older version than the newest the server had begun by then.',
  'Bytes: TCP payload counted on the server\'s sockets (HTTP heads and bodies, WebSocket frames, SSE events), in the measured window.',
  'Unit costs (crossover): window CPU minus the baseline (the changes with no client connected, measured right after the clients left, scaled to the window\'s number of changes), per answer or pushed update.',
];

async function runOne(strategy: StrategyName, options: BenchOptions, progress: Progress, server: EmbeddedServer | undefined) {
  const base = server?.url ?? new URL(options.url!);
  const control = new ControlClient(base.href);
  try {
    await control.info();
    const { offset } = await control.clockOffset();
    return await runStrategy(strategy, { options, control, base, clockOffset: offset, progress });
  } finally {
    control.close();
    progress.phase(strategy, 'stopping its server');
    await server?.stop();
  }
}

/**
 * A fresh server per strategy (so none inherits another's memory), all started at once before any
 * measurement: a server takes seconds to load, and the idle ones cost nothing while they wait.
 */
async function startServers(options: BenchOptions, progress: Progress): Promise<EmbeddedServer[]> {
  if (options.url !== undefined) return [];
  progress.phase('all', `starting ${options.strategies.length} bench server${options.strategies.length === 1 ? '' : 's'}`);
  const started = await Promise.allSettled(options.strategies.map(() => startEmbeddedServer(options.serverNodeArgs)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<EmbeddedServer>).value);
}

export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const cpus = options.url === undefined && options.pin ? pinning() : undefined;
  const servers = await startServers(options, progress);
  let pinned = cpus !== undefined && pinProcess(process.pid, cpus.clients);
  const results: StrategyResult[] = [];
  const windows: Partial<Record<StrategyName, WindowCost>> = {};
  try {
    for (const [i, strategy] of options.strategies.entries()) {
      const server = servers[i];
      if (server !== undefined && pinned) pinned = pinProcess(server.pid, cpus!.server);
      const outcome = await runOne(strategy, options, progress, server);
      results.push(outcome.result);
      windows[strategy] = outcome.window;
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  const byName = Object.fromEntries(results.map((r) => [r.strategy, r])) as Partial<Record<StrategyName, StrategyResult>>;
  const derived = unitCosts(windows);
  const w = options.workload;
  const notes = [...STANDING_NOTES, ...(derived?.approximate ?? [])];
  if (derived === undefined) notes.push('No crossover: it needs poll-etag and a push strategy (websocket or sse) in the same run.');
  const { claims, unchecked } = checkClaims({ workload: w, headerProfile: options.headerProfile, pollWithToken: options.pollWithToken, results: byName, windows, costs: derived?.costs });
  notes.push(...unchecked.map((u) => u.why));
  const target = options.url === undefined
    ? `embedded: a fresh \`tandem bench serve\` process per strategy on 127.0.0.1${pinned ? `, pinned to CPU ${cpus!.server} (clients on ${cpus!.clients})` : ', not pinned'}`
    : `--url ${options.url}`;
  return {
    version: REPORT_VERSION,
    tool: 'tandem bench',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', platform: `${os.platform()} ${os.release()} ${os.arch()}`, target },
    workload: w,
    results,
    crossover: derived === undefined ? [] : crossoverSweep(derived.costs, w.payloadBytes),
    claims,
    notes,
    ...(derived === undefined ? {} : {
      unitCosts: roundCosts(derived.costs),
      breakEven: SWEEP_INTERVALS_MS.map((pollIntervalMs) => {
        const rate = breakEvenRate(derived.costs, pollIntervalMs);
        return { pollIntervalMs, payloadBytes: w.payloadBytes, changesPerSecond: Number.isFinite(rate) ? Math.round(rate * 1e4) / 1e4 : null };
      }),
    }),
    clientProfile: { headers: options.headerProfile, pollAuth: options.pollWithToken ? 'token' : 'none' },
  };
}

function roundCosts(costs: NonNullable<ReturnType<typeof unitCosts>>['costs']): NonNullable<BenchReport['unitCosts']> {
  const r = (v: number) => Math.round(v * 1e6) / 1e6;
  return { poll304Ms: r(costs.poll304Ms), poll200Ms: r(costs.poll200Ms), pushMs: r(costs.pushMs), push: costs.push };
}
