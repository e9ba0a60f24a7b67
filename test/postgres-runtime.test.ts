import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { socialApp } from '../src/apps/social/app';
import { socialMigrations } from '../src/apps/social/migrations';
import { createServer } from '../src/server/assembly/create-server';
import { loadConfig } from '../src/server/config/config';
import { ConfigError } from '../src/server/config/settings';
import { isStoreUnavailable } from '../src/server/store/database';
import { libraryMigrations } from '../src/server/store/library-migrations';
import { migrate, type PortableMigration } from '../src/server/store/migrate';
import { openStore } from '../src/server/store/open-store';
import { TestSocket, type Frame } from './support/realtime';
import { createTestSchema, problemOf, registerUser, startServer, testEnv, withSearchPath, type TestServer } from './support/server';
import { POSTGRES_URL, postgresAvailable } from './support/services';
import { eventually, sleep } from './support/wait';

/**
 * The social server on PostgreSQL (DATABASE_URL), each server on a schema of its own: the REST and
 * realtime basics, idempotency keys shared by two nodes, migrations run once by nodes starting
 * together, and a real outage (a TCP proxy in front of PostgreSQL, stopped and started again).
 */

const postgres = await postgresAvailable();
const postgresAddress = new URL(POSTGRES_URL);

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverOnPostgres(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer({ postgres: true, env });
  cleanups.push(() => server.close());
  return server;
}

/** A schema of the test's own (dropped after the test): the URL that selects it. */
async function freshSchema(): Promise<string> {
  const { schema, drop } = await createTestSchema();
  cleanups.push(drop);
  return withSearchPath(POSTGRES_URL, schema);
}

/** One statement on a connection of its own, outside any store under test. */
async function admin(statement: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await client.query(statement);
  } finally {
    await client.end();
  }
}

async function createPost(server: TestServer, token: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return server.request('/api/posts', { method: 'POST', token, json: { body }, headers });
}

describe('DATABASE_URL', () => {
  it('switches the store to PostgreSQL, with a pool size and timeouts of its own', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app:secret@db.internal:5432/tandem', TANDEM_PG_POOL_SIZE: '25' }, socialApp.settings);
    expect(config.store).toMatchObject({ databaseUrl: 'postgres://app:secret@db.internal:5432/tandem', postgresPoolSize: 25, postgresConnectTimeoutMs: 5_000, postgresStatementTimeoutMs: 30_000 });
    expect(loadConfig({}, socialApp.settings).store.databaseUrl).toBeUndefined();
  });

  it('refuses a malformed URL with a ConfigError that does not repeat the password', () => {
    for (const bad of ['mysql://app:hunter2@db/tandem', 'postgres://app:hunter2@/tandem', 'not a url hunter2', 'postgres://app:hunter2@db:99999/tandem']) {
      let error: unknown;
      try {
        loadConfig({ DATABASE_URL: bad }, socialApp.settings);
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toHaveLength(1);
      expect((error as ConfigError).problems[0]).toMatch(/^DATABASE_URL: /);
      expect((error as ConfigError).message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ TANDEM_PG_POOL_SIZE: '0' }, socialApp.settings)).toThrow(/TANDEM_PG_POOL_SIZE/);
  });
});

describe('isStoreUnavailable', () => {
  it('is false for errors the store did not raise, even when they say "connection refused"', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(isStoreUnavailable(refused)).toBe(false); // an app's own outbound call stays a 500
    expect(isStoreUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(false);
    expect(isStoreUnavailable(undefined)).toBe(false);
  });
});

