import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { socialApp } from '../../src/apps/social/app';
import type { SocialSettings } from '../../src/apps/social/context';
import { createServer, runtimeOf } from '../../src/server/assembly/create-server';
import { kInternal } from '../../src/server/assembly/plugin';
import { loadConfig, type TandemConfig } from '../../src/server/config/config';
import type { RealtimeLimits } from '../../src/server/realtime/types';

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

/** A real social server on 127.0.0.1:<port 0> with its own SQLite file in a temp folder. */
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
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-test-'));
  const config = loadConfig({ ...testEnv(options.env), TANDEM_DATA_DIR: dataDir }, socialApp.settings);
  Object.assign(config.realtime, options.realtimeLimits);
  if (options.webRoot !== undefined) config.app.webRoot = options.webRoot;
  const server = await createServer({
    app: socialApp,
    config,
    logger: false,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.realtimeTickMs ? { [kInternal]: { realtimeTickMs: options.realtimeTickMs } } : {}),
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
    request(pathname, init = {}) {
      const { json, token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (json !== undefined) {
        headers.set('content-type', 'application/json');
        rest.body = JSON.stringify(json);
      }
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      return fetch(url + pathname, { ...rest, headers });
    },
    async close() {
      await server.close();
      if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
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
