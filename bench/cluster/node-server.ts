/**
 * One Tandem node under test, built on the public API alone (tandem/server), like any app. Its
 * configuration comes from the environment the runner gives it: DATABASE_URL (a bench schema of
 * PostgreSQL, for the single node too), and for a cluster node TANDEM_REDIS_URL,
 * TANDEM_REDIS_PREFIX and TANDEM_NODE_ID; the raised limits are in that environment as well (see
 * nodes.ts), so every check still runs but nothing is refused.
 *
 * The app has one kind of channel, `bench:{n}`, and one REST write: `POST /api/ticks/:n`, signed in
 * (bearer token), validated, one transaction that appends the body to `bench:<n>` (the channel's
 * offset comes from the database; a cluster node also writes the outbox row), answered 201 with
 * the offset. That is the publisher's path, as an app's writes are.
 *
 * Control routes outside the REST rate limit: GET /bench/tokens?from&count (one account and
 * session per connection, created on first use; access tokens), GET /bench/stats, and with
 * BENCH_PROFILE_DIR set POST /bench/profile/start and /bench/profile/stop?name=… (a V8 CPU profile
 * of just the measured window, written to that folder). On SIGTERM the
 * node drains and exits 0 (so a --cpu-prof profile gets written); it also exits when its parent
 * (the runner) goes away.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { Type } from 'typebox';
import { createAccount, createServer, defineApp, hashPassword, type TandemContext } from 'tandem/server';
import { whenParentGone } from '../common/children';

const TickParams = Type.Object({ n: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }) });
const TickBody = Type.Object({ ts: Type.Number(), seq: Type.Integer(), pad: Type.String({ maxLength: 4096 }) }, { additionalProperties: false });

let ctx: TandemContext | undefined;
const passwordHash = await hashPassword('bench-only');

/** Access tokens for connections from..from+count-1: account `cb<i>` each, created once per schema, and a new session each. */
async function tokens(from: number, count: number): Promise<string[]> {
  const context = ctx!;
  const names = Array.from({ length: count }, (_, i) => `cb${from + i}`);
  const found = await context.db.selectFrom('users').select(['id', 'username']).where('username', 'in', names).execute();
  const ids = new Map(found.map((row) => [row.username, row.id]));
  const missing = names.filter((name) => !ids.has(name));
  // Transactions of 250 accounts, five at a time: a first run creates thousands.
  const chunks = Array.from({ length: Math.ceil(missing.length / 250) }, (_, i) => missing.slice(i * 250, (i + 1) * 250));
  for (let i = 0; i < chunks.length; i += 5) {
    await Promise.all(chunks.slice(i, i + 5).map((chunk) => context.transaction(async (trx) => {
      for (const username of chunk) ids.set(username, (await createAccount(trx, { username, displayName: username, passwordHash })).id);
    })));
  }
  // Ten at a time (the pool's size): one session row each.
  const out: string[] = [];
  for (let i = 0; i < names.length; i += 10) {
    const batch = await Promise.all(names.slice(i, i + 10).map((name) => context.issueSession(ids.get(name)!)));
    out.push(...batch.map((issued) => issued.accessToken));
  }
  return out;
}

const benchApp = defineApp({
  name: 'bench-cluster',
  api: { title: 'Tandem cluster bench', version: '1.0.0', description: 'One kind of channel (bench:{n}) and one REST write that publishes on it.' },
  channels: { bench: { description: 'A bench channel', param: 'n' } },
  accounts: false,
  routes(app, context) {
    ctx = context;
    app.post('/api/ticks/:n', {
      preHandler: context.authenticate,
      schema: { summary: 'Publish one tick on bench:<n>', params: TickParams, body: TickBody },
    }, async (request, reply) => {
      const { n } = request.params as { n: string };
      const entry = await context.transaction((_trx, log) => log.append(`bench:${n}`, 'tick', request.body));
      reply.code(201).header('cache-control', 'no-store');
      return { offset: entry.offset };
    });
    const hidden = { config: { rateLimit: false }, schema: { hide: true } } as const;
    app.get('/bench/tokens', hidden, async (request) => {
      const query = request.query as { from?: string; count?: string };
      return tokens(Number(query.from ?? 0), Math.min(5000, Number(query.count ?? 1)));
    });
    app.get('/bench/stats', hidden, async () => ({ ...server.stats(), pid: process.pid }));
    const profileDir = process.env.BENCH_PROFILE_DIR;
    if (profileDir !== undefined && profileDir !== '') {
      const inspector = new Session();
      inspector.connect();
      app.post('/bench/profile/start', hidden, async () => {
        await inspector.post('Profiler.enable');
        await inspector.post('Profiler.start');
        return { ok: true };
      });
      app.post('/bench/profile/stop', hidden, async (request) => {
        const { profile } = await inspector.post('Profiler.stop');
        const name = String((request.query as { name?: string }).name ?? 'window').replace(/[^A-Za-z0-9_.-]/g, '_');
        const file = path.join(profileDir, `${name}.cpuprofile`);
        fs.writeFileSync(file, JSON.stringify(profile));
        return { file };
      });
    }
  },
});

const server = await createServer({ app: benchApp, env: process.env, logger: process.env.BENCH_NODE_LOG === '1' ? { level: 'warn' } : false });
// BENCH_LISTEN_BACKLOG (diagnostics only): listen through Fastify with that accept backlog instead
// of server.listen()'s 4096.
const backlog = Number(process.env.BENCH_LISTEN_BACKLOG ?? '');
const port = Number.isInteger(backlog) && backlog > 0
  ? (await server.fastify.listen({ port: 0, host: '127.0.0.1', backlog }), (server.fastify.server.address() as { port: number }).port)
  : new URL(await server.listen({ port: 0, host: '127.0.0.1' })).port;
process.stdout.write(`node ${process.env.TANDEM_NODE_ID ?? 'single'} listening on ${port}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  server.close().then(() => process.exit(0), () => process.exit(1));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The runner owns us: if it goes away, so do we.
whenParentGone(stop);
