import path from 'node:path';
import type { Kysely } from 'kysely';
import { installAuthentication } from '../../server/auth/authenticate';
import { SessionStore } from '../../server/auth/sessions';
import { TokenService } from '../../server/auth/tokens';
import { createHttpApp, type TandemHttpApp } from '../../server/http/app';
import { sweepIdempotencyKeys } from '../../server/http/idempotency';
import { installOpenApi } from '../../server/http/openapi';
import type { Config } from '../../server/ops/config';
import { installHealth } from '../../server/ops/health';
import { Metrics } from '../../server/ops/metrics';
import type { Hub } from '../../server/hub';
import type { RealtimeGateway } from '../../server/realtime/gateway';
import { installSseEndpoints } from '../../server/realtime/sse-routes';
import type { RealtimeLimits } from '../../server/realtime/types';
import { CommitAnnouncer } from '../../server/store/channel-log';
import { isStoreReachable, openSqlite } from '../../server/store/database';
import { migrate } from '../../server/store/migrate';
import type { SocialContext } from './context';
import type { SocialDb } from './db';
import { socialMigrations } from './migrations';
import { registerAuthRoutes } from './routes/auth';
import { registerConversationRoutes } from './routes/conversations';
import { registerNotificationRoutes } from './routes/notifications';
import { registerPostRoutes } from './routes/posts';
import { registerPresenceRoutes } from './routes/presence';
import { registerUserRoutes } from './routes/users';
import { socialAsyncApi } from './asyncapi';
import { createRealtime } from './realtime';
import { seedDemoData } from './seed';
import { DEFAULT_WEB_ROOT, installWebUi } from './web';

export interface SocialApp {
  app: TandemHttpApp;
  db: Kysely<SocialDb>;
  announcer: CommitAnnouncer;
  sessions: SessionStore;
  tokens: TokenService;
  hub: Hub;
  gateway: RealtimeGateway;
  /** True when this start filled an empty store with demo data. */
  seeded: boolean;
  /** True when the built web UI was found and is served at /. */
  webUi: boolean;
  /** Marks the node as draining: /readyz answers 503 so load balancers stop sending traffic. */
  beginDrain(): void;
}

export interface SocialAppOptions {
  config: Config;
  logger?: boolean | { level: string };
  /** Overrides the SQLite location (tests use ':memory:' or a temp folder). */
  sqlitePath?: string;
  clock?: () => number;
  /** Overrides of the realtime limits (tests use small ones). */
  realtimeLimits?: Partial<RealtimeLimits>;
  /** Granularity of the realtime gateway's shared timer. */
  realtimeTickMs?: number;
  /** The built web UI (index.html + assets/). Default dist/web, where `npm run build:web` writes it. */
  webRoot?: string;
}

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** Builds the social app: store (migrated, optionally seeded), auth, REST routes, docs, ops. */
export async function buildSocialApp(options: SocialAppOptions): Promise<SocialApp> {
  const { config } = options;
  const sqlitePath = options.sqlitePath ?? path.join(config.dataDir, config.sqliteFile);
  const { db, dialect } = openSqlite<SocialDb>({ sqlitePath });
  await migrate(db as Kysely<unknown>, dialect, socialMigrations);
  const seeded = config.seed ? await seedDemoData(db) : false;

  const clock = options.clock ?? Date.now;
  const tokens = await TokenService.open(db, { secret: config.jwtSecret, ttlSeconds: config.accessTokenTtlSeconds, clock });
  const sessions = new SessionStore(db, { refreshTtlSeconds: config.refreshTokenTtlSeconds, clock });
  const announcer = new CommitAnnouncer();
  const metrics = new Metrics();
  const app = await createHttpApp({ config, metrics, logger: options.logger });
  let draining = false;

  await installOpenApi(app, {
    title: 'Tandem social API',
    version: '1.0.0',
    description: 'REST half of the Tandem reference app. Every GET carries a strong ETag; lists that have a realtime channel report its position in Tandem-Channel / Tandem-Position.',
  }, { upgradeInsecureRequests: config.hsts });
  const { broker, hub, gateway } = createRealtime({ config, db, tokens, sessions, announcer, registry: metrics.registry, log: app.log, options });
  // The memory broker has one epoch for all channels: no per-channel lookup (or state) per GET.
  const store = { db, dialect, epochOf: async () => broker.epoch };
  const ctx: SocialContext = { app, db, store, hub, announcer, tokens, sessions, config, authenticate: installAuthentication(app, tokens, sessions) };
  registerAuthRoutes(ctx);
  registerUserRoutes(ctx);
  registerPostRoutes(ctx);
  registerConversationRoutes(ctx);
  registerNotificationRoutes(ctx);
  registerPresenceRoutes(ctx);
  installHealth(app, { ready: () => isStoreReachable(db as Kysely<unknown>), draining: () => draining });

  gateway.attach(app.server);
  installSseEndpoints(app, gateway);
  const asyncApi = socialAsyncApi();
  app.get('/api/asyncapi.json', { schema: { hide: true } }, async (_request, reply) => reply.header('cache-control', 'public, max-age=60').send(asyncApi));
  const webUi = installWebUi(app, options.webRoot ?? DEFAULT_WEB_ROOT);
  if (!webUi) app.log.warn({ webRoot: options.webRoot ?? DEFAULT_WEB_ROOT }, 'the web UI is not built (npm run build:web); / explains how');

  const sweeper = setInterval(() => void sweepIdempotencyKeys(db).catch((err: unknown) => app.log.warn({ err }, 'idempotency sweep failed')), SWEEP_INTERVAL_MS);
  sweeper.unref();
  // Sockets first (1012 + a jittered reconnect hint), while HTTP still finishes in-flight requests.
  app.addHook('preClose', async () => {
    draining = true;
    await gateway.close();
  });
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    await hub.close();
    await broker.close();
    await db.destroy();
  });
  await app.ready();
  return { app, db, announcer, sessions, tokens, hub, gateway, seeded, webUi, beginDrain: () => void (draining = true) };
}
