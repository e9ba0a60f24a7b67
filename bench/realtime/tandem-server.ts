/**
 * Tandem under test, built on the public API alone (tandem/server), like any app: a one-channel
 * app (`bench:1`) served by createServer, with the real accounts, tokens and sessions on an
 * in-memory SQLite store, the real hub, memory broker, WebSocket gateway and SSE fallback. Every
 * limit is raised so the bench measures the work, not the refusals; the metrics, logging hooks
 * and per-connection checks all stay on the path. Publications go through a transaction of the
 * store (`ctx.transaction` + `log.append`), as an app's writes do: the channel offsets come from
 * the database, which costs one write per publication, not per delivery.
 *
 * Control endpoints (routes of the app, outside the REST rate limit): see common.ts
 * (GET /tokens creates the accounts and issues one session + access token per connection).
 *
 * With BENCH_TANDEM_SSE=1 (set by the runner whenever tandem-sse is benched, for both Tandem
 * legs) the heartbeat is 10 minutes instead of 25 s, for both transports: an SSE client proves it
 * is alive only by POSTing frames, and a bench client that did so every 20 s would add POSTs to the
 * delivery measurements; a silent stream would be dropped after 50-75 s.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createAccount, createServer, defineApp, hashPassword, loadConfig, type TandemContext, type TandemServer } from 'tandem/server';
import { CHANNEL, EVENT, controlHandler, listenAndAnnounce, runPublications } from './common';

const withSse = process.env.BENCH_TANDEM_SSE === '1';
const UNLIMITED = String(1_000_000);

let ctx: TandemContext | undefined;
let server: TandemServer | undefined;
const passwordHash = await hashPassword('bench-only');
const userIds = new Map<number, number>();
let published = 0;

/** Access tokens for connections from..from+count-1: each its own account and session. */
async function tokens(from: number, count: number): Promise<string[]> {
  const context = ctx!;
  const missing = Array.from({ length: count }, (_, i) => from + i).filter((i) => !userIds.has(i));
  if (missing.length > 0) {
    await context.transaction(async (trx) => {
      for (const i of missing) userIds.set(i, (await createAccount(trx, { username: `bench${i}`, displayName: `bench ${i}`, passwordHash })).id);
    });
  }
  const out: string[] = [];
  for (let i = from; i < from + count; i += 1) out.push((await context.issueSession(userIds.get(i)!)).accessToken);
  return out;
}

const control = controlHandler({
  stats: () => {
    const { connections, subscriptions } = server!.stats();
    return { connections, subscribed: subscriptions };
  },
  tokens,
  // The channel's offsets count every publication since start; `seq` in the data follows them.
  publish: (params) =>
    runPublications(params, (events) => ctx!.transaction(async (_trx, log) => {
      for (const data of events) await log.append(CHANNEL, EVENT, data);
      published += events.length;
    }), published + 1),
});

const benchApp = defineApp({
  name: 'bench',
  api: { title: 'Tandem realtime bench', version: '1.0.0', description: 'One channel, bench:1.' },
  channels: { bench: { description: 'The bench channel', param: 'n' } },
  accounts: false,
  routes(app, context) {
    ctx = context;
    const toControl = (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      control(request.raw, reply.raw);
    };
    for (const url of ['/stats', '/mem', '/tokens', '/token', '/heap-snapshot', '/publish']) {
      app.route({ method: ['GET', 'POST'], url, config: { rateLimit: false }, schema: { hide: true }, handler: toControl });
    }
  },
});

const config = loadConfig({
  LOG_LEVEL: 'silent',
  TANDEM_RATE_LIMIT: '10000000',
  TANDEM_RATE_LIMIT_BURST: '10000000',
  TANDEM_WS_CONNECTIONS_PER_IP: UNLIMITED,
  TANDEM_WS_CONNECTIONS_PER_USER: UNLIMITED,
  TANDEM_WS_HANDSHAKES_PER_IP: UNLIMITED,
  TANDEM_WS_NEW_CONNECTIONS_PER_SECOND: UNLIMITED,
  TANDEM_WS_MESSAGES_PER_SECOND: UNLIMITED,
  TANDEM_WS_MESSAGE_BURST: UNLIMITED,
  ...(withSse ? { TANDEM_WS_HEARTBEAT_MS: '600000' } : {}),
});
config.store.sqlitePath = ':memory:';
server = await createServer({ app: benchApp, config, logger: false });
listenAndAnnounce(server.fastify.server, 'tandem');
