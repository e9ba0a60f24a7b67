import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RecoveryFailure } from '../../protocol/frames';
import { settleAll, type Broker, type BrokerMessage, type BrokerPosition, type HistoryResult } from './broker';
import { describeRedisAddress, quitRedis, redisConnection, type RedisConnectionOptions } from './redis-connection';
import { GapSweeper } from './redis-gap-sweeper';
import {
  channelKeys, decode, defineBrokerScripts, encode, GAP_NOTICE, type BrokerScripts, type ChannelKeys, type ScriptContext,
} from './redis-scripts';

/*
 * The cluster broker. Key layout (every key and pub/sub channel starts with `keyPrefix`):
 *   meta:<channel>  hash {epoch, last, floor, published}   expires positionTtlMs after last use
 *   log:<channel>   stream, ID <offset>-0, {t, p}          expires historyMaxAgeMs + 1 min idle
 *   held:<channel>  zset offset → payload (out of order)   same
 *   pending         zset channel → when its hold began     (one per prefix)
 *   fill:<channel>  SET NX PX lock of the node filling a gap
 *   live:<channel>  pub/sub: JSON publications and gap notices
 * The history is a Stream rather than a sorted set: its IDs are the offsets, so replay
 * (XRANGE from `(since`) and trimming (XTRIM MINID) go by offset, entries are packed compactly,
 * and the append time rides along as a field; a sorted set scored by offset would need the time
 * inside its members, or a second index, to trim by age.
 *
 * Why it is safe. Offsets are assigned by the database in commit order, but nodes publish after
 * their commits and may reach Redis out of order. Every change to a channel is one Lua script,
 * and Redis runs scripts one at a time: checking the offset against the meta, appending to the
 * log and PUBLISHing happen as one step, so a PUBLISH on live:<channel> only ever extends the
 * channel by one offset (or re-announces one the database seed already counted), and every
 * node's subscriber reads them in the order Redis executed them. An offset that arrives before
 * its predecessor waits in held:<channel>; the sweeper fills the gap from `gapSource` or gives
 * up (floor raised, gap notice) after `gapTimeoutMs`. History and meta are read by one script,
 * so a reply is never a torn read. watch() resolves once Redis acknowledged the SUBSCRIBE, so
 * any publication executed after a later history read reaches this node.
 *
 * Redis restart without persistence (or an idle meta expiring): the meta is gone, so the next
 * publish or read starts a new epoch; clients recovering with the old epoch get epoch_changed
 * and resync. The subscriber connection's loss is reported as onGap(undefined) once it is back
 * and resubscribed; a PING heartbeat notices one that died silently. Commands never queue while
 * Redis is away: they fail at once (or after commandTimeoutMs), and the caller decides.
 * Keys of one channel and `pending` live in different hash slots: Redis Cluster is unsupported.
 */

export type RedisBrokerState = 'connecting' | 'ready' | 'reconnecting' | 'closed';
export type RedisBrokerLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A change of the subscriber link's state (see RedisBroker.state for the command connection). */
export interface RedisBrokerStateChange {
  from: RedisBrokerState;
  to: RedisBrokerState;
  reason: string;
}

/** Where Redis is (`url` and/or `redis`) and the connections' timeouts: see RedisConnectionOptions. */
export interface RedisBrokerOptions extends RedisConnectionOptions {
  /** Every key and pub/sub channel starts with it, e.g. 'tandem:'. */
  keyPrefix: string;
  /** This node's name in logs and in CLIENT LIST. */
  nodeId: string;
  /** Most publications kept per channel. Default 1000. */
  historyMaxCount?: number;
  /** Oldest publication kept, in ms. Default 600_000 (10 minutes). */
  historyMaxAgeMs?: number;
  /** How long an unused channel keeps its epoch and position. Default 86_400_000 (a day). */
  positionTtlMs?: number;
  /** Seeds a channel's position from the database on first use (as MemoryBroker's). Default: 0. */
  positionSource?: (channel: string) => Promise<number>;
  /**
   * Committed events a publisher never delivered, with afterOffset < offset <= upToOffset, in any
   * order; may return fewer. Without it, a gap is given up as soon as it times out.
   */
  gapSource?: (channel: string, afterOffset: number, upToOffset: number) => Promise<BrokerMessage[]>;
  /** How long an offset waits for its predecessor before the gap is filled or given up. Default 1000 ms. */
  gapTimeoutMs?: number;
  /**
   * How often the subscriber connection is PINGed: a connection that died silently (no reset
   * from the network) is noticed within heartbeatMs + commandTimeoutMs. Default 5000 ms.
   */
  heartbeatMs?: number;
  /** Default Date.now. Stamps history entries (age trimming) and holds (gap timeout). */
  clock?: () => number;
  /** Makes a new epoch when a channel starts one. Default: a random UUID. */
  newEpoch?: () => string;
  /** Called with whatever a listener throws. Default: a process warning. */
  onListenerError?: (error: unknown) => void;
  /** Structured log lines. Default: warn and error as process warnings, the rest dropped. */
  log?: (level: RedisBrokerLogLevel, msg: string, obj?: Record<string, unknown>) => void;
}

