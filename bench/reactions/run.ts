/**
 * The reactions bench (issue 11): does a burst of reactions on one post become a handful of frames
 * per subscriber? A Tandem server with the social app (server.ts) and, in another process, N
 * subscribers on `post:<id>` and `feed` (subscribers.ts); this process sends a burst of R reactions
 * from R distinct users spread over ~1 s (open loop: the i-th request leaves at i·burst/R ms, not
 * after the previous answer), waits until every subscriber has seen the final count on both
 * channels, and reads what each received and what the server's CPU spent. Both sides in the same
 * run: coalesced (ctx.publishLatest, TANDEM_REACTION_INTERVAL_MS) against naive (every change
 * appended in its own transaction, TANDEM_REACTION_PUSH_EACH=true); medians of several runs,
 * the sides alternating which goes first.
 *
 * npm run bench:reactions [-- --subscribers=200 --reactors=500 --runs=3 --burst-ms=1000 --out=…]
 * Run it alone: flock /tmp/tandem-bench.lock npm run bench:reactions
 */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuMicrosOf } from '../common/cpu';
import { ipcWorker, type IpcWorker } from '../common/ipc';
import { intOption, option } from '../common/options';

const SUBSCRIBERS = intOption('subscribers', 'BENCH_REACTIONS_SUBSCRIBERS', 200);
const REACTORS = intOption('reactors', 'BENCH_REACTIONS_REACTORS', 500);
const RUNS = intOption('runs', 'BENCH_REACTIONS_RUNS', 3);
const BURST_MS = intOption('burst-ms', 'BENCH_REACTIONS_BURST_MS', 1000);
const INTERVAL_MS = intOption('interval-ms', 'TANDEM_REACTION_INTERVAL_MS', 100);
const OUT = option('out', 'BENCH_REACTIONS_OUT', 'bench/results/reactions-latest.json');
/** More node flags for the server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"; bench/realtime/profile-summary.ts reads the profiles). */
const SERVER_NODE_ARGS = option('server-node-args', 'BENCH_REACTIONS_SERVER_NODE_ARGS', '').split(' ').filter((a) => a !== '');
const HERE = path.dirname(new URL(import.meta.url).pathname);

type Side = 'coalesced' | 'naive';
type ServerCommand = { cmd: 'setup'; subscribers: number; reactors: number } | { cmd: 'stop' };
type SubscriberCommand =
  | { cmd: 'connect'; url: string; tokens: string[]; postId: number }
  | { cmd: 'reset' }
  | { cmd: 'waitFinal'; likes: number; timeoutMs: number }
  | { cmd: 'stats' }
  | { cmd: 'close' };
interface PerSubscriber { pubsPost: number; pubsFeed: number; messages: number; bytes: number }

interface RunResult {
  side: Side;
  run: number;
  /** reactions.changed publications per subscriber (median over subscribers): both channels, and each. */
  framesPerSubscriber: number;
  framesPostChannel: number;
  framesFeedChannel: number;
  /** WebSocket messages per subscriber (the gateway may put several frames in one message). */
  messagesPerSubscriber: number;
  bytesPerSubscriber: number;
  /** CPU time of the server process from the burst's first request until every subscriber was current. */
  serverCpuMs: number;
  /** The same, per second of that window (1000 = one core busy). */
  serverCpuPerSecond: number;
  subscribersCpuMs: number;
  /** From the first request until the last subscriber had the final count on both channels. */
  allCurrentMs: number;
  /** From the first request until the last answer. */
  burstMs: number;
  requestP50Ms: number;
  requestP99Ms: number;
  failedRequests: number;
}

const children = new Set<ChildProcess>();
const stopAll = () => {
  for (const child of children) child.kill('SIGKILL');
};
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

