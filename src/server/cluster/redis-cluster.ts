import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { describeRedisAddress, quitRedis, redisConnection } from '../broker/redis-connection';
import type { PresenceUser } from '../../protocol/frames';
import type { PresenceChange, PresenceExchange } from '../hub';
import { LimitExchange } from './limit-exchange';

/**
 * What nodes of one cluster share besides the broker's channels, over Redis: which nodes are
 * alive, presence entries per node, session revocations, and per-user connection counts.
 *
 * Keys (all under `prefix`):
 * - `nodes`: sorted set, node → last heartbeat (Redis' own clock, so nodes' clocks never matter).
 *   A node missing heartbeats for `nodeTtlMs` is dead: its presence and connection counts stop
 *   counting everywhere, and whoever reads them next deletes them.
 * - `pres:<node>:<channel>`: hash, user id → name: that node's users of the channel.
 * - `conns:<user>`: hash, node → that user's connections on the node.
 * - pub/sub `control`: revocations; `presence`: join/leave of one node's user on one channel;
 *   `limits`: what each node's rate limiters spent (LimitExchange).
 *
 * A node's id in logs and metrics is `nodeId`; in Redis it is `nodeId` plus a random suffix per
 * process (`instance`), so a restarted node never inherits its predecessor's entries.
 */
export interface RedisClusterOptions {
  /** redis:// URL. */
  url: string;
  /** Every key and pub/sub channel starts with it. */
  prefix: string;
  nodeId: string;
  /** A node silent this long is dead. Default 5000 ms. */
  nodeTtlMs?: number;
  /** Heartbeat (and dead-node check) interval. Default nodeTtlMs / 5. */
  heartbeatMs?: number;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

type ControlMessage = { t: 'revoked'; s: string; r: string };
type PresenceMessage = { n: string; c: string; k: 'join' | 'leave'; u: PresenceUser };

const ENTRY_TTL_MS = 86_400_000;

// Heartbeat: records this node, answers the live nodes, by Redis' clock.
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * tonumber(ARGV[2]))
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')`;

// Takes one of a user's connection slots if the live nodes together hold fewer than the cap.
// KEYS: conns:<user>, nodes. ARGV: instance, cap, ttlMs.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local counts = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #counts, 2 do
  local seen = redis.call('ZSCORE', KEYS[2], counts[i])
  if seen and tonumber(seen) >= now - tonumber(ARGV[3]) then total = total + tonumber(counts[i + 1])
  else redis.call('HDEL', KEYS[1], counts[i]) end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ${ENTRY_TTL_MS})