interface Registration<T> {
  readonly listener: (value: T) => void;
}

const EDGES: Readonly<Record<RedisBrokerState, readonly RedisBrokerState[]>> = {
  connecting: ['ready', 'closed'],
  ready: ['reconnecting', 'closed'],
  reconnecting: ['ready', 'closed'],
  closed: [],
};

const WHY = new Set<string>(['epoch_changed', 'never_positioned', 'history_trimmed', 'too_many_missed'] satisfies RecoveryFailure[]);
const SUBSCRIBE_BATCH = 1000;

/**
 * The cluster broker: fanout over Redis pub/sub (one SUBSCRIBE per watched channel per node),
 * history and sequencing in Redis (Lua). Answers history() and position() exactly as
 * MemoryBroker does for the same publications, except that an offset ahead of its predecessor
 * is held, not fanned out, until the predecessor arrives or the gap times out.
 *
 * @example
 *   const broker = await RedisBroker.connect({
 *     url: 'redis://127.0.0.1:6379', keyPrefix: 'tandem:', nodeId: 'node-a',
 *     positionSource: (ch) => readPosition(db, ch), gapSource: (ch, after, upTo) => readOutbox(db, ch, after, upTo),
 *   });
 */
export class RedisBroker implements Broker {
  readonly nodeId: string;
  readonly #prefix: string;
  /** live:<channel> without the channel: what #receive strips from a pub/sub channel's name. */
  readonly #livePrefix: string;
  readonly #where: string;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #scripts: BrokerScripts;
  readonly #limits: { maxCount: number; maxAgeMs: number; logTtlMs: number; metaTtlMs: number };
  readonly #clock: () => number;
  readonly #newEpoch: () => string;
  readonly #positionSource: ((channel: string) => Promise<number>) | undefined;
  readonly #onListenerError: (error: unknown) => void;
  readonly #log: NonNullable<RedisBrokerOptions['log']>;
  readonly #messageListeners = new Set<Registration<BrokerMessage>>();
  readonly #gapListeners = new Set<Registration<string | undefined>>();
  readonly #stateListeners = new Set<Registration<RedisBrokerStateChange>>();
  /** Watched channels → their SUBSCRIBE, shared by concurrent watch() calls. */
  readonly #watched = new Map<string, Promise<void>>();
  readonly #seeding = new Map<string, Promise<number>>();
  #state: RedisBrokerState = 'connecting';
  /** Bumped on every loss of the subscriber link: a resubscription of an older one is dropped. */
  #linkGeneration = 0;
  readonly #heartbeatMs: number;
  readonly #sweeper: GapSweeper;
  #heartbeat: NodeJS.Timeout | undefined;
  /** The newest connection error: ioredis rejects connect() with a vaguer one. */
  #lastError: string | undefined;

  /** Connects both connections; throws an Error naming the Redis address when it is unreachable. */
  static async connect(options: RedisBrokerOptions): Promise<RedisBroker> {
    const broker = new RedisBroker(options);
    try {
      await broker.#open();
    } catch (error) {
      await broker.close();
      const reason = broker.#lastError ?? errorMessage(error);
      throw new Error(`RedisBroker cannot reach Redis at ${broker.#where}: ${reason}`, { cause: error });
    }
    return broker;
  }

