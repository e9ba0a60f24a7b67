/**
 * One round of each setup, each on fresh node processes: the single node (memory broker) and the
 * two-node cluster (Redis broker, a fresh key prefix per round), both on their own PostgreSQL
 * schema. Tokens are fetched on a setup's first round and reused (the schemas live for the run).
 *
 * Token layout per setup (one account and session each): the fanout subscribers from 0, the storm
 * clients from 0 too (the fanout's connections are closed by then, so every connection still has
 * its own user), and the publisher after the larger of the two.
 */
import { randomBytes } from 'node:crypto';
import { runFanout, type FanoutMeasurement, type Load, type Setup } from './fanout-phase';
import { startNode, stopNode, waitSubscriptions, type NodeHandle } from './nodes';
import { log, onCleanup, running } from './processes';
import { startNginx, type RedisService } from './services';
import { opts } from './settings';
import { runStorm, type StormMeasurement } from './storm';

export interface RunContext {
  load: Load;
  redis: RedisService;
  schemas: { single: string; cluster: string };
  /** Token sets already fetched. */
  fetched: Set<string>;
}

export interface Collected {
  fanout: FanoutMeasurement[];
  storms: StormMeasurement[];
}

const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
const publisherIndex = () => Math.max(opts.subscribers, opts.stormClients);
const stormFrom = () => 0;

async function tokensFor(ctx: RunContext, set: 'single' | 'cluster', node: NodeHandle, count: number): Promise<string> {
  if (!ctx.fetched.has(set)) {
    const started = Date.now();
    await ctx.load.clients.send({ cmd: 'tokens', set, base: node.base, from: 0, count });
    ctx.fetched.add(set);
    log(`  ${set}: ${count.toLocaleString('en-US')} accounts and sessions ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  // The publisher's token, fetched on its own (the load process keeps the others).
  const response = await fetch(`${node.base}/bench/tokens?from=${publisherIndex()}&count=1`);
  if (!response.ok) throw new Error(`publisher token: ${response.status}`);
  return ((await response.json()) as string[])[0]!;
}

/** Warm-up, then the measured window, at opts.rate. */
async function fanoutPhases(setup: Setup, ctx: RunContext, round: number): Promise<FanoutMeasurement> {
  if (opts.warmupSeconds > 0) await runFanout(setup, ctx.load, round, opts.rate * opts.warmupSeconds, false);
  const m = (await runFanout(setup, ctx.load, round, opts.rate * opts.measureSeconds, true))!;
  const lat = Object.entries(m.latency).filter(([group]) => group !== 'all').map(([group, l]) => `${group} p50 ${fmt(l.p50Ms)} p99 ${fmt(l.p99Ms)} ms`).join(', ');
  log(
    `  ${setup.kind}: ${Math.round(m.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s of ${m.offeredDeliveriesPerSecond.toLocaleString('en-US')} offered, ` +
      `${fmt(m.serverCpuMicrosPerDelivery)} µs server CPU/delivery (${Object.entries(m.cpuMicrosPerDelivery).map(([g, v]) => `${g} ${fmt(v)}`).join(', ')}); ${lat}; ${m.limitedBy}; foreign load ${fmt(m.foreignCores)} cores${m.valid ? '' : ' (INVALID)'}`,
  );
  return m;
}

export async function singleRound(ctx: RunContext, round: number, into: Collected): Promise<void> {
  const node = await startNode('single', ctx.schemas.single);
  try {
    const publisherToken = await tokensFor(ctx, 'single', node, opts.subscribers);
    await ctx.load.clients.send({ cmd: 'fanout', set: 'single', base: node.base, from: 0, count: opts.subscribers, group: 'single', channel: 'bench:1', sampleEvery: 10 });
    await waitSubscriptions(node, opts.subscribers);
    const setup: Setup = { kind: 'single', nodes: [node], publishTo: node, publisherToken, redisPid: undefined };
    into.fanout.push(await fanoutPhases(setup, ctx, round));
  } finally {
    await ctx.load.clients.send({ cmd: 'closeFanout' }).catch(() => undefined);
    await stopNode(node);
  }
}

export async function clusterRound(ctx: RunContext, round: number, into: Collected): Promise<void> {
  const prefix = `bench-cluster:${randomBytes(4).toString('hex')}:`;
  const removeKeys = onCleanup(`delete Redis keys ${prefix}*`, async () => void (await ctx.redis.deletePrefix(prefix)));
  const cluster = { redisUrl: ctx.redis.url, prefix };
  const nodes: NodeHandle[] = [];
  try {
    // Together: one migrates the schema while the other waits on the migration's advisory lock.
    const started = await Promise.allSettled([startNode('A', ctx.schemas.cluster, cluster), startNode('B', ctx.schemas.cluster, cluster)]);
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [a, b] = nodes as [NodeHandle, NodeHandle];
    const publisherToken = await tokensFor(ctx, 'cluster', a, Math.max(opts.subscribers, opts.stormClients));
    const setup: Setup = { kind: 'cluster', nodes: [a, b], publishTo: a, publisherToken, redisPid: ctx.redis.pid };
    if (opts.phases.includes('fanout')) {
      const half = opts.subscribers / 2;
      await ctx.load.clients.send({ cmd: 'fanout', set: 'cluster', base: a.base, from: 0, count: half, group: 'A', channel: 'bench:1', sampleEvery: 10 });
      await ctx.load.clients.send({ cmd: 'fanout', set: 'cluster', base: b.base, from: half, count: half, group: 'B', channel: 'bench:1', sampleEvery: 10 });
      await Promise.all([waitSubscriptions(a, half), waitSubscriptions(b, half)]);
      into.fanout.push(await fanoutPhases(setup, ctx, round));
      await ctx.load.clients.send({ cmd: 'closeFanout' });
    }
    if (opts.phases.includes('storm') && opts.stormClients > 0) {
      const nginx = opts.stormVia === 'nginx' ? await startNginx(a.port, b.port) : undefined;
      try {
        const storm = await runStorm(setup, b, ctx.load, round, stormFrom(), nginx);
        into.storms.push(storm);
        log(
          `  storm: ${storm.recovered.toLocaleString('en-US')}/${storm.clients.toLocaleString('en-US')} recovered via ${storm.via}; all in ${fmt(storm.seconds)} s ` +
            `(p50 ${fmt(storm.p50Seconds)} s, p99 ${fmt(storm.p99Seconds)} s; closes noticed within ${fmt(storm.closesNoticedSeconds)} s); ${storm.attempts} attempts, failed ${JSON.stringify(storm.failed)}` +
            `${Object.keys(storm.recoveryRefused).length > 0 ? `, rec:false ${JSON.stringify(storm.recoveryRefused)}` : ''}; accept-queue drops ${storm.listenDrops ?? 'n/a'}; node A ${fmt(storm.cpuSeconds['node A'])} s CPU; foreign load ${fmt(storm.foreignCores)} cores` +
            `${storm.valid ? '' : ' (INVALID)'}`,
        );
        for (const [kind, count] of Object.entries(storm.nginxErrors)) log(`    nginx ${count}× ${kind}`);
      } finally {
        await ctx.load.clients.send({ cmd: 'closeStorm' }).catch(() => undefined);
        await nginx?.stop();
      }
    }
  } finally {
    await ctx.load.clients.send({ cmd: 'closeFanout' }).catch(() => undefined);
    await Promise.all(nodes.filter((n) => running(n.child)).map((n) => stopNode(n)));
    await removeKeys();
  }
}
