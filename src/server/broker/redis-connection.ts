import { Redis, type RedisOptions } from 'ioredis';

/** How a node reaches Redis: a URL and/or ioredis options, with its fail-fast bounds. */
export interface RedisConnectionOptions {
  /** A redis:// URL. Give it, `redis`, or both (the URL wins where they overlap). */
  url?: string | undefined;
  /** ioredis options (host, port, tls, password…); the fail-fast settings below are forced over them. */
  redis?: RedisOptions | undefined;
  /** A command without a reply for this long fails. Default 1000 ms. */
  commandTimeoutMs?: number | undefined;
  /** A connection attempt failing after this long. Default 2000 ms. */
  connectTimeoutMs?: number | undefined;
  /** Longest wait between reconnection attempts (full jitter below it). Default 2000 ms. */
  reconnectCapMs?: number | undefined;
  /**
   * Commands issued in the same event-loop turn go out in one write (ioredis auto-pipelining). For
   * a command connection under load (a reconnect storm issues a few commands per client): one
   * socket write per turn instead of one per command. Never for a subscriber connection.
   */
  autoPipelining?: boolean | undefined;
}

/**
 * One connection that fails fast: no offline queue, no retried commands, no automatic
 * resubscription (the owner decides what a lost link means), and reconnection with full jitter
 * under an exponential ceiling, so nodes coming back do not reconnect in step. Lazy: call connect().
 * `name` shows in CLIENT LIST.
 */
export function redisConnection(options: RedisConnectionOptions, name: string): Redis {
  const capMs = options.reconnectCapMs ?? 2000;
  const commandTimeout = options.commandTimeoutMs ?? 1000;
  const settings: RedisOptions = {
    connectTimeout: options.connectTimeoutMs ?? 2000,
    // A command unanswered this long fails, and its socket (hung, not just slow) is replaced.
    commandTimeout,
    socketTimeout: commandTimeout,
    retryStrategy: (attempt) => 10 + Math.random() * Math.min(capMs, 50 * 2 ** Math.min(attempt, 16)),
    ...options.redis,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    // Keys and pub/sub channels are prefixed by their owners (ioredis would prefix keys but not channels).
    keyPrefix: undefined,
    connectionName: name,
    enableAutoPipelining: options.autoPipelining === true,
  };
  return options.url === undefined ? new Redis(settings) : new Redis(options.url, settings);
}

/** QUIT when possible, then drop the socket: nothing is left to keep the process alive. */
export async function quitRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => undefined);
  redis.disconnect();
}

/** The address for messages, without a password. */
export function describeRedisAddress({ url: text, redis = {} }: RedisConnectionOptions): string {
  if (text === undefined) return redis.path ?? `${redis.host ?? 'localhost'}:${redis.port ?? 6379}`;
  try {
    const url = new URL(text);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(an invalid Redis URL)';
  }
}