  private constructor(options: RedisBrokerOptions) {
    if (options.url === undefined && options.redis === undefined) throw new TypeError('RedisBroker needs `url` or `redis` options');
    this.nodeId = options.nodeId;
    this.#prefix = options.keyPrefix;
    this.#livePrefix = channelKeys(options.keyPrefix, '').live;
    const maxCount = options.historyMaxCount ?? 1000;
    const maxAgeMs = options.historyMaxAgeMs ?? 600_000;
    if (!(maxCount >= 0) || !(maxAgeMs >= 0) || !Number.isFinite(maxAgeMs)) throw new RangeError('history bounds must be non-negative and finite');
    const logTtlMs = Math.ceil(maxAgeMs) + 60_000;
    this.#limits = { maxCount, maxAgeMs, logTtlMs, metaTtlMs: Math.max(options.positionTtlMs ?? 86_400_000, logTtlMs + 60_000) };
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#clock = options.clock ?? Date.now;
    this.#newEpoch = options.newEpoch ?? randomUUID;
    this.#positionSource = options.positionSource;
    this.#onListenerError = options.onListenerError ?? ((error) =>
      process.emitWarning(`A broker listener threw: ${error instanceof Error ? error.message : String(error)}`, { type: 'BrokerListenerError' }));
    this.#log = options.log ?? defaultLog;
    this.#where = describeRedisAddress(options);
    this.#commands = redisConnection({ ...options, autoPipelining: true }, `tandem-broker:${options.nodeId}:cmd`);
    this.#subscriber = redisConnection(options, `tandem-broker:${options.nodeId}:sub`);
    this.#scripts = defineBrokerScripts(this.#commands);
    this.#sweeper = new GapSweeper({
      commands: this.#commands,
      scripts: this.#scripts,
      prefix: this.#prefix,
      gapTimeoutMs: options.gapTimeoutMs ?? 1000,
      gapSource: options.gapSource,
      lockToken: `${options.nodeId}:${randomUUID()}`,
      clock: this.#clock,
      ready: () => this.state() === 'ready',
      context: (channel, keys) => this.#context(channel, keys),
      publish: (message) => this.publish(message),
      log: (level, msg, obj) => this.#log(level, msg, { instance: this.nodeId, ...obj }),
    });
    for (const [redis, role] of [[this.#commands, 'command'], [this.#subscriber, 'subscriber']] as const) {
      redis.on('error', (error: Error) => {
        this.#lastError = error.message;
        this.#log('debug', `redis ${role} connection error`, { instance: this.nodeId, err: error.message });
      });
    }
    this.#subscriber.on('message', (live: string, payload: string) => this.#receive(live, payload));
    this.#subscriber.on('close', () => this.#linkLost());
    this.#subscriber.on('ready', () => void this.#linkBack());
  }

  /** 'ready' when both connections to Redis are; 'reconnecting' while either is not. For /readyz. */
  state(): RedisBrokerState {
    if (this.#state === 'ready' && this.#commands.status !== 'ready') return 'reconnecting';
    return this.#state;
  }

  /** Durable: sequenced by the publish script (maybe held). Ephemeral: just PUBLISHed. Encoded once. */
  async publish(message: BrokerMessage): Promise<void> {
    this.#assertOpen();
    const payload = encode(message);
    if (message.offset === undefined) {
      await this.#commands.publish(this.#livePrefix + message.channel, payload);
      return;
    }
    if (!Number.isSafeInteger(message.offset) || message.offset < 1) throw new RangeError(`offset must be a positive integer, got ${message.offset}`);
    const outcome = await this.#scripts.publish(this.#context(message.channel, this.#keys(message.channel)), message.offset, payload);
    if (outcome === 'held') this.#log('debug', 'offset held until its predecessor arrives', { instance: this.nodeId, channel: message.channel, offset: message.offset });
  }

  /**
   * A commit's durable publications in one pipeline (one write to Redis): they are sequenced back to
   * back and reach every node in one read, so each socket gets them as one message, as on one process.
   * All are tried; the first failure is thrown after.
   */
  async publishAll(messages: readonly BrokerMessage[]): Promise<void> {
    this.#assertOpen();
    if (messages.some((m) => m.offset === undefined)) return settleAll(messages.map((m) => this.publish(m)));
    // Each message is checked and encoded on its own: one that cannot be (a bad offset, data JSON
    // cannot hold) fails alone, and the others still go, in one pipeline.
    const outcomes: Array<string | Error | undefined> = [];
    const batch: Array<{ index: number; context: ScriptContext; offset: number; payload: string }> = [];
    messages.forEach((m, index) => {
      try {
        if (!Number.isSafeInteger(m.offset) || m.offset! < 1) throw new RangeError(`offset must be a positive integer, got ${m.offset}`);
        batch.push({ index, context: this.#context(m.channel, this.#keys(m.channel)), offset: m.offset!, payload: encode(m) });
      } catch (error) {
        outcomes[index] = error instanceof Error ? error : new Error(String(error));
      }
    });
    const results = batch.length === 0 ? [] : await this.#scripts.publishMany(batch);
    batch.forEach(({ index }, i) => (outcomes[index] = results[i]));
    messages.forEach((m, i) => {
      if (outcomes[i] === 'held') this.#log('debug', 'offset held until its predecessor arrives', { instance: this.nodeId, channel: m.channel, offset: m.offset });
    });
    const failure = outcomes.find((o): o is Error => o instanceof Error);
    if (failure !== undefined) throw failure;
  }

  /** Called for each message of a watched channel, published by any node (this one's come back through Redis). */
  onMessage(listener: (message: BrokerMessage) => void): () => void {
    return register(this.#messageListeners, listener);
  }

  async history(channel: string, since: BrokerPosition, limit: number): Promise<HistoryResult> {
    if (!Number.isFinite(since.offset)) throw new RangeError(`since.offset must be finite, got ${since.offset}`);
    const count = Math.max(0, Math.floor(limit));
    const reply = await this.#seeded(channel, (context, seed) => this.#scripts.history(context, seed, since.epoch, since.offset, count));
    const [status, epoch, last, ...payloads] = reply as [string, string, string, ...string[]];
    const position = { epoch, offset: Number(last) };
    if (status === 'ok') return { ok: true, publications: payloads.map((payload) => decode(channel, payload)), ...position };
    if (!WHY.has(status)) throw new Error(`Unexpected history reply from Redis: ${status}`);
    return { ok: false, why: status as RecoveryFailure, ...position };
  }

  async position(channel: string): Promise<BrokerPosition> {
    const [, epoch, last] = (await this.#seeded(channel, (context, seed) => this.#scripts.position(context, seed))) as [string, string, string];
    return { epoch, offset: Number(last) };
  }

  /** One SUBSCRIBE per channel per node; resolves once Redis acknowledged it. Rejects while the link is down. */
  watch(channel: string): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new Error('The broker is closed'));
    if (this.#state !== 'ready') return Promise.reject(new Error(`RedisBroker: the subscriber connection to ${this.#where} is ${this.#state}`));
    const existing = this.#watched.get(channel);
    if (existing !== undefined) return existing;
    const subscribing = this.#subscriber.subscribe(this.#keys(channel).live).then(() => undefined);
    this.#watched.set(channel, subscribing);
    subscribing.catch(() => {
      if (this.#watched.get(channel) === subscribing) this.#watched.delete(channel);
    });
    return subscribing;
  }

  /** Commands on one connection run in order: a watch() after this one subscribes again. */
  unwatch(channel: string): void {
    if (!this.#watched.delete(channel) || this.#state === 'closed') return;
    this.#subscriber.unsubscribe(this.#keys(channel).live).catch((error: unknown) =>
      // Gone with the connection anyway: a reconnection resubscribes only what is watched.
      this.#log('debug', 'unsubscribe failed', { instance: this.nodeId, channel, err: errorMessage(error) }));
  }

  /** Every transition of the subscriber link: connecting → ready ⇄ reconnecting → closed. Returns the remover. */
  /**
   * The newest offset Redis has published on each channel (undefined: Redis knows nothing of it),
   * so an outbox sweeper can find committed events that were never published.
   */
  async publishedOffsets(channels: readonly string[]): Promise<Map<string, number | undefined>> {
    const pipeline = this.#commands.pipeline();
    for (const channel of channels) pipeline.hget(channelKeys(this.#prefix, channel).meta, 'published');
    const results = (await pipeline.exec()) ?? [];
    const offsets = new Map<string, number | undefined>();
    channels.forEach((channel, i) => {
      const [error, value] = results[i] ?? [new Error('no reply'), null];
      if (error) throw error;
      offsets.set(channel, value === null || value === undefined ? undefined : Number(value));
    });
    return offsets;
  }

  onStateChange(listener: (change: RedisBrokerStateChange) => void): () => void {
    return register(this.#stateListeners, listener);
  }

  /** `channel`: a gap was given up there. `undefined`: the subscriber link was lost and is back. */
  onGap(listener: (channel: string | undefined) => void): () => void {
    return register(this.#gapListeners, listener);
  }

  /** Quits both connections and stops the sweeper; nothing of the broker keeps the process alive. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#transition('closed', 'closed by the application');
    this.#sweeper.stop();
    clearInterval(this.#heartbeat);
    this.#messageListeners.clear();
    this.#gapListeners.clear();
    this.#stateListeners.clear();
    this.#watched.clear();
    this.#seeding.clear();
    await Promise.all([quitRedis(this.#commands), quitRedis(this.#subscriber)]);
  }

  async #open(): Promise<void> {
    await Promise.all([this.#commands.connect(), this.#subscriber.connect()]);
    if (!this.#transition('ready', 'connected')) return;
    this.#sweeper.start();
    // An unanswered PING trips socketTimeout: the socket is destroyed and ioredis reconnects.
    this.#heartbeat = setInterval(() => {
      if (this.#subscriber.status === 'ready') this.#subscriber.ping().catch(() => undefined);
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Runs a read script; when the channel has no meta, seeds it and runs it again. */
  async #seeded(channel: string, read: (context: ScriptContext, seed: number | undefined) => Promise<string[]>): Promise<string[]> {
    this.#assertOpen();
    const keys = this.#keys(channel);
    const reply = await read(this.#context(channel, keys), undefined);
    if (reply[0] !== 'missing') return reply;
    const seed = await this.#seed(channel);
    this.#assertOpen();
    return read(this.#context(channel, keys), seed);
  }

  /**
   * The database position, read once per node while the channel has no meta: the promise is
   * shared until the seed script has run, so a 'missing' answered meanwhile does not read again.
   */
  #seed(channel: string): Promise<number> {
    const source = this.#positionSource;
    if (source === undefined) return Promise.resolve(0);
    const pending = this.#seeding.get(channel);
    if (pending !== undefined) return pending;
    const seeding = Promise.resolve()
      .then(() => source(channel))
      .then(async (seed) => {
        await this.#scripts.position(this.#context(channel, this.#keys(channel)), seed);
        return seed;
      })
      .finally(() => {
        if (this.#seeding.get(channel) === seeding) this.#seeding.delete(channel);
      });
    this.#seeding.set(channel, seeding);
    return seeding;
  }

  #receive(live: string, payload: string): void {
    const channel = live.slice(this.#livePrefix.length);
    if (!this.#watched.has(channel)) return;
    if (payload === GAP_NOTICE) {
      this.#log('info', 'a gap was given up: subscribers must recover', { instance: this.nodeId, channel });
      return this.#emit(this.#gapListeners, channel);
    }
    let message: BrokerMessage;
    try {
      message = decode(channel, payload);
    } catch (error) {
      return this.#log('warn', 'undecodable message on a broker channel', { instance: this.nodeId, channel, err: errorMessage(error) });
    }
    this.#emit(this.#messageListeners, message);
  }

  #emit<T>(registrations: Set<Registration<T>>, value: T): void {
    for (const registration of registrations) {
      try {
        registration.listener(value);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  #linkLost(): void {
    this.#linkGeneration += 1;
    this.#transition('reconnecting', 'the subscriber connection closed');
  }

  /** Resubscribes what is watched, then reports the outage: messages may have been missed meanwhile. */
  async #linkBack(): Promise<void> {
    if (this.#state !== 'reconnecting') return;
    const generation = this.#linkGeneration;
    try {
      const channels = [...this.#watched.keys()].map((channel) => this.#keys(channel).live);
      for (let i = 0; i < channels.length; i += SUBSCRIBE_BATCH) await this.#subscriber.subscribe(...channels.slice(i, i + SUBSCRIBE_BATCH));
    } catch (error) {
      if (generation !== this.#linkGeneration || this.#state !== 'reconnecting') return;
      this.#log('warn', 'resubscribing failed: reconnecting again', { instance: this.nodeId, err: errorMessage(error) });
      this.#subscriber.disconnect(true);
      return;
    }
    if (generation !== this.#linkGeneration || !this.#transition('ready', 'resubscribed')) return;
    this.#emit(this.#gapListeners, undefined);
  }

  #transition(to: RedisBrokerState, reason: string): boolean {
    const from = this.#state;
    if (!EDGES[from].includes(to)) return false;
    this.#state = to;
    this.#log(to === 'reconnecting' ? 'warn' : 'info', `redis broker ${from} -> ${to}`, { instance: this.nodeId, reason, redis: this.#where });
    this.#emit(this.#stateListeners, { from, to, reason });
    return true;
  }

  #keys(channel: string): ChannelKeys {
    return channelKeys(this.#prefix, channel);
  }

  #context(channel: string, keys: ChannelKeys): ScriptContext {
    return { channel, keys, now: this.#clock(), newEpoch: this.#newEpoch(), ...this.#limits };
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new Error('The broker is closed');
  }
}

function register<T>(registrations: Set<Registration<T>>, listener: (value: T) => void): () => void {
  // A wrapper object, so one function can be registered (and removed) more than once.
  const registration = { listener };
  registrations.add(registration);
  return () => {
    registrations.delete(registration);
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function defaultLog(level: RedisBrokerLogLevel, msg: string, obj?: Record<string, unknown>): void {
  if (level === 'warn' || level === 'error') process.emitWarning(`${msg} ${JSON.stringify(obj ?? {})}`, { type: 'RedisBroker' });
}
