import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { socialApp } from '../../src/apps/social/app';
import type { SocialSettings } from '../../src/apps/social/context';
import { createServer, runtimeOf } from '../../src/server/assembly/create-server';
import { kInternal } from '../../src/server/assembly/plugin';
import { loadConfig, type TandemConfig } from '../../src/server/config/config';
import type { RealtimeLimits } from '../../src/server/realtime/types';
import { startCluster } from './cluster';
import { POSTGRES_URL } from './services';
import { clusterTarget } from './target';
import { requestAt } from './http';

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The social server's parts the tests look at (its runtime, reached through the repository-internal runtimeOf). */
export interface SocialParts {
  app: Awaited<ReturnType<typeof createServer>>['fastify'];
  db: ReturnType<typeof runtimeOf<import('../../src/apps/social/db').SocialDb, SocialSettings>>['db'];
  hub: ReturnType<typeof runtimeOf>['hub'];
  gateway: ReturnType<typeof runtimeOf>['gateway'];
  announcer: ReturnType<typeof runtimeOf>['announcer'];
  /** Whether the server found a built web UI to serve. */
  webUi: boolean;
}

/**
 * A real social server on 127.0.0.1:<port 0> with its own SQLite file in a temp folder (or its own
 * PostgreSQL schema: `postgres: true`); on the cluster target, two nodes seen as one (startServer).
 */
export interface TestServer {
  url: string;
  social: SocialParts;
  config: TandemConfig<SocialSettings>;
  dataDir: string;
  /** fetch against the server: path relative to its URL. */
  request(pathname: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<Response>;
  close(): Promise<void>;
}

/** Settings that keep tests fast and unthrottled unless a test asks for limits. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TANDEM_SEED: 'false',
    LOG_LEVEL: 'silent',
    TANDEM_RATE_LIMIT: '1000000',
    TANDEM_RATE_LIMIT_BURST: '1000000',
    TANDEM_LOGIN_LIMIT_IP: '100000',
    TANDEM_LOGIN_LIMIT_ACCOUNT: '100000',
    ...overrides,
  };
}

export interface StartOptions {
  env?: Record<string, string>;
  clock?: () => number;
  /** Realtime limits for this server (e.g. a 200 ms auth timeout). */
  realtimeLimits?: Partial<RealtimeLimits>;
  /** The gateway's shared timer granularity; tests that wait on timeouts use ~20 ms. */
  realtimeTickMs?: number;
  /** An existing data folder the test owns (kept on close), so a second server can start on the same store. */
  dataDir?: string;
  /** A fixed port (a restarted server on the same address); default 0. */
  port?: number;
  /** The built web UI to serve (default: the app's, dist/web). */
  webRoot?: string;
  /**
   * Run on PostgreSQL: a fresh schema (random name) in POSTGRES_URL's database, dropped on close.
   * `env.DATABASE_URL`, when given, is the server's way to that same database (a proxy in front of
   * it, say); the schema's search_path is added to it. The caller checks postgresAvailable() first.
   */
  postgres?: boolean;
}

/** Creates a schema with a random name in POSTGRES_URL's database; `drop` removes it and its tables. */
export async function createTestSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `tandem_test_${randomBytes(6).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create schema ${schema}`);
  return { schema, drop: () => admin(`drop schema if exists ${schema} cascade`) };
}

/** `base` with `?options=-c search_path=<schema>` set. */
export function withSearchPath(base: string, schema: string): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/**
 * The server a test runs against: one process (startNode), or under TANDEM_TEST_TARGET=cluster
 * two nodes of one cluster seen as one TestServer (see clusterServer).
 */
export function startServer(options: StartOptions = {}): Promise<TestServer> {
  return clusterTarget ? clusterServer(options) : startNode(options);
}

/**
 * Two nodes A and B of one cluster (PostgreSQL schema + Redis prefix) as one TestServer: `url` and
 * `social` are node A's (realtime clients connect there), `request()` alternates A, B, A, … so REST
 * writes land on both nodes and their publications reach A's clients through Redis; `close()`
 * closes both and removes the schema and the prefix.
 */
