import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { findAccountById } from '../auth/accounts';
import { TandemError } from '../errors';
import { installAuthentication } from '../auth/authenticate';
import { LoginGuard, type LoginLimiter } from '../auth/login-guard';
import { RedisLoginGuard } from '../cluster/redis-login-guard';
import { SessionStore } from '../auth/sessions';
import { TokenService } from '../auth/tokens';
import type { Broker } from '../broker';
import { openBackbone } from '../cluster/backbone';
import type { RedisCluster } from '../cluster/redis-cluster';
import type { TandemConfig } from '../config/config';
import type { SettingsOf, SettingsSpec } from '../config/settings';
import type { TandemHttpApp } from '../http/app';
import { sendChannelItem, sendChannelPage } from '../http/channel-page';
import { runIdempotent, sendStored, sweepIdempotencyKeys } from '../http/idempotency';
import { Hub } from '../hub';
import { RealtimeGateway } from '../realtime/gateway';
import { RealtimeMetrics } from '../realtime/metrics';
import { CommitAnnouncer, inTransaction, readOutbox, readPosition, sweepOutbox } from '../store/channel-log';
import type { Dialect, TandemTables } from '../store/database';
import { libraryMigrations } from '../store/library-migrations';
import { migrate } from '../store/migrate';
import { openStore } from '../store/open-store';
import { channelPolicies } from './channels';
import type { TandemContext } from './context';
import type { AppDefinition } from './define-app';
import { LatestPublisher } from './latest-publisher';

const IDEMPOTENCY_SWEEP_MS = 60 * 60 * 1000;

export interface RuntimeOptions<DB extends TandemTables, S extends SettingsSpec> {
  app: AppDefinition<DB, S>;
  config: TandemConfig<SettingsOf<S>>;
  /** The HTTP app the context's authenticate preHandler decorates (request.auth). */
  http: TandemHttpApp;
  log: FastifyBaseLogger;
  registry: Registry;
  clock?: () => number;
  /** Granularity of the realtime gateway's shared timer (tests use ~20 ms). */
  realtimeTickMs?: number;
}

/**
 * Everything a server holds besides HTTP: the store (migrated), tokens and sessions, the login
 * guard, the broker, the hub with the app's channels, the realtime gateway, and the context the
 * app's code gets. `close()` releases them in order; the caller drains the gateway first.
 */
export interface Runtime<DB extends TandemTables, A> {
  readonly db: Kysely<DB>;
  readonly dialect: Dialect;
  readonly tokens: TokenService;
  readonly sessions: SessionStore;
  readonly guard: LoginLimiter;
  readonly announcer: CommitAnnouncer;
  readonly broker: Broker;
  /** Present on a node of a cluster (TANDEM_REDIS_URL). */
  readonly cluster: RedisCluster | undefined;
  /** For /readyz: the realtime backbone's state (the broker and the cluster link). */
  health(): { ok: true } | { ok: false; reason: string };
  readonly hub: Hub;
  readonly gateway: RealtimeGateway;
  readonly ctx: TandemContext<DB, A>;
  close(): Promise<void>;
}

