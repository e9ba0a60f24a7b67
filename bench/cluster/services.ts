/**
 * What the nodes run on, set up and torn down by the bench: a PostgreSQL schema per setup (dropped
 * at the end), an idle redis-server of the bench's own on a random port (or an existing Redis,
 * whose keys under the bench's prefix are deleted), nginx on deploy/nginx.conf for the storm, and
 * the process ids whose CPU time is read (Redis's from `INFO server`, PostgreSQL backends of a
 * node from its sockets).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { log, onCleanup, running, spawnPinned, stop } from './processes';
import { ROOT, opts } from './settings';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function admin<T>(statement: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(statement, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A fresh schema (dropped when the run ends, however it ends); the URL a node uses to reach it. */
export async function createSchema(label: string): Promise<{ schema: string; url: string }> {
  const schema = `bench_cluster_${label}_${Math.random().toString(36).slice(2, 10)}`;
  await admin(`create schema ${schema}`);
  onCleanup(`drop schema ${schema}`, async () => void (await admin(`drop schema if exists ${schema} cascade`)));
  const url = new URL(opts.databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { schema, url: url.toString() };
}

export interface RedisService {
  url: string;
  /** From `INFO server` process_id; its CPU is readable only when Redis runs on this machine. */
  pid: number;
  /** Whether the bench started it (an idle Redis) or uses an existing one. */
  own: boolean;
  /** Deletes every key under `prefix`. */
  deletePrefix(prefix: string): Promise<number>;
}

async function redisPid(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect();
  try {
    const info = await redis.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    if (!Number.isInteger(pid)) throw new Error('INFO server has no process_id');
    return pid;
  } finally {
    redis.disconnect();
  }
}

async function deletePrefixAt(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

async function pingable(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** --redis-url's Redis, or a redis-server of the bench's own (no persistence) pinned with the nodes. */
export async function startRedis(): Promise<RedisService> {
  if (opts.redisUrl !== '') {
    return { url: opts.redisUrl, pid: await redisPid(opts.redisUrl), own: false, deletePrefix: (prefix) => deletePrefixAt(opts.redisUrl, prefix) };
  }
  const port = await freePort();
  const child = spawnPinned([opts.redisServer, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], opts.serverCpu, process.env, false, true);
  child.stdout?.resume();
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await pingable(url))) {
    if (!running(child)) throw new Error(`${opts.redisServer} exited (code ${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`${opts.redisServer} did not answer on port ${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  onCleanup('stop redis-server', () => stop(child, 3000));
  return { url, pid: await redisPid(url), own: true, deletePrefix: (prefix) => deletePrefixAt(url, prefix) };
}

export interface NginxService {
  url: string;
  /** The master and its workers. */
  pids(): number[];
  /** Its error log so far, by message and upstream node ('A' / 'B'), counted. */
  errors(): Record<string, number>;
  stop(): Promise<void>;
}

/** deploy/nginx.conf with its two upstream ports replaced by the nodes' and a free port of its own, pinned with the nodes. */
export async function startNginx(portA: number, portB: number): Promise<NginxService> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-nginx-'));
  const removeDir = onCleanup(`remove ${prefix}`, async () => fs.rmSync(prefix, { recursive: true, force: true }));
  const port = await freePort();
  const conf = fs
    .readFileSync(path.join(ROOT, 'deploy', 'nginx.conf'), 'utf8')
    .replaceAll('127.0.0.1:3001', `127.0.0.1:${portA}`)
    .replaceAll('127.0.0.1:3002', `127.0.0.1:${portB}`)
    .replace('listen 127.0.0.1:8080 ', `listen 127.0.0.1:${port} `)
    .replace(/max_fails=\d+ /g, (shipped) => (opts.nginxMaxFails === '' ? shipped : `max_fails=${opts.nginxMaxFails} `));
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf);
  fs.mkdirSync(path.join(prefix, 'logs'));
  const child = spawnPinned([opts.nginx, '-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-g', `daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/logs/error.log error;`], opts.serverCpu, process.env, false, true);
  child.stdout?.resume();
  const stopNginx = onCleanup('stop nginx', () => stop(child, 3000));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
    if (!running(child)) throw new Error(`nginx exited (code ${child.exitCode}); see ${prefix}/logs/error.log`);
    if (Date.now() > deadline) throw new Error('nginx did not answer within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    pids: () => (child.pid === undefined ? [] : [child.pid, ...childPids(child.pid)]),
    errors: () => errorKinds(path.join(prefix, 'logs', 'error.log'), { [String(portA)]: 'A', [String(portB)]: 'B' }),
    async stop() {
      await stopNginx();
      await removeDir();
    },
  };
}

/** nginx error-log lines grouped by their message (the part before ", client:") and upstream node. */
function errorKinds(file: string, nodeOfPort: Record<string, string>): Record<string, number> {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const kinds: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /\[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:, client:.*?)?(?:, upstream: "http:\/\/127\.0\.0\.1:(\d+)[^"]*")?(?:, host:.*)?$/.exec(line);
    if (match === null) continue;
    const node = match[3] === undefined ? '' : ` (node ${nodeOfPort[match[3]] ?? match[3]})`;
    const key = `${match[1]}: ${match[2]!.replace(/\d+ worker_connections/, 'N worker_connections')}${node}`;
    kinds[key] = (kinds[key] ?? 0) + 1;
  }
  return kinds;
}

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Local ports of a process's TCP connections to `remotePort` on this machine (/proc/<pid>/fd and /proc/net/tcp). */
function localPortsTo(pid: number, remotePort: number): number[] {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '';
        } catch {
          return '';
        }
      }).filter(Boolean),
    );
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const local = Number.parseInt(f[1]!.split(':')[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(':')[1]!, 16);
      if (remote === remotePort) ports.push(local);
    }
  }
  return ports;
}

/** The PostgreSQL backends serving `pids`' pools (matched by client port in pg_stat_activity); [] when unknown. */
export async function postgresBackends(pids: number[]): Promise<number[]> {
  const pgPort = Number(new URL(opts.databaseUrl).port || 5432);
  const ports = pids.flatMap((pid) => localPortsTo(pid, pgPort));
  if (ports.length === 0) return [];
  try {
    const rows = await admin<{ pid: number }>('select pid from pg_stat_activity where client_port = any($1::int[])', [ports]);
    return rows.map((r) => r.pid);
  } catch (error) {
    log(`  (PostgreSQL backends unknown: ${String(error)})`);
    return [];
  }
}
