import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { findAccountById } from '../auth/accounts';
import { TandemError } from '../errors';
import { installAuthentication } from '../auth/authenticate';
import { LoginGuard } from '../auth/login-guard';
import { SessionStore } from '../auth/sessions';
import { TokenService } from '../auth/tokens';
import { MemoryBroker } from '../broker';
import type { TandemConfig } from '../config/config';
import type { SettingsOf, SettingsSpec } from '../config/settings';
import type { TandemHttpApp } from '../http/app';
import { sendChannelItem, sendChannelPage } from '../http/channel-page';
import { runIdempotent, sendStored, sweepIdempotencyKeys } from '../http/idempotency';
import { Hub } from '../hub';
import { RealtimeGateway } from '../realtime/gateway';
import { RealtimeMetrics } from '../realtime/metrics';
import { CommitAnnouncer, inTransaction, readPosition } from '../store/channel-log';
import { openSqlite, type Dialect, type TandemTables } from '../store/database';
import { libraryMigrations } from '../store/library-migrations';
import { migrate } from '../store/migrate';
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
  readonly guard: LoginGuard;
  readonly announcer: CommitAnnouncer;
  readonly broker: MemoryBroker;
  readonly hub: Hub;
  readonly gateway: RealtimeGateway;
  readonly ctx: TandemContext<DB, A>;
  close(): Promise<void>;
}

export async function openRuntime<DB extends TandemTables, S extends SettingsSpec>(options: RuntimeOptions<DB, S>): Promise<Runtime<DB, SettingsOf<S>>> {
  const { app, config, log } = options;
  const clock = options.clock ?? Date.now;
  const { db, dialect } = openSqlite<DB>({ sqlitePath: config.store.sqlitePath });
  const library = db as unknown as Kysely<TandemTables>;
  try {
    await migrate(db as unknown as Kysely<unknown>, dialect, [...libraryMigrations, ...(app.migrations ?? [])]);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const tokens = await TokenService.open(library, { secret: config.auth.jwtSecret, ttlSeconds: config.auth.accessTokenTtlSeconds, clock });
  const sessions = new SessionStore(library, { refreshTtlSeconds: config.auth.refreshTokenTtlSeconds, clock });
  const guard = new LoginGuard({ attemptsPerIp: config.auth.loginAttemptsPerIp, failuresPerAccount: config.auth.loginFailuresPerAccount, windowSeconds: config.auth.loginWindowSeconds, clock });
  const announcer = new CommitAnnouncer();
  const { realtime } = config;
  const broker = new MemoryBroker({
    historyMaxCount: realtime.historyMaxCount,
    historyMaxAgeMs: realtime.historyMaxAgeMs,
    positionSource: (channel) => readPosition(library, channel),
    // Short epochs: they travel in every subscribe answer and recovery request.
    newEpoch: () => randomBytes(6).toString('base64url'),
    clock,
  });
  const hub = new Hub({
    broker,
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
    userName: async (id) => (await findAccountById(library, id))?.username,
    allowedOrigins: config.http.corsOrigins,
    trustProxy: config.http.trustProxy,
    metrics: new RealtimeMetrics(options.registry),
    log,
    limits: realtime,
    clock,
    ...(options.realtimeTickMs === undefined ? {} : { tickMs: options.realtimeTickMs }),
  });
  const transaction: TandemContext<DB, SettingsOf<S>>['transaction'] = (work) => inTransaction(db, announcer, work);
  const latest = new LatestPublisher<Kysely<DB>>({
    transaction,
    setTimer: (callback, ms) => setTimeout(callback, ms).unref(),
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
    onError: (err, key) => log.error({ err, ...key }, 'a coalesced publication failed'),
  });
  // The memory broker has one epoch for all channels: no per-channel lookup (or state) per GET.
  const store = { db, dialect, epochOf: async () => broker.epoch };
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

  return {
    db, dialect, tokens, sessions, guard, announcer, broker, hub, gateway, ctx,
    async close() {
      // The drain (idempotent): already done when the server closed normally; on a failed start it
      // stops the gateway's timers and listeners.
      await gateway.close(0);
      clearInterval(sweeper);
      // Coalesced state still pending goes out (into the store and the history) before the store closes.
      await latest.close();
      stopPublishing();
      await hub.close();
      await broker.close();
      await db.destroy();
    },
  };
}
