import net from 'node:net';

/** True when something accepts TCP connections at host:port within the timeout. */
export function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const POSTGRES_URL = process.env.TANDEM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether tests that need PostgreSQL should run. Without it they skip loudly, except under
 * CI=true, where a missing service is a failure (CI must start what its tests need).
 */
export async function postgresAvailable(): Promise<boolean> {
  const url = new URL(POSTGRES_URL);
  if (await reachable(url.hostname, Number(url.port || 5432))) return true;
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true but ${url.host} is unreachable`);
  process.stderr.write(`\n!!! SKIPPING PostgreSQL tests: nothing listens at ${url.host} (set TANDEM_TEST_DATABASE_URL)\n\n`);
  return false;
}

export const REDIS_URL = process.env.TANDEM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Like postgresAvailable, for Redis (TANDEM_TEST_REDIS_URL, default 127.0.0.1:6379). */
export async function redisAvailable(): Promise<boolean> {
  const url = new URL(REDIS_URL);
  if (await reachable(url.hostname, Number(url.port || 6379))) return true;
  if (process.env.CI === 'true') throw new Error(`Redis is required under CI=true but ${url.host} is unreachable`);
  process.stderr.write(`\n!!! SKIPPING Redis tests: nothing listens at ${url.host} (set TANDEM_TEST_REDIS_URL)\n\n`);
  return false;
}

/** Deletes every Redis key under `prefix` (a test's own). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
