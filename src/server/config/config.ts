import os from 'node:os';
import path from 'node:path';
import { ConfigError, listSettings, readSettings, setting, type Setting, type SettingsOf, type SettingsSpec } from './settings';

const { integer, boolean, string, oneOf, secret, origins, trustProxy } = setting;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const MS_DAY = 86_400_000;

/**
 * A service URL setting (undefined when unset). `problemOf` names what is wrong with a value; a bad
 * one is named without echoing it, since such URLs usually carry a password.
 */
function serviceUrl(env: string, doc: string, expected: string, problemOf: (url: URL) => string | undefined): Setting<string | undefined> {
  return {
    env,
    doc,
    shown: '',
    read(raw, problems) {
      if (raw === undefined) return undefined;
      let problem: string | undefined;
      try {
        problem = problemOf(new URL(raw));
      } catch {
        problem = 'not a URL';
      }
      if (problem === undefined) return raw;
      problems.push(`${env}: ${problem} (expected ${expected})`);
      return undefined;
    },
  };
}

/** DATABASE_URL: a postgres:// (or postgresql://) URL. */
function postgresUrlProblem(url: URL): string | undefined {
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return `the scheme must be postgres: or postgresql:, got ${url.protocol}`;
  // A Unix socket is named by ?host=/path instead of a host name.
  if (url.hostname === '' && !(url.searchParams.get('host') ?? '').startsWith('/')) return 'no host';
  if (url.pathname.slice(1).includes('/')) return 'the path must be the database name alone';
  return undefined;
}

/** TANDEM_REDIS_URL: a redis:// (or rediss://) URL. */
function redisUrlProblem(url: URL): string | undefined {
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `the scheme must be redis: or rediss:, got ${url.protocol}`;
  if (url.hostname === '') return 'no host';
  return undefined;
}

/**
 * Every setting of the library, by area, read from the environment once at start. An app's own
 * settings are declared the same way (defineApp's `settings`) and land in `config.app`. The README's
 * settings table is rendered from these declarations (`npm run docs:generate`).
 */