describe.skipIf(!postgres)('the social server on PostgreSQL', () => {
  it('runs on its own schema: register, login, a post listed with an ETag, a 304 and the position the realtime channel reports', async () => {
    const server = await serverOnPostgres();
    const schema = new URL(server.config.store.databaseUrl!).searchParams.get('options')!.replace('-c search_path=', '');
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(server.social.db);
    expect(rows[0]!.schema).toBe(schema);

    const alice = await registerUser(server);
    const login = await server.request('/api/auth/login', { method: 'POST', json: { username: alice.username, password: alice.password } });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };

    const socket = await TestSocket.connect(server, accessToken);
    cleanups.push(() => socket.close());
    const subscribed = await socket.request({ t: 'sub', ch: 'feed' });
    expect(subscribed.t).toBe('ack');
    const { e: epoch, o: before } = subscribed.d as { e: string; o: number };
    const empty = await server.request('/api/posts');
    expect(empty.headers.get('tandem-position')).toBe(String(before));

    const created = await createPost(server, accessToken, 'hello from PostgreSQL');
    expect(created.status).toBe(201);
    const post = (await created.json()) as { id: number };
    const publication: Frame = await socket.next((f) => f.t === 'pub' && f.ch === 'feed');
    expect(publication).toMatchObject({ ev: 'post.created', o: before + 1 });

    const list = await server.request('/api/posts');
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: Array<{ id: number }> }).items.map((p) => p.id)).toEqual([post.id]);
    expect(list.headers.get('tandem-channel')).toBe('feed');
    expect(list.headers.get('tandem-epoch')).toBe(epoch);
    expect(list.headers.get('tandem-position')).toBe(String(publication.o));
    const tag = list.headers.get('etag');
    expect(tag).toMatch(/^"[^"]+"$/);
    const cached = await server.request('/api/posts', { headers: { 'if-none-match': tag! } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('tandem-position')).toBe(String(publication.o));

    const one = await server.request(`/api/posts/${post.id}`);
    expect(one.status).toBe(200);
    expect((await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': one.headers.get('etag')! } })).status).toBe(304);
  });

  it('shares idempotency keys between two servers on one schema: a retry to the other node gets the stored answer', async () => {
    const first = await serverOnPostgres();
    const second = await startServer({ env: { DATABASE_URL: first.config.store.databaseUrl! } });
    cleanups.push(() => second.close());
    const alice = await registerUser(first);

    const key = `shared-${randomBytes(8).toString('hex')}`;
    const original = await createPost(first, alice.accessToken, 'once only', { 'idempotency-key': key });
    expect(original.status).toBe(201);
    const stored = (await original.json()) as { id: number };
    const retry = await createPost(second, alice.accessToken, 'once only', { 'idempotency-key': key });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual(stored);
    const reused = await createPost(second, alice.accessToken, 'something else', { 'idempotency-key': key });
    expect((await problemOf(reused)).code).toBe('idempotency_key_reused');

    // Both nodes at once with a new key: one creates, the other waits on the key and replays.
    const raced = `raced-${randomBytes(8).toString('hex')}`;
    const answers = await Promise.all([first, second].map((server) => createPost(server, alice.accessToken, 'raced', { 'idempotency-key': raced })));
    expect(answers.map((r) => r.status)).toEqual([201, 201]);
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as Array<{ id: number }>;
    expect(bodies[0]).toEqual(bodies[1]);
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(1);
    const listed = (await (await second.request('/api/posts')).json()) as { items: Array<{ body: string }> };
    expect(listed.items.map((p) => p.body).sort()).toEqual(['once only', 'raced']);
  });

  it('answers 400, never a 500, for values PostgreSQL cannot hold: a NUL character, an id beyond 32 bits', async () => {
    const server = await serverOnPostgres();
    const user = await registerUser(server);
    for (const path of ['/api/users/%00', '/api/users/a%00b', `/api/posts?cursor=${Buffer.from('c1:2147483648').toString('base64url')}`]) {
      const res = await server.request(path, { token: user.accessToken });
      expect(res.status, path).toBe(400);
    }
    const post = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body: 'a\u0000b' } });
    expect(post.status).toBe(400);
    expect((await server.request('/api/posts')).status).toBe(200);
  });

  it('migrates once when four nodes start together on a fresh schema', async () => {
    const url = await freshSchema();
    // One connection per node: the migrations' exemption from statement_timeout must not outlive them.
    const nodes = Array.from({ length: 4 }, () => openStore<unknown>({ sqlitePath: ':memory:', databaseUrl: url, postgresPoolSize: 1, postgresStatementTimeoutMs: 30_000 }));
    cleanups.push(() => Promise.all(nodes.map((node) => node.db.destroy())));
    let slowRuns = 0;
    const slow: PortableMigration = {
      name: 'zz_slow',
      async up(db) {
        slowRuns += 1;
        await sql`select pg_sleep(0.2)`.execute(db); // the others are waiting meanwhile, not done already
      },
    };
    const migrations = [...libraryMigrations, ...socialMigrations, slow];
    await Promise.all(nodes.map((node) => migrate(node.db, node.dialect, migrations)));
    expect(slowRuns).toBe(1);
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(nodes[0]!.db);
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name).sort());
    // And again, as restarted nodes would: nothing pending, nothing repeated.
    await Promise.all(nodes.map((node) => migrate(node.db, node.dialect, migrations)));
    expect(slowRuns).toBe(1);
    expect((await sql<{ n: string }>`select count(*) as n from kysely_migration`.execute(nodes[1]!.db)).rows[0]!.n).toBe(String(migrations.length));
    for (const node of nodes) expect((await sql<{ statement_timeout: string }>`show statement_timeout`.execute(node.db)).rows[0]!.statement_timeout).toBe('30s');
  });

  it('does not count its own verification against authTimeoutMs: an auth frame sent in time waits out a slow store and is accepted', async () => {
    const server = await startServer({ postgres: true, env: {}, realtimeLimits: { authTimeoutMs: 200 }, realtimeTickMs: 20 });
    cleanups.push(() => server.close());
    const alice = await registerUser(server);
    const login = await server.request('/api/auth/login', { method: 'POST', json: { username: alice.username, password: alice.password } });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const schema = new URL(server.config.store.databaseUrl!).searchParams.get('options')!.replace('-c search_path=', '');
    // The store is slow for real: another session holds the sessions table, so the gateway's
    // session check waits for the lock (a node working through a reconnect storm waits the same way).
    const locker = new pg.Client({ connectionString: POSTGRES_URL });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query(`begin; lock table ${schema}.sessions in access exclusive mode`);
    const socket = await TestSocket.open(server);
    cleanups.push(() => socket.close());
    const answer = socket.request({ t: 'auth', tok: accessToken });
    await sleep(700); // over three auth timeouts, every 20 ms tick seeing the connection still authenticating
    expect(socket.closed).toBeUndefined();
    await locker.query('rollback');
    expect(await answer).toMatchObject({ t: 'ack', d: { uid: alice.id } });
    // A connection that sends nothing is still closed on time.
    const silent = await TestSocket.open(server);
    cleanups.push(() => silent.close());
    expect((await silent.whenClosed(3_000)).code).toBe(4502);
  });

  it('migrates while other schemas of the database come and go (the test suites and preview branches of a shared database)', async () => {
    // Kysely's migrator lists the tables of every schema first; a schema dropped during that query
    // fails it (3F000, 42P01 or 42703) before anything was applied.
    const churn = new pg.Client({ connectionString: POSTGRES_URL });
    await churn.connect();
    let stop = false;
    let churned = 0;
    const churning = (async () => {
      const live: string[] = [];
      const tables = (name: string) => Array.from({ length: 6 }, (_, t) => `create table ${name}.t${t} (id serial primary key, body text, at timestamptz);`).join(' ');
      while (!stop) {
        const name = `tandem_churn_${randomBytes(4).toString('hex')}`;
        await churn.query(`create schema ${name}; ${tables(name)}`);
        live.push(name);
        if (live.length > 20) await churn.query(`drop schema ${live.shift()!} cascade`);
        churned += 1;
      }
      for (const name of live) await churn.query(`drop schema ${name} cascade`);
    })();
    try {
      for (let round = 0; round < 12; round += 1) {
        const url = await freshSchema();
        const node = openStore<unknown>({ sqlitePath: ':memory:', databaseUrl: url, postgresPoolSize: 1 });
        try {
          await migrate(node.db, node.dialect, [...libraryMigrations, ...socialMigrations]);
          const { rows } = await sql<{ n: string }>`select count(*) as n from kysely_migration`.execute(node.db);
          expect(Number(rows[0]!.n)).toBe(libraryMigrations.length + socialMigrations.length);
        } finally {
          await node.db.destroy();
        }
      }
    } finally {
      stop = true;
      await churning;
      await churn.end();
    }
    expect(churned).toBeGreaterThan(12);
  });
});

