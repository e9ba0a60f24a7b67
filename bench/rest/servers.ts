/**
 * The servers under test: Tandem, the same-work floor (Fastify + better-sqlite3 on Tandem's file)
 * and the bare Fastify route, and the check that they answer `GET /api/posts/:id` byte for byte
 * alike.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitForLine } from '../common/children';
import { baseEnv, spawnNode } from './processes';
import { DEMO_PASSWORD, DEMO_USERS } from '../../src/apps/social/seed';
import { HOST, POST_ID, opts } from './settings';

export type ServerName = 'tandem' | 'floor' | 'bare';

export interface Server {
  name: ServerName;
  child: ChildProcess;
  pid: number;
  url: string;
}

/** Tandem's answer to the benched request: what the bare server must serve too. */
export interface Reference {
  body: Buffer;
  etag: string;
  cacheControl: string;
  contentType: string;
  /** A signed-in demo user's access token, and Tandem's answer to its `GET /api/me`. */
  token: string;
  me: { body: Buffer; etag: string };
}

export async function startTandem(dataDir: string): Promise<Server> {
  const child = spawnNode(path.join('src', 'apps', 'social', 'main.ts'), opts.serverCpu, {
    ...baseEnv(),
    PORT: '0',
    HOST,
    TANDEM_DATA_DIR: dataDir,
    LOG_LEVEL: opts.tandemLogLevel,
    // The config caps both at 10,000,000: at the bench's rate the bucket never runs dry, but
    // the limiter still does all of its work on every request.
    TANDEM_RATE_LIMIT: '10000000',
    TANDEM_RATE_LIMIT_BURST: '10000000',
    TANDEM_SEED: 'true',
    // One token serves the whole run.
    TANDEM_ACCESS_TOKEN_TTL: '7200',
  }, opts.tandemNodeArgs);
  const match = await waitForLine(child, /Tandem social: http:\/\/[^:]+:(\d+)/, 'Tandem');
  return { name: 'tandem', child, pid: child.pid!, url: `http://${HOST}:${match[1]}` };
}

export async function startBare(ref: Reference): Promise<Server> {
  const child = spawnNode(path.join('bench', 'rest', 'bare-server.ts'), opts.serverCpu, {
    ...baseEnv(),
    PORT: '0',
    BENCH_BODY_B64: ref.body.toString('base64'),
    BENCH_ETAG: ref.etag,
    BENCH_CACHE_CONTROL: ref.cacheControl,
    BENCH_CONTENT_TYPE: ref.contentType,
  });
  const match = await waitForLine(child, /bare listening on (\d+)/, 'bare server');
  return { name: 'bare', child, pid: child.pid!, url: `http://${HOST}:${match[1]}` };
}

export async function startFloor(ref: Reference, dataDir: string): Promise<Server> {
  const child = spawnNode(path.join('bench', 'rest', 'floor-server.ts'), opts.serverCpu, {
    ...baseEnv(),
    PORT: '0',
    BENCH_DB: path.join(dataDir, 'tandem.sqlite'),
    BENCH_CACHE_CONTROL: ref.cacheControl,
  });
  const match = await waitForLine(child, /floor listening on (\d+)/, 'floor server');
  return { name: 'floor', child, pid: child.pid!, url: `http://${HOST}:${match[1]}` };
}

/** Signs in a seeded demo user on Tandem: the bearer token of the authenticated target. */
export async function signIn(tandem: Server): Promise<string> {
  const response = await fetch(`${tandem.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: DEMO_USERS[0]!.username, password: DEMO_PASSWORD }) });
  if (response.status !== 200) throw new Error(`signing in on Tandem answered ${response.status}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

export async function fetchMe(server: Server, token: string) {
  const response = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), etag: response.headers.get('etag') ?? '' };
}

export async function fetchPost(server: Server, ifNoneMatch?: string) {
  const response = await fetch(`${server.url}/api/posts/${POST_ID}`, { headers: ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch } });
  const body = Buffer.from(await response.arrayBuffer());
  const header = (name: string) => response.headers.get(name) ?? '';
  return { status: response.status, body, etag: header('etag'), cacheControl: header('cache-control'), contentType: header('content-type') };
}

/** The bare server must answer byte-for-byte what Tandem answers, or the comparison means nothing. */
export async function verifySameAnswers(servers: readonly Server[], ref: Reference): Promise<void> {
  const problems: string[] = [];
  for (const server of servers) {
    const ok = await fetchPost(server);
    if (ok.status !== 200) problems.push(`${server.name}: 200 expected, got ${ok.status}`);
    if (!ok.body.equals(ref.body)) problems.push(`${server.name}: body differs`);
    if (ok.etag !== ref.etag) problems.push(`${server.name}: etag ${ok.etag} != ${ref.etag}`);
    if (ok.cacheControl !== ref.cacheControl) problems.push(`${server.name}: cache-control differs`);
    if (ok.contentType !== ref.contentType) problems.push(`${server.name}: content-type ${ok.contentType} != ${ref.contentType}`);
    const cached = await fetchPost(server, ref.etag);
    if (cached.status !== 304) problems.push(`${server.name}: 304 expected for If-None-Match, got ${cached.status}`);
    if (cached.body.length !== 0) problems.push(`${server.name}: 304 has a body`);
    if (cached.etag !== ref.etag || cached.cacheControl !== ref.cacheControl) problems.push(`${server.name}: 304 headers differ`);
  }
  for (const server of servers.filter((s) => s.name !== 'bare')) {
    const me = await fetchMe(server, ref.token);
    if (me.status !== 200) problems.push(`${server.name}: GET /api/me answered ${me.status}`);
    if (!me.body.equals(ref.me.body) || me.etag !== ref.me.etag) problems.push(`${server.name}: GET /api/me differs`);
  }
  if (problems.length > 0) throw new Error(`The servers do not answer alike:\n  ${problems.join('\n  ')}`);
}