export const librarySettings = {
  http: {
    port: integer('PORT', 3000, { min: 0, max: 65535 }, 'port to listen on'),
    host: string('HOST', 'localhost', 'address to listen on (`0.0.0.0` for every interface)'),
    corsOrigins: origins('TANDEM_CORS_ORIGINS', 'comma-separated origins allowed to call the API and open realtime connections from a browser'),
    bodyLimitBytes: integer('TANDEM_BODY_LIMIT', 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }, 'largest request body, bytes'),
    rateLimitPerMinute: integer('TANDEM_RATE_LIMIT', 600, { min: 1, max: 10_000_000 }, 'requests per minute per IP (REST; on a cluster, for all nodes together)'),
    rateLimitBurst: integer('TANDEM_RATE_LIMIT_BURST', 120, { min: 1, max: 10_000_000 }, 'burst of requests per IP above that rate'),
    trustProxy: trustProxy('TANDEM_TRUST_PROXY', 'whose `X-Forwarded-For` to believe: the proxies\' addresses or CIDRs (`127.0.0.1`, `10.0.0.0/8,loopback`), a hop count, or `true` (any client could then claim any address)'),
    hsts: boolean('TANDEM_HSTS', false, 'send `Strict-Transport-Security` (only where TLS is served)'),
    metricsToken: secret('TANDEM_METRICS_TOKEN', 16, 'when set, `/metrics` answers only `Authorization: Bearer <token>` (default: open, for a scraper on a private network)'),
    shutdownTimeoutMs: integer('TANDEM_SHUTDOWN_TIMEOUT', 10_000, { min: 0, max: 600_000 }, 'ms to drain on SIGTERM before exiting anyway'),
  },
  store: {
    dataDir: string('TANDEM_DATA_DIR', './data', 'folder of the SQLite file (created and migrated on first start); unused with `DATABASE_URL`'),
    databaseUrl: serviceUrl('DATABASE_URL', 'PostgreSQL instead of the embedded SQLite: `postgres://user:password@host:5432/database`, migrated on start (once, however many nodes start together); `?options=-c search_path=<schema>` picks a schema', 'postgres://user:password@host:5432/database', postgresUrlProblem),
    postgresPoolSize: integer('TANDEM_PG_POOL_SIZE', 10, { min: 1, max: 1_000 }, 'PostgreSQL connections per node'),
    postgresConnectTimeoutMs: integer('TANDEM_PG_CONNECT_TIMEOUT_MS', 5_000, { min: 100, max: 120_000 }, 'how long a request waits for a PostgreSQL connection before it answers 503 `unavailable`, ms'),
    postgresStatementTimeoutMs: integer('TANDEM_PG_STATEMENT_TIMEOUT_MS', 30_000, { min: 0, max: 3_600_000 }, 'PostgreSQL cancels a statement running longer than this, ms (`0`: never; migrations are exempt)'),
  },
  cluster: {
    redisUrl: serviceUrl('TANDEM_REDIS_URL', 'run as one node of a cluster: the Redis broker (fanout, history), presence, revocations, per-user connection caps and login limits shared through this Redis; use with `DATABASE_URL`', 'redis://[user:password@]host:6379[/db], or rediss:// for TLS', redisUrlProblem),
    redisPrefix: string('TANDEM_REDIS_PREFIX', 'tandem:', 'prefix of every Redis key and pub/sub channel of this cluster'),
    nodeId: string('TANDEM_NODE_ID', '', 'this node\'s name in logs, metrics and `/readyz` (default: host name and process id)'),
    nodeTtlMs: integer('TANDEM_NODE_TTL_MS', 5_000, { min: 500, max: 600_000 }, 'a node silent this long is dead: its users leave presence, its connections stop counting'),
    gapTimeoutMs: integer('TANDEM_GAP_TIMEOUT_MS', 1_000, { min: 50, max: 600_000 }, 'how long a publication waits for an earlier offset committed on another node before that offset is read from the outbox (or given up)'),
  },
  auth: {
    jwtSecret: secret('TANDEM_JWT_SECRET', 32, 'HS256 signing secret, at least 32 characters (default: generated once and kept in the store)'),
    accessTokenTtlSeconds: integer('TANDEM_ACCESS_TOKEN_TTL', 900, { min: 10, max: 86_400 }, 'access token lifetime, seconds'),
    refreshTokenTtlSeconds: integer('TANDEM_REFRESH_TOKEN_TTL', 30 * 86_400, { min: 60, max: 365 * 86_400 }, 'refresh token lifetime, seconds'),
    loginAttemptsPerIp: integer('TANDEM_LOGIN_LIMIT_IP', 20, { min: 1, max: 100_000 }, 'login attempts per IP per window, whatever the account'),
    loginFailuresPerAccount: integer('TANDEM_LOGIN_LIMIT_ACCOUNT', 5, { min: 1, max: 100_000 }, 'failed logins of one account from one IP before that IP is locked out of it (the lock doubles with each further failure, up to the window)'),
    loginWindowSeconds: integer('TANDEM_LOGIN_WINDOW', 900, { min: 1, max: 86_400 }, 'the login limits\' window, seconds'),
  },
  realtime: {
    heartbeatIntervalMs: integer('TANDEM_WS_HEARTBEAT_MS', 25_000, { min: 100, max: 600_000 }, 'realtime ping interval; a peer silent for two is dropped'),
    authTimeoutMs: integer('TANDEM_WS_AUTH_TIMEOUT_MS', 5_000, { min: 100, max: 120_000 }, 'time to send the `auth` frame after connecting, ms'),
    maxPayloadBytes: integer('TANDEM_WS_MAX_PAYLOAD', 64 * 1024, { min: 1024, max: 16 * 1024 * 1024 }, 'largest inbound message (WebSocket) or POST of frames (SSE), bytes'),
    maxConnectionsPerIp: integer('TANDEM_WS_CONNECTIONS_PER_IP', 50, { min: 1, max: 10_000_000 }, 'open realtime connections per IP (WebSocket and SSE together)'),
    maxConnectionsPerUser: integer('TANDEM_WS_CONNECTIONS_PER_USER', 10, { min: 1, max: 10_000_000 }, 'open realtime connections per user'),
    handshakesPerIpPerSecond: integer('TANDEM_WS_HANDSHAKES_PER_IP', 10, { min: 1, max: 10_000_000 }, 'new realtime connections per IP per second, bursts of twice that (on a cluster, for all nodes together)'),
    newConnectionsPerSecond: integer('TANDEM_WS_NEW_CONNECTIONS_PER_SECOND', 1_000, { min: 1, max: 10_000_000 }, 'new realtime connections per second, node-wide (a reconnect storm is admitted at this pace; a WebSocket handshake over it waits up to 2 s for its turn, then 503)'),
    maxSubscriptionsPerConnection: integer('TANDEM_WS_SUBSCRIPTIONS_PER_CONNECTION', 100, { min: 1, max: 100_000 }, 'channels one connection may subscribe to'),
    messagesPerSecond: integer('TANDEM_WS_MESSAGES_PER_SECOND', 20, { min: 1, max: 10_000_000 }, 'inbound frames per connection per second, sustained'),
    messageBurst: integer('TANDEM_WS_MESSAGE_BURST', 40, { min: 1, max: 10_000_000 }, 'inbound frames per connection in a burst; past it frames are dropped, and as many drops again close with 4503'),
    maxInvalidFrames: integer('TANDEM_WS_INVALID_FRAMES', 10, { min: 0, max: 100_000 }, 'invalid frames tolerated before closing with 4010'),
    outboundBufferBytes: integer('TANDEM_WS_OUTBOUND_BUFFER', 1024 * 1024, { min: 16 * 1024, max: 1024 * 1024 * 1024 }, 'outbound bytes queued per connection before ephemeral frames drop and a durable one closes with 4500'),
    expiryWarningSeconds: integer('TANDEM_WS_EXPIRY_WARNING_SECONDS', 60, { min: 1, max: 86_400 }, 'seconds before the access token expires that the server sends `exp`'),
    expiredGraceMs: integer('TANDEM_WS_EXPIRED_GRACE_MS', 5_000, { min: 0, max: 600_000 }, 'how long a connection may stay after its token expired, to refresh it, before closing with 4501'),
    historyMaxCount: integer('TANDEM_HISTORY_SIZE', 1000, { min: 0, max: 1_000_000 }, 'publications kept per channel for recovery'),
    historyMaxAgeMs: integer('TANDEM_HISTORY_AGE_MS', 600_000, { min: 0, max: 7 * MS_DAY }, 'oldest publication kept for recovery, ms'),
    maxRecoveryCount: integer('TANDEM_RECOVERY_MAX', 500, { min: 0, max: 1_000_000 }, 'most publications replayed on one subscribe; more missed answers `too_many_missed`'),
    presenceGraceMs: integer('TANDEM_PRESENCE_GRACE_MS', 5_000, { min: 0, max: 600_000 }, 'how long a user stays present after their last connection'),
    sseReplayBytes: integer('TANDEM_SSE_REPLAY_BYTES', 64 * 1024, { min: 0, max: 64 * 1024 * 1024 }, 'SSE fallback: bytes of events a stream keeps for a `Last-Event-ID` resume'),
    sseResumeGraceMs: integer('TANDEM_SSE_RESUME_GRACE_MS', 10_000, { min: 0, max: 600_000 }, 'SSE fallback: how long a stream whose response ended waits for a resume'),
  },
  logLevel: oneOf('LOG_LEVEL', 'info', LOG_LEVELS, 'pino level (`silent` to mute)'),
} as const satisfies SettingsSpec;