function start(script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): ChildProcess {
  const child = fork(path.join(HERE, script), [], { execArgv: ['--import', 'tsx', ...nodeArgs], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
const cpuMs = (pid: number) => (cpuMicrosOf(pid) ?? Number.NaN) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The burst: R PUTs from R users, the i-th sent at i·BURST_MS/R ms; answers their latencies. */
async function burst(url: string, postId: number, tokens: string[]): Promise<{ latencies: number[]; failed: number }> {
  const started = performance.now();
  let failed = 0;
  const latencies = await Promise.all(tokens.map(async (token, i) => {
    const at = started + (i * BURST_MS) / tokens.length;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    const sent = performance.now();
    const res = await fetch(`${url}/api/posts/${postId}/reactions/like`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    if (res.status !== 200) failed += 1;
    return performance.now() - sent;
  }));
  return { latencies, failed };
}

async function runOnce(side: Side, run: number): Promise<RunResult> {
  const serverChild = start('server.ts', { TANDEM_REACTION_PUSH_EACH: side === 'naive' ? 'true' : 'false', TANDEM_REACTION_INTERVAL_MS: String(INTERVAL_MS) }, SERVER_NODE_ARGS);
  const ready = new Promise<{ url: string }>((resolve) => serverChild.once('message', (m) => resolve(m as { url: string })));
  const server: IpcWorker<ServerCommand> = await ipcWorker(serverChild, 'the bench server');
  const { url } = await ready;
  const { postId, subscriberTokens, reactorTokens } = await server.send<{ postId: number; subscriberTokens: string[]; reactorTokens: string[] }>({ cmd: 'setup', subscribers: SUBSCRIBERS, reactors: REACTORS });
  const subscribers: IpcWorker<SubscriberCommand> = await ipcWorker(start('subscribers.ts', {}), 'the subscribers');
  try {
    await subscribers.send({ cmd: 'connect', url, tokens: subscriberTokens, postId });
    // A warm-up reaction and its frames, then a quiet moment, so the burst starts from a settled server.
    await sleep(500);
    await subscribers.send({ cmd: 'reset' });
    const cpu0 = { server: cpuMs(server.pid), subscribers: cpuMs(subscribers.pid) };
    const t0 = performance.now();
    const waiting = subscribers.send<{ waitedMs: number }>({ cmd: 'waitFinal', likes: REACTORS, timeoutMs: 120_000 });
    const sent = await burst(url, postId, reactorTokens);
    const burstMs = performance.now() - t0;
    await waiting;
    const allCurrentMs = performance.now() - t0;
    const cpu1 = { server: cpuMs(server.pid), subscribers: cpuMs(subscribers.pid) };
    // Frames still on their way (the naive side's tail) are counted, not the CPU after the window.
    await sleep(300);
    const stats = await subscribers.send<PerSubscriber[]>({ cmd: 'stats' });
    return {
      side, run,
      framesPerSubscriber: median(stats.map((s) => s.pubsPost + s.pubsFeed)),
      framesPostChannel: median(stats.map((s) => s.pubsPost)),
      framesFeedChannel: median(stats.map((s) => s.pubsFeed)),
      messagesPerSubscriber: median(stats.map((s) => s.messages)),
      bytesPerSubscriber: median(stats.map((s) => s.bytes)),
      serverCpuMs: Math.round(cpu1.server - cpu0.server),
      serverCpuPerSecond: Math.round(((cpu1.server - cpu0.server) / allCurrentMs) * 1000),
      subscribersCpuMs: Math.round(cpu1.subscribers - cpu0.subscribers),
      allCurrentMs: Math.round(allCurrentMs),
      burstMs: Math.round(burstMs),
      requestP50Ms: Math.round(percentile(sent.latencies, 50) * 10) / 10,
      requestP99Ms: Math.round(percentile(sent.latencies, 99) * 10) / 10,
      failedRequests: sent.failed,
    };
  } finally {
    await subscribers.send({ cmd: 'close' }).catch(() => undefined);
    await server.send({ cmd: 'stop' }).catch(() => undefined);
  }
}

function summary(results: RunResult[], side: Side): Record<string, number> {
  const mine = results.filter((r) => r.side === side);
  const keys = Object.keys(mine[0]!).filter((k) => k !== 'side' && k !== 'run') as Array<keyof RunResult>;
  return Object.fromEntries(keys.map((k) => [k, median(mine.map((r) => r[k] as number))]));
}

const began = Date.now();
const results: RunResult[] = [];
for (let run = 1; run <= RUNS; run += 1) {
  const order: Side[] = run % 2 === 1 ? ['coalesced', 'naive'] : ['naive', 'coalesced'];
  for (const side of order) {
    const result = await runOnce(side, run);
    results.push(result);
    console.log(`run ${run} ${side.padEnd(9)} frames/sub ${result.framesPerSubscriber} (post ${result.framesPostChannel}, feed ${result.framesFeedChannel}), ${result.bytesPerSubscriber} B/sub, server CPU ${result.serverCpuMs} ms, all current after ${result.allCurrentMs} ms, requests p50 ${result.requestP50Ms} ms p99 ${result.requestP99Ms} ms${result.failedRequests > 0 ? `, ${result.failedRequests} failed` : ''}`);
  }
}
const coalesced = summary(results, 'coalesced');
const naive = summary(results, 'naive');
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const report = {
  bench: 'reactions',
  date: new Date().toISOString(),
  seconds: Math.round((Date.now() - began) / 1000),
  commit,
  machine: { cpus: os.cpus().map((c) => c.model.trim()), node: process.version, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
  options: { subscribers: SUBSCRIBERS, reactors: REACTORS, runs: RUNS, burstMs: BURST_MS, intervalMs: INTERVAL_MS, channelsPerSubscriber: ['post:<id>', 'feed'] },
  medians: { coalesced, naive },
  ratios: {
    frames: Math.round((naive.framesPerSubscriber! / coalesced.framesPerSubscriber!) * 10) / 10,
    bytes: Math.round((naive.bytesPerSubscriber! / coalesced.bytesPerSubscriber!) * 10) / 10,
    serverCpu: Math.round((naive.serverCpuMs! / coalesced.serverCpuMs!) * 10) / 10,
  },
  runs: results,
};
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nmedians of ${RUNS} runs, ${SUBSCRIBERS} subscribers, ${REACTORS} reactions in ${BURST_MS} ms:`);
console.table({ coalesced, naive });
console.log(`written to ${OUT}`);
process.exit(0);