/**
 * A TCP proxy in front of PostgreSQL that the test turns off (listener closed, every connection
 * cut), on again on the same port, or into a black hole (connections accepted, nothing forwarded).
 */
class PostgresProxy {
  port = 0;
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();

  async start(mode: 'forward' | 'black-hole' = 'forward'): Promise<void> {
    const server = net.createServer((client) => {
      this.#track(client);
      if (mode === 'black-hole') return;
      const upstream = net.connect({ host: postgresAddress.hostname, port: Number(postgresAddress.port || 5432) });
      this.#track(upstream);
      client.pipe(upstream).pipe(client);
      const cut = () => (client.destroy(), upstream.destroy());
      client.on('error', cut).on('close', cut);
      upstream.on('error', cut).on('close', cut);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A URL to PostgreSQL through the proxy (same user and database). */
  url(): string {
    const url = new URL(POSTGRES_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.#sockets.delete(socket));
  }
}

/** The request's answer and how long it took. */
async function timed(request: () => Promise<Response>): Promise<{ res: Response; ms: number }> {
  const started = performance.now();
  const res = await request();
  return { res, ms: performance.now() - started };
}

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await problemOf(res)).code).toBe('unavailable');
}

describe.skipIf(!postgres)('PostgreSQL out of reach', () => {
  it('closes a realtime connection whose auth could not be verified (the store away) on its auth timeout, so the client retries', async () => {
    const proxy = new PostgresProxy();
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const server = await startServer({ postgres: true, env: { DATABASE_URL: proxy.url(), TANDEM_PG_CONNECT_TIMEOUT_MS: '300' }, realtimeLimits: { authTimeoutMs: 1_000 }, realtimeTickMs: 20 });
    cleanups.push(() => server.close());
    const alice = await registerUser(server);
    const socket = await TestSocket.open(server);
    cleanups.push(() => socket.close());
    await proxy.stop();
    const started = Date.now();
    expect(await socket.request({ t: 'auth', tok: alice.accessToken })).toMatchObject({ t: 'err', c: 'unavailable' });
    // Not left open and unauthenticated: the client's auth timeout applies again.
    expect((await socket.whenClosed(5_000)).code).toBe(4502);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('answers 503 unavailable and a failing /readyz while it is down, never a 500 or a hang, and recovers by itself', async () => {
    const proxy = new PostgresProxy();
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const server = await serverOnPostgres({ DATABASE_URL: proxy.url(), TANDEM_PG_CONNECT_TIMEOUT_MS: '500' });
    const alice = await registerUser(server);
    expect((await createPost(server, alice.accessToken, 'before the outage')).status).toBe(201);
    expect((await server.request('/readyz')).status).toBe(200);

    // Down: every connection cut, new ones refused. The pause lets the pool's idle connection see
    // its end while idle (the pool drops it and reports it; that must not crash the process).
    await proxy.stop();
    await sleep(100);
    const requests = [
      () => server.request('/api/posts'),
      () => createPost(server, alice.accessToken, 'during the outage'),
      () => server.request('/api/auth/login', { method: 'POST', json: { username: alice.username, password: alice.password } }),
    ];
    for (const request of requests) {
      const { res, ms } = await timed(request);
      await expectUnavailable(res);
      expect(ms).toBeLessThan(2_000);
    }
    const ready = await server.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'store_unreachable' });
    expect((await server.request('/healthz')).status).toBe(200); // the process itself is fine

    // A database that accepts connections but never answers: the connect deadline, not a hang.
    await proxy.start('black-hole');
    const { res: stalled, ms } = await timed(() => server.request('/api/posts'));
    await expectUnavailable(stalled);
    expect(ms).toBeLessThan(3_000);
    expect((await server.request('/readyz')).status).toBe(503);
    await proxy.stop();

    // Back: the pool reconnects on its own.
    await proxy.start();
    await eventually(async () => (await server.request('/readyz')).status === 200, '/readyz to answer 200 again');
    const after = await server.request('/api/posts');
    expect(after.status).toBe(200);
    expect(((await after.json()) as { items: Array<{ body: string }> }).items.map((p) => p.body)).toEqual(['before the outage']);
    expect((await createPost(server, alice.accessToken, 'after the outage')).status).toBe(201);
  });

  it('refuses to start, with a clear error, when PostgreSQL is out of reach', async () => {
    const proxy = new PostgresProxy();
    await proxy.start();
    const url = proxy.url();
    await proxy.stop();
    const config = loadConfig({ ...testEnv(), DATABASE_URL: url, TANDEM_PG_CONNECT_TIMEOUT_MS: '500' }, socialApp.settings);
    await expect(createServer({ app: socialApp, config, logger: false })).rejects.toThrow(/^Migrations could not start on PostgreSQL: .*ECONNREFUSED/);
  });

  it('counts an administrator ending the session (57P01) as unavailable, and goes on with a new connection', async () => {
    const name = `tandem_test_${randomBytes(6).toString('hex')}`;
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', name); // to find this store's session among the others
    const { db } = openStore<unknown>({ sqlitePath: ':memory:', databaseUrl: url.toString() });
    cleanups.push(() => db.destroy());
    const sleeping = sql`select pg_sleep(30)`.execute(db).then(() => undefined, (error: unknown) => error);
    await eventually(async () => (await admin(`select 1 from pg_stat_activity where application_name = '${name}' and state = 'active'`)).rowCount === 1, 'the query to run');
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${name}'`);
    const error = await sleeping;
    expect(error).toMatchObject({ code: '57P01' });
    expect(isStoreUnavailable(error)).toBe(true);
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  });

  it('survives a connection that breaks while lent out: the next query fails as unavailable, the process lives on', async () => {
    const proxy = new PostgresProxy();
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const { db } = openStore<unknown>({ sqlitePath: ':memory:', databaseUrl: proxy.url(), postgresConnectTimeoutMs: 500 });
    cleanups.push(() => db.destroy());
    const failure = await db.transaction().execute(async (trx: Kysely<unknown>) => {
      await sql`select 1`.execute(trx);
      await proxy.stop(); // between two statements of the transaction: the connection emits 'error' on itself
      await sleep(50);
      return sql`select 1`.execute(trx);
    }).then(() => undefined, (error: unknown) => error);
    expect(isStoreUnavailable(failure)).toBe(true);
    await proxy.start();
    await eventually(async () => (await sql<{ one: number }>`select 1 as one`.execute(db).then((r) => r.rows[0]?.one, () => undefined)) === 1, 'the pool to reconnect');
  });
});