type LibrarySettings = SettingsOf<typeof librarySettings>;

/**
 * The library's configuration, plus the app's own settings in `app`.
 * `store.databaseUrl` set means PostgreSQL; otherwise SQLite at `store.sqlitePath`, derived from the
 * data folder (tests and tools may point it at ':memory:').
 */
export type TandemConfig<A = Record<string, never>> = Omit<LibrarySettings, 'store'> & {
  store: LibrarySettings['store'] & { sqlitePath: string };
  app: A;
};

type Env = Record<string, string | undefined>;

/**
 * Reads and validates the library's settings and the app's (`appSettings`, see defineApp) from the
 * environment; throws ConfigError naming every bad variable at once.
 *
 * @example
 *   const config = loadConfig(process.env, pollsApp.settings);
 *   config.http.port; config.realtime.maxConnectionsPerUser; config.app.tallyIntervalMs
 */
export function loadConfig<S extends SettingsSpec = Record<string, never>>(env: Env = process.env, appSettings?: S): TandemConfig<SettingsOf<S>> {
  const taken = new Set(listSettings(librarySettings).map((s) => s.env));
  for (const own of listSettings(appSettings ?? {})) {
    if (taken.has(own.env)) throw new TypeError(`The app's setting ${own.env} is one of the library's: name it otherwise`);
  }
  const problems: string[] = [];
  const library = readSettings(librarySettings, env, problems);
  const app = readSettings(appSettings ?? ({} as S), env, problems);
  if (library.cluster.redisUrl !== undefined && library.store.databaseUrl === undefined) {
    problems.push('TANDEM_REDIS_URL: the nodes of a cluster share their data through PostgreSQL; set DATABASE_URL too');
  }
  const nodeId = library.cluster.nodeId === '' ? `${os.hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48)}-${process.pid}` : library.cluster.nodeId;
  // It starts SSE stream ids (`<node id>-…`): the characters a stream id may hold.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) problems.push(`TANDEM_NODE_ID: letters, digits, '_' and '-' only, at most 64 (got ${JSON.stringify(nodeId)})`);
  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = path.resolve(library.store.dataDir);
  return { ...library, cluster: { ...library.cluster, nodeId }, store: { ...library.store, dataDir, sqlitePath: path.join(dataDir, 'tandem.sqlite') }, app };
}
