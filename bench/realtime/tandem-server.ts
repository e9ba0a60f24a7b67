/**
 * Tandem under test: the real gateway + hub + memory broker, the real token and session
 * services on an in-memory SQLite store (so real tokens are verified on `auth`), no social app.
 * Every limit is raised so the bench measures the work, not the refusals; the metrics, logging
 * hooks and per-connection checks all stay on the path.
 *
 * Control endpoints: see common.ts (GET /tokens issues one session + access token per connection).
 */
import http from 'node:http';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { SessionStore } from '../../src/server/auth/sessions';
import { TokenService } from '../../src/server/auth/tokens';
import { MemoryBroker } from '../../src/server/broker/memory-broker';
import { Hub } from '../../src/server/hub';
import { RealtimeGateway } from '../../src/server/realtime/gateway';
import { RealtimeMetrics } from '../../src/server/realtime/metrics';
import { openSqlite, type ServerTables } from '../../src/server/store/database';
import { migrate } from '../../src/server/store/migrate';
import { serverMigrations } from '../../src/server/store/server-migrations';
import { CHANNEL, EVENT, controlHandler, listenAndAnnounce, runPublications } from './common';

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
  },
});

let offset = 0;
const server = http.createServer(
  controlHandler({
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
  }),
);
gateway.attach(server);
listenAndAnnounce(server, 'tandem');
