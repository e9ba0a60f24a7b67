import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { MemoryBroker, RedisBroker, type Broker, type BrokerMessage } from '../broker';
import type { Kysely } from 'kysely';
import type { TandemConfig } from '../config/config';
import type { TandemTables } from '../store/database';
import { OutboxRepublisher } from './outbox-republisher';
import { RedisCluster } from './redis-cluster';

/**
 * What carries realtime between the parts of a server: one process (the memory broker), or a node
 * of a cluster (the Redis broker, plus RedisCluster for presence, revocations and connection caps).
 */
export interface Backbone {
  readonly broker: Broker;
  /** Present on a cluster node. */
  readonly cluster: RedisCluster | undefined;
  /** The epoch a REST answer reports for `channel` (one per process; per channel on a cluster). */
  epochOf(channel: string): Promise<string>;
  /** For /readyz: whether the broker and the cluster link are up, and if not, why. */
  health(): { ok: true } | { ok: false; reason: string };
  close(): Promise<void>;
}

export interface BackboneOptions {
  config: Pick<TandemConfig<unknown>, 'cluster' | 'realtime'>;
  /** The channel's position in the database (seeds a channel the broker does not know). */
  positionSource(channel: string): Promise<number>;
  /** Committed events the broker never received, from the outbox (a cluster only). */
  gapSource(channel: string, after: number, upTo: number): Promise<BrokerMessage[]>;
  /** The store, for the outbox republisher (a cluster only). */
  db: Kysely<TandemTables>;
  clock: () => number;
  log: FastifyBaseLogger;
}

// Short epochs: they travel in every subscribe answer and recovery request.
const newEpoch = () => randomBytes(6).toString('base64url');

export async function openBackbone(options: BackboneOptions): Promise<Backbone> {
  const { config, clock, log } = options;
  const { realtime, cluster: settings } = config;
  if (settings.redisUrl === undefined) {
    const broker = new MemoryBroker({
      historyMaxCount: realtime.historyMaxCount,
      historyMaxAgeMs: realtime.historyMaxAgeMs,
      positionSource: options.positionSource,
      newEpoch,
      clock,
    });
    return {
      broker,
      cluster: undefined,
      // One epoch for every channel: no per-channel lookup (or state) per GET.
      epochOf: async () => broker.epoch,
      health: () => ({ ok: true }),
      close: () => broker.close(),
    };
  }
  const cluster = new RedisCluster({ url: settings.redisUrl, prefix: settings.redisPrefix, nodeId: settings.nodeId, nodeTtlMs: settings.nodeTtlMs, log: log });
  await cluster.connect();
  let broker: RedisBroker;
  try {
    broker = await RedisBroker.connect({
      url: settings.redisUrl,
      keyPrefix: settings.redisPrefix,
      nodeId: cluster.instance,
      historyMaxCount: realtime.historyMaxCount,
      historyMaxAgeMs: realtime.historyMaxAgeMs,
      positionSource: options.positionSource,
      gapSource: options.gapSource,
      gapTimeoutMs: settings.gapTimeoutMs,
      newEpoch,
      clock,
      log: (level, msg, obj) => log[level]({ ...obj }, msg),
    });
  } catch (error) {
    await cluster.close();
    throw error;
  }
  const republisher = new OutboxRepublisher({
    db: options.db,
    broker,
    redis: cluster.redis,
    prefix: settings.redisPrefix,
    intervalMs: Math.max(250, settings.gapTimeoutMs),
    lookbackMs: Math.max(10_000, settings.gapTimeoutMs * 10),
    catchUpMs: realtime.historyMaxAgeMs,
    clock,
    log: log,
  });
  return {
    broker,
    cluster,
    epochOf: epochCache(broker, clock),
    health() {
      const link = cluster.health();
      if (!link.ok) return { ok: false, reason: link.reason ?? 'redis' };
      const state = broker.state();
      return state === 'ready' ? { ok: true } : { ok: false, reason: `broker ${state}` };
    },
    async close() {
      republisher.close();
      await broker.close();
      await cluster.close();
    },
  };
}

/** A REST answer's epoch when Redis cannot say: a client subscribing from it is told `epoch_changed` and resyncs. */
export const UNKNOWN_EPOCH = 'unknown';
const EPOCH_TTL_MS = 1_000;
const EPOCH_CACHE_SIZE = 10_000;

/**
 * Channel epochs for REST answers, from Redis at most once a second per channel (an epoch changes
 * only when Redis lost the channel; a stale one costs the client one `epoch_changed` and a refetch).
 * While Redis is away REST still answers, with the last epoch known or UNKNOWN_EPOCH.
 */
function epochCache(broker: RedisBroker, clock: () => number): (channel: string) => Promise<string> {
  const known = new Map<string, { epoch: string; at: number }>();
  return async (channel) => {
    const now = clock();
    const cached = known.get(channel);
    if (cached !== undefined && now - cached.at < EPOCH_TTL_MS) return cached.epoch;
    let epoch: string;
    try {
      epoch = (await broker.position(channel)).epoch;
    } catch {
      return cached?.epoch ?? UNKNOWN_EPOCH;
    }
    known.delete(channel);
    known.set(channel, { epoch, at: now });
    if (known.size > EPOCH_CACHE_SIZE) known.delete(known.keys().next().value as string);
    return epoch;
  };
}