export async function openRuntime<DB extends TandemTables, S extends SettingsSpec>(options: RuntimeOptions<DB, S>): Promise<Runtime<DB, SettingsOf<S>>> {
  const { app, config, log } = options;
  const clock = options.clock ?? Date.now;
  const { db, dialect } = openStore<DB>(config.store, { log });
  const library = db as unknown as Kysely<TandemTables>;
  try {
    await migrate(db as unknown as Kysely<unknown>, dialect, [...libraryMigrations, ...(app.migrations ?? [])]);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const tokens = await TokenService.open(library, { secret: config.auth.jwtSecret, ttlSeconds: config.auth.accessTokenTtlSeconds, clock });
  const sessions = new SessionStore(library, { refreshTtlSeconds: config.auth.refreshTokenTtlSeconds, clock });
  const guardOptions = { attemptsPerIp: config.auth.loginAttemptsPerIp, failuresPerAccount: config.auth.loginFailuresPerAccount, windowSeconds: config.auth.loginWindowSeconds, clock };
  const localGuard = new LoginGuard(guardOptions);
  const clustered = config.cluster.redisUrl !== undefined;
  const announcer = new CommitAnnouncer({ outbox: clustered });
  const { realtime } = config;
  let backbone;
  try {
    backbone = await openBackbone({
      config,
      positionSource: (channel) => readPosition(library, channel),
      gapSource: (channel, after, upTo) => readOutbox(library, channel, after, upTo),
      db: library,
      clock,
      log,
    });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const { broker, cluster } = backbone;
  // On a cluster the login limits live in Redis, so spreading guesses over the nodes gains nothing.
  const guard: LoginLimiter = cluster === undefined
    ? localGuard
    : new RedisLoginGuard(cluster.redis, { ...guardOptions, prefix: config.cluster.redisPrefix, fallback: localGuard, onFallback: everyMinute((err) => log.warn({ err }, 'login limits unavailable in Redis; this node\'s own limits apply')) });
  const hub = new Hub({
    broker,
    ...(cluster === undefined ? {} : { presenceExchange: cluster.presence }),
    clock,
    presenceGraceMs: realtime.presenceGraceMs,
    maxSubscriptionsPerSubscriber: realtime.maxSubscriptionsPerConnection,
    maxRecoveryCount: realtime.maxRecoveryCount,
    onError: (err) => log.warn({ err }, 'hub delivery failed'),
  });
  const stopPublishing = announcer.on((events) => void hub.publishCommitted(events).catch((err: unknown) => log.error({ err }, 'publishing committed events failed')));
  const gateway = new RealtimeGateway({
    hub,
    tokens,
    sessions,
    allowedOrigins: config.http.corsOrigins,
    trustProxy: config.http.trustProxy,
    metrics: new RealtimeMetrics(options.registry),
    log,
    limits: realtime,
    clock,
    ...(options.realtimeTickMs === undefined ? {} : { tickMs: options.realtimeTickMs }),
    ...(cluster === undefined ? {} : { connectionSlots: cluster, nodeId: config.cluster.nodeId, sharedLimits: cluster.limits }),
  });
  // A revocation on any node closes the session's sockets on every node.
  const stopRevocations = cluster === undefined ? () => undefined : bridgeRevocations(sessions, cluster, (sessionId) => gateway.sessionRevoked(sessionId), log);
  const transaction: TandemContext<DB, SettingsOf<S>>['transaction'] = (work) => inTransaction(db, announcer, work);
  const latest = new LatestPublisher<Kysely<DB>>({
    transaction,
    setTimer: (callback, ms) => setTimeout(callback, ms).unref(),
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
    onError: (err, key) => log.error({ err, ...key }, 'a coalesced publication failed'),
  });
  const store = { db, dialect, epochOf: backbone.epochOf };
  const ctx: TandemContext<DB, SettingsOf<S>> = {
    db,
    dialect,
    config,
    log,
    clock,
    authenticate: installAuthentication(options.http, tokens, sessions),
    transaction,
    createOnce: async (request, reply, scope, work) => sendStored(reply, await runIdempotent(db, announcer, request, scope, work, clock)),
    sendList: (request, reply, spec) => sendChannelPage(request, reply, store, spec),
    sendItem: (request, reply, spec) => sendChannelItem(request, reply, store, spec),
    async issueSession(userId) {
      if ((await findAccountById(library, userId)) === undefined) throw new TandemError('not_found', `No account ${userId}`);
      const session = await sessions.create(userId);
      const access = await tokens.issue(userId, session.sessionId);
      return { accessToken: access.token, expiresAt: access.expiresAt, refreshToken: session.refreshToken, refreshExpiresAt: session.refreshExpiresAt };
    },
    revokeSessions: (userId, revokeOptions = {}) => sessions.revokeAllOf(userId, revokeOptions.reason ?? 'revoked', revokeOptions.except),
    presence: (channel) => hub.presence(channel),
    publishLatest: (channel, event, read, publishOptions) => latest.request(channel, event, read, publishOptions?.intervalMs),
  };
  for (const [prefix, policy] of channelPolicies(app.channels ?? {}, ctx)) hub.definePolicy(prefix, policy);
  const sweeper = setInterval(() => void sweepIdempotencyKeys(library, clock()).catch((err: unknown) => log.warn({ err }, 'idempotency sweep failed')), IDEMPOTENCY_SWEEP_MS);
  sweeper.unref();
  // The outbox only has to outlive the history: what is older cannot be recovered anyway.
  const outboxMs = Math.max(60_000, realtime.historyMaxAgeMs);
  const outboxSweeper = clustered
    ? setInterval(() => void sweepOutbox(library, new Date(clock() - outboxMs).toISOString()).catch((err: unknown) => log.warn({ err }, 'outbox sweep failed')), outboxMs)
    : undefined;
  outboxSweeper?.unref();

  return {
    db, dialect, tokens, sessions, guard, announcer, broker, cluster, hub, gateway, ctx,
    health: backbone.health,
    async close() {
      // The drain (idempotent): already done when the server closed normally; on a failed start it
      // stops the gateway's timers and listeners.
      await gateway.close(0);
      clearInterval(sweeper);
      clearInterval(outboxSweeper);
      stopRevocations();
      // Coalesced state still pending goes out (into the store and the history) before the store closes.
      await latest.close();
      stopPublishing();
      await hub.close();
      await backbone.close();
      await db.destroy();
    },
  };
}

/**
 * Revocations made here are announced to the cluster, and every announced one (this node's own
 * included: closing a session twice does nothing) reaches `revoked`. If the announcement fails
 * (Redis away) this node still closes its own sockets; the others interrupt every connection
 * when their link comes back, and the reconnects check their sessions in the database.
 */
function bridgeRevocations(sessions: SessionStore, cluster: RedisCluster, revoked: (sessionId: string) => void, log: FastifyBaseLogger): () => void {
  const stopLocal = sessions.onRevoked((sessionId, reason) => {
    void cluster.announceRevoked(sessionId, reason).catch((err: unknown) => log.warn({ err }, 'announcing a revocation to the cluster failed'));
  });
  const stopCluster = cluster.onRevoked((sessionId) => revoked(sessionId));
  return () => {
    stopLocal();
    stopCluster();
  };
}

/** `report`, at most once a minute (a Redis outage would otherwise log once per request). */
function everyMinute(report: (error: unknown) => void): (error: unknown) => void {
  let last = -Infinity;
  return (error) => {
    const now = Date.now();
    if (now - last < 60_000) return;
    last = now;
    report(error);
  };
}
