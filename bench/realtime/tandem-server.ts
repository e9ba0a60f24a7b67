/**
 * Tandem under test: the real gateway + hub + memory broker, the real token and session
 * services on an in-memory SQLite store (so real tokens are verified on `auth`), no social app.
 * Every limit is raised so the bench measures the work, not the refusals; the metrics, logging
 * hooks and per-connection checks all stay on the path.
 *
 * Control endpoints: see common.ts (GET /tokens issues one session + access token per connection).
 *
 * With BENCH_TANDEM_SSE=1 (set by the runner whenever tandem-sse is benched, for both Tandem
 * legs): the HTTP server is Tandem's Fastify app (createHttpApp) with the SSE fallback's
 * endpoints (installSseEndpoints), as in the social app; the WebSocket gateway is attached to the
 * same server, and the control endpoints are routes of that app. The heartbeat is 10 minutes
 * instead of 25 s, for both transports: an SSE client proves it is alive only by POSTing frames,
 * and a bench client that did so every 20 s would add POSTs to the delivery measurements; a
 * silent stream would be dropped after 50-75 s.
 */
import http from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { SessionStore } from '../../src/server/auth/sessions';
import { TokenService } from '../../src/server/auth/tokens';
import { MemoryBroker } from '../../src/server/broker/memory-broker';
import { Hub } from '../../src/server/hub';
import { RealtimeGateway } from '../../src/server/realtime/gateway';
import { createHttpApp } from '../../src/server/http/app';
import { loadConfig } from '../../src/server/ops/config';
import { Metrics } from '../../src/server/ops/metrics';
import { RealtimeMetrics } from '../../src/server/realtime/metrics';
import { installSseEndpoints } from '../../src/server/realtime/sse-routes';
import { openSqlite, type ServerTables } from '../../src/server/store/database';
import { migrate } from '../../src/server/store/migrate';
import { serverMigrations } from '../../src/server/store/server-migrations';
import { CHANNEL, EVENT, controlHandler, listenAndAnnounce, runPublications } from './common';

const withSse = process.env.BENCH_TANDEM_SSE === '1';
const { db, dialect } = openSqlite<ServerTables>({ sqlitePath: ':memory:' });
await migrate(db as unknown as Kysely<unknown>, dialect, serverMigrations);
const tokens = await TokenService.open(db, { secret: undefined, ttlSeconds: 3600 });
const sessions = new SessionStore(db, { refreshTtlSeconds: 86_400 });

const broker = new MemoryBroker();
const hub = new Hub({ broker });
hub.definePolicy('bench', { canSubscribe: () => true });

const gateway = new RealtimeGateway({
  hub,
  tokens,
  sessions,
  userName: async (userId) => `user${userId}`,
  allowedOrigins: [],
  trustProxy: false,
  metrics: new RealtimeMetrics(new Registry()),
  log: pino({ level: 'silent' }),
  limits: {
    maxConnectionsPerIp: 1e6,
    handshakesPerIpPerSecond: 1e6,
    newConnectionsPerSecond: 1e6,
    maxConnectionsPerUser: 1e6,
    messagesPerSecond: 1e6,
    messageBurst: 1e6,
    ...(withSse ? { heartbeatIntervalMs: 600_000 } : {}),
  },
});

let offset = 0;
const control = controlHandler({
  stats: () => ({ connections: gateway.connectionCount, subscribed: hub.stats().subscriptions }),
  tokens: async (from, count) => {
    const out: string[] = [];
    for (let i = from; i < from + count; i++) {
      const session = await sessions.create(i + 1);
      out.push((await tokens.issue(i + 1, session.sessionId)).token);
    }
    return out;
  },
  publish: (params) =>
    runPublications(params, (events) => hub.publishCommitted(events.map((data) => ({ channel: CHANNEL, offset: ++offset, event: EVENT, data }))), offset + 1),
});

if (withSse) {
  // The REST per-IP limit is at the most the config accepts (the SSE routes opt out of it anyway).
  const config = loadConfig({ LOG_LEVEL: 'silent', TANDEM_SEED: 'false', TANDEM_RATE_LIMIT: '10000000', TANDEM_RATE_LIMIT_BURST: '10000000' });
  const app = await createHttpApp({ config, metrics: new Metrics({ defaultMetrics: false }), logger: false });
  const toControl = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    control(request.raw, reply.raw);
  };
  for (const url of ['/stats', '/mem', '/tokens', '/token', '/heap-snapshot', '/publish']) {
    app.route({ method: ['GET', 'POST'], url, config: { rateLimit: false }, schema: { hide: true }, handler: toControl });
  }
  gateway.attach(app.server);
  installSseEndpoints(app, gateway);
  await app.ready();
  listenAndAnnounce(app.server, 'tandem');
} else {
  const server = http.createServer(control);
  gateway.attach(server);
  listenAndAnnounce(server, 'tandem');
}
