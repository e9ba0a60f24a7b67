/**
 * The server side of a storm round: starting the server under test (Tandem's node on a data
 * folder, or Socket.IO) on CPU 0 with the settings a deployment would give it, stopping it the
 * way --restart says, and the REST calls the runner makes (the publisher's posts, the feed's
 * position, the node's subscription count).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitForLine } from '../common/children';
import { spawnNode } from '../realtime/processes';
import { HOST, opts, type ServerKind } from './settings';

export interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  base: string;
}

const SCRIPT: Record<ServerKind, string> = { tandem: 'bench/storm/tandem-node.ts', socketio: 'bench/storm/socketio-node.ts' };
const JWT_SECRET = randomBytes(32).toString('base64url');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Data folders not yet removed: removed at exit, however the run ends. */
const dataDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh SQLite data folder for one round's Tandem node (removed by removeDataDir, or at exit). */
export function newDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-storm-'));
  dataDirs.add(dir);
  return dir;
}

export function removeDataDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  dataDirs.delete(dir);
}

/**
 * The settings a deployment would give one node serving 10,000 users behind a few addresses
 * (docs/performance.md, "Reconnect storm"): per-IP budgets scaled to the users behind one address.
 */
export function tandemSettings(): Record<string, string> {
  const perAddress = Math.ceil(opts.clients / opts.addresses);
  return {
    TANDEM_WS_CONNECTIONS_PER_IP: String(Math.max(50, 2 * perAddress)),
    TANDEM_WS_HANDSHAKES_PER_IP: String(opts.handshakesPerIp),
    TANDEM_WS_NEW_CONNECTIONS_PER_SECOND: String(opts.nodeRate),
    TANDEM_RATE_LIMIT: String(Math.max(600, 60 * perAddress)),
    TANDEM_RATE_LIMIT_BURST: String(Math.max(120, 20 * perAddress)),
    TANDEM_ACCESS_TOKEN_TTL: '7200',
    TANDEM_SEED: 'false',
  };
}

export async function startServer(kind: ServerKind, port: number, dataDir: string | undefined): Promise<Server> {
  const env: NodeJS.ProcessEnv = { PORT: String(port), HOST, LOG_LEVEL: 'error' };
  if (kind === 'tandem') Object.assign(env, tandemSettings(), { TANDEM_DATA_DIR: dataDir, TANDEM_JWT_SECRET: JWT_SECRET }, opts.heartbeatMs === 0 ? {} : { TANDEM_WS_HEARTBEAT_MS: String(opts.heartbeatMs) });
  const child = spawnNode(SCRIPT[kind], opts.serverCpu, opts.serverNodeArgs, false, env);
  const match = await waitForLine(child, /listening on (\d+)/, `${kind} server`, 60_000);
  return { child, pid: child.pid!, port: Number(match[1]), base: `http://${HOST}:${match[1]}` };
}

export async function getJson<T>(url: string): Promise<{ body: T; headers: Headers }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return { body: (await response.json()) as T, headers: response.headers };
}

/** POST /api/posts as the publisher, retried while the server restarts or sheds load; resolves with the post id. */
export async function publish(base: string, token: string, text: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${base}/api/posts`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ body: text }) });
      if (response.status === 201) return ((await response.json()) as { id: number }).id;
      if (attempt >= 100) throw new Error(`POST /api/posts: ${response.status} ${await response.text()}`);
    } catch (error) {
      if (attempt >= 100) throw error;
    }
    await sleep(100);
  }
}

export const feedPosition = async (base: string) => Number((await getJson<unknown>(`${base}/api/posts?limit=1`)).headers.get('tandem-position'));

export async function waitSubscriptions(server: Server, count: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { body } = await getJson<{ subscriptions: number }>(`${server.base}/bench/stats`);
    if (body.subscriptions === count) return;
    if (Date.now() > deadline) throw new Error(`${body.subscriptions} subscriptions on the server, expected ${count}`);
    await sleep(100);
  }
}

/** SIGTERM (the drain) or SIGKILL, as --restart says; resolves once the process is gone (SIGKILL after 30 s). */
export async function signalAndWait(server: Server): Promise<void> {
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  if (opts.restart === 'sigkill') process.kill(-server.pid, 'SIGKILL');
  else server.child.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000)]);
  if (server.child.exitCode === null && server.child.signalCode === null) {
    process.kill(-server.pid, 'SIGKILL');
    await exited;
  }
}