async function clusterServer(options: StartOptions): Promise<TestServer> {
  // A restart on the same store would keep the history in Redis, which is not what such a test is about.
  if (options.dataDir !== undefined || options.port !== undefined) throw new Error('dataDir and port restart one process on its SQLite file: mark the test singleNode');
  const { postgres: _ownSchema, ...nodeOptions } = options;
  const cluster = await startCluster({ ...nodeOptions, nodes: 0 });
  // Together: B's start overlaps A's migrations (it waits on their advisory lock, then finds none to run).
  const started = await Promise.allSettled([cluster.addNode(), cluster.addNode()]);
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await cluster.close();
    throw failed.reason;
  }
  const [a, b] = started.map((result) => (result as PromiseFulfilledResult<TestServer>).value) as [TestServer, TestServer];
  let calls = 0;
  return {
    url: a.url,
    social: a.social,
    config: a.config,
    dataDir: a.dataDir,
    request: (pathname, init) => (calls++ % 2 === 0 ? a : b).request(pathname, init),
    close: () => cluster.close(),
  };
}

/** One social server process (see StartOptions). */
export async function startNode(options: StartOptions = {}): Promise<TestServer> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-test-'));
  // A server that refuses to start (the tests of bad settings, of a database out of reach) leaves nothing behind.
  const removeDataDir = () => {
    if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return await startNodeIn(dataDir, removeDataDir, options);
  } catch (error) {
    removeDataDir();
    throw error;
  }
}

async function startNodeIn(dataDir: string, removeDataDir: () => void, options: StartOptions): Promise<TestServer> {
  const postgres = options.postgres === true ? await createTestSchema() : undefined;
  const databaseUrl = postgres === undefined ? {} : { DATABASE_URL: withSearchPath(options.env?.DATABASE_URL ?? POSTGRES_URL, postgres.schema) };
  const config = loadConfig({ ...testEnv(options.env), TANDEM_DATA_DIR: dataDir, ...databaseUrl }, socialApp.settings);
  Object.assign(config.realtime, options.realtimeLimits);
  if (options.webRoot !== undefined) config.app.webRoot = options.webRoot;
  const server = await createServer({
    app: socialApp,
    config,
    logger: false,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.realtimeTickMs ? { [kInternal]: { realtimeTickMs: options.realtimeTickMs } } : {}),
  }).catch(async (error: unknown) => {
    await postgres?.drop();
    throw error;
  });
  const url = await server.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const runtime = runtimeOf(server);
  const social: SocialParts = {
    app: server.fastify,
    db: runtime.db,
    hub: runtime.hub,
    gateway: runtime.gateway,
    announcer: runtime.announcer,
    webUi: fs.existsSync(path.join(path.resolve(REPOSITORY_ROOT, config.app.webRoot), 'index.html')),
  };
  return {
    url,
    social,
    config,
    dataDir,
    request: requestAt(url),
    async close() {
      await server.close();
      await postgres?.drop();
      removeDataDir();
    },
  };
}

export interface TestUser {
  id: number;
  username: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

let userCounter = 0;

/** Registers a fresh user through the API and returns their tokens. */
export async function registerUser(server: TestServer, name?: string): Promise<TestUser> {
  userCounter += 1;
  const username = name ?? `user${process.pid % 10000}_${userCounter}`;
  const password = 'correct horse battery';
  const res = await server.request('/api/auth/register', { method: 'POST', json: { username, password } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { accessToken: string; refreshToken: string; user: { id: number; username: string } };
  return { id: body.user.id, username: body.user.username, password, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

/** Reads a problem+json answer and checks its shape. */
export async function problemOf(res: Response): Promise<{ code: string; status: number; title: string; detail?: string; errors?: Array<{ field: string; message: string }> }> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${type}: ${await res.text()}`);
  return (await res.json()) as never;
}