return 1`;

const RELEASE = `
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left`;

/** One node's link to the cluster. `connect()` it; `close()` it after the server stopped. */
export class RedisCluster {
  readonly nodeId: string;
  readonly instance: string;
  readonly presence: PresenceExchange;
  /** Rate limits shared by the nodes: `limits.share(name, limiter)`. */
  readonly limits: LimitExchange;
  readonly #options: Required<Omit<RedisClusterOptions, 'log'>> & Pick<RedisClusterOptions, 'log'>;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #revokedListeners = new Set<(sessionId: string, reason: string) => void>();
  readonly #presenceListeners = new Set<(change: PresenceChange) => void>();
  /** This node's presence entries, so they can be written again after Redis lost them. */
  readonly #mine = new Map<string, Map<number, PresenceUser>>();
  #live = new Set<string>();
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #lostLink = false;
  /** A presence write failed: this node's entries are written again once Redis answers. */
  #dirty = false;

  constructor(options: RedisClusterOptions) {
    const nodeTtlMs = options.nodeTtlMs ?? 5000;
    this.#options = { nodeTtlMs, heartbeatMs: options.heartbeatMs ?? Math.max(50, Math.floor(nodeTtlMs / 5)), ...options };
    this.nodeId = options.nodeId;
    this.instance = `${options.nodeId}.${randomBytes(4).toString('hex')}`;
    this.#commands = redisConnection({ url: options.url, autoPipelining: true }, `tandem-cluster:${options.nodeId}:cmd`);
    this.#subscriber = redisConnection({ url: options.url }, `tandem-cluster:${options.nodeId}:sub`);
    this.#commands.defineCommand('tandemHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    this.#commands.defineCommand('tandemAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    this.#commands.defineCommand('tandemRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#receive(channel.toString(), message.toString()));
    this.#commands.on('error', () => undefined);
    this.#subscriber.on('error', () => undefined);
    this.#subscriber.on('close', () => {
      if (!this.#closed) this.#lostLink = true;
    });
    this.#subscriber.on('ready', () => {
      if (!this.#lostLink || this.#closed) return;
      this.#lostLink = false;
      this.#options.log?.info({ node: this.nodeId }, 'cluster link to Redis is back');
      void this.#subscriber.subscribe(...this.#channels()).catch(() => undefined);
      this.#dirty = true;
    });
    this.limits = new LimitExchange({ instance: this.instance, publish: (payload) => this.#commands.publish(this.#key('limits'), payload) });
    this.presence = {
      nodeId: this.instance,
      publish: (channel, kind, user) => this.#publishPresence(channel, kind, user),
      snapshot: (channel) => this.#snapshot(channel),
      onChange: (listener) => {
        this.#presenceListeners.add(listener);
        return () => this.#presenceListeners.delete(listener);
      },
    };
  }

  /** Connects, subscribes to the control channels and starts the heartbeat; throws naming the URL when Redis is unreachable. */
  async connect(): Promise<void> {
    try {
      await Promise.all([this.#commands.connect(), this.#subscriber.connect()]);
      await this.#subscriber.subscribe(...this.#channels());
      await this.#beat();
    } catch (error) {
      await this.close();
      throw new Error(`Cannot reach Redis at ${describeRedisAddress({ url: this.#options.url })}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    this.#heartbeat = setInterval(() => void this.#beat().catch(() => undefined), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Tells every node (this one included) that a session was revoked. */
  async announceRevoked(sessionId: string, reason: string): Promise<void> {
    await this.#commands.publish(this.#key('control'), JSON.stringify({ t: 'revoked', s: sessionId, r: reason } satisfies ControlMessage));
  }

  onRevoked(listener: (sessionId: string, reason: string) => void): () => void {
    this.#revokedListeners.add(listener);
    return () => this.#revokedListeners.delete(listener);
  }

  /** Takes one of the user's connection slots cluster-wide; false when the live nodes hold `cap` already. */
  async acquireConnection(userId: number, cap: number): Promise<boolean> {
    const taken = await (this.#commands as unknown as ClusterCommands).tandemAcquire(this.#key(`conns:${userId}`), this.#key('nodes'), this.instance, cap, this.#options.nodeTtlMs);
    return taken === 1;
  }

  releaseConnection(userId: number): void {
    void (this.#commands as unknown as ClusterCommands).tandemRelease(this.#key(`conns:${userId}`), this.instance).catch(() => undefined);
  }

  /** For /readyz: down when Redis has not answered a heartbeat for a node TTL. */
  health(): { ok: boolean; reason?: string } {
    if (this.#closed) return { ok: false, reason: 'closed' };
    if (this.#commands.status !== 'ready' || this.#subscriber.status !== 'ready') return { ok: false, reason: `redis ${this.#commands.status}` };
    return { ok: true };
  }

  /** The command connection (fails fast while Redis is away), for other cluster-wide state. */
  get redis(): Redis {
    return this.#commands;
  }

  /** The live nodes' instance ids, as of the last heartbeat. */
  liveNodes(): string[] {
    return [...this.#live];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.limits.close();
    this.#revokedListeners.clear();
    this.#presenceListeners.clear();
    // Leave at once rather than after the TTL: the other nodes drop this node's users now.
    if (this.#commands.status === 'ready') {
      await this.#commands.zrem(this.#key('nodes'), this.instance).catch(() => undefined);
      await this.#commands.publish(this.#key('presence'), JSON.stringify({ n: this.instance, gone: true })).catch(() => undefined);
    }
    await Promise.all([quitRedis(this.#commands), quitRedis(this.#subscriber)]);
  }

  #channels(): string[] {
    return [this.#key('control'), this.#key('presence'), this.#key('limits')];
  }

  async #beat(): Promise<void> {
    const live = (await (this.#commands as unknown as ClusterCommands).tandemHeartbeat(this.#key('nodes'), this.instance, this.#options.nodeTtlMs)) as string[];
    if (this.#dirty) {
      this.#dirty = false;
      void this.#rewriteMine();
    }
    const now = new Set(live);
    for (const node of this.#live) if (!now.has(node)) this.#nodeGone(node);
    this.#live = now;
  }

  #nodeGone(node: string): void {
    if (node === this.instance) return;
    for (const listener of this.#presenceListeners) listener({ kind: 'node_gone', node });
  }

  #publishPresence(channel: string, kind: 'join' | 'leave', user: PresenceUser): void {
    let users = this.#mine.get(channel);
    if (kind === 'join') {
      if (users === undefined) this.#mine.set(channel, (users = new Map()));
      users.set(user.id, user);
    } else if (users !== undefined) {
      users.delete(user.id);
      if (users.size === 0) this.#mine.delete(channel);
    }
    const key = this.#key(`pres:${this.instance}:${channel}`);
    const write = kind === 'join'
      ? this.#commands.multi().hset(key, String(user.id), user.n).pexpire(key, ENTRY_TTL_MS)
      : this.#commands.multi().hdel(key, String(user.id));
    write.publish(this.#key('presence'), JSON.stringify({ n: this.instance, c: channel, k: kind, u: user } satisfies PresenceMessage)).exec().catch(() => {
      // Redis is away: the entries are rewritten from #mine after the next heartbeat that succeeds.
      this.#dirty = true;
    });
  }

  /** Every live node's users of `channel`; a dead node's entries found on the way are deleted. */
  async #snapshot(channel: string): Promise<Array<{ node: string; user: PresenceUser }>> {
    // The live set as of now, not of the last heartbeat: a node that just started counts already.
    await this.#beat();
    const entries: Array<{ node: string; user: PresenceUser }> = [];
    for (const user of this.#mine.get(channel)?.values() ?? []) entries.push({ node: this.instance, user });
    const others = [...this.#live].filter((node) => node !== this.instance);
    if (others.length === 0) return entries;
    const pipeline = this.#commands.pipeline();
    for (const node of others) pipeline.hgetall(this.#key(`pres:${node}:${channel}`));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, value], index) => {
      if (error !== null) throw error;
      for (const [id, n] of Object.entries(value as Record<string, string>)) entries.push({ node: others[index]!, user: { id: Number(id), n } });
    });
    return entries;
  }

  /** After Redis came back (perhaps empty): this node's entries are written again. */
  async #rewriteMine(): Promise<void> {
    const pipeline = this.#commands.pipeline();
    for (const [channel, users] of this.#mine) {
      const key = this.#key(`pres:${this.instance}:${channel}`);
      pipeline.del(key);
      for (const user of users.values()) pipeline.hset(key, String(user.id), user.n);
      pipeline.pexpire(key, ENTRY_TTL_MS);
    }
    await pipeline.exec().catch((err: unknown) => {
      this.#dirty = true;
      this.#options.log?.warn({ err }, 'rewriting presence entries failed');
    });
  }

  #receive(channel: string, raw: string): void {
    if (channel === this.#key('limits')) return this.limits.receive(raw);
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (channel === this.#key('control')) {
      const control = message as ControlMessage;
      if (control.t === 'revoked') for (const listener of this.#revokedListeners) listener(control.s, control.r);
      return;
    }
    const change = message as PresenceMessage & { gone?: true };
    if (change.n === this.instance) return;
    if (change.gone === true) {
      this.#live.delete(change.n);
      return this.#nodeGone(change.n);
    }
    for (const listener of this.#presenceListeners) listener({ kind: change.k, channel: change.c, node: change.n, user: change.u });
  }

  #key(name: string): string {
    return `${this.#options.prefix}${name}`;
  }
}

interface ClusterCommands {
  tandemHeartbeat(key: string, instance: string, ttlMs: number): Promise<unknown>;
  tandemAcquire(conns: string, nodes: string, instance: string, cap: number, ttlMs: number): Promise<number>;
  tandemRelease(conns: string, instance: string): Promise<number>;
}
