/**
 * Starting, querying and stopping the Tandem nodes (node-server.ts) of one setup: the single node
 * (memory broker) or the cluster's nodes A and B (Redis broker), all on PostgreSQL, pinned to the
 * server core, with the same raised limits.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { waitForLine } from '../common/children';
import { kill9, log, spawnNode, stop } from './processes';
import { opts } from './settings';

const UNLIMITED = '1000000';
const JWT_SECRET = randomBytes(32).toString('base64url');

/**
 * The limits every node runs with. Every client of the bench comes from 127.0.0.1 and the
 * publisher is one user, so the per-IP, per-user and REST limits would refuse the bench itself;
 * they are raised, their checks still run. The node-wide new-connection pace is --storm-node-rate.
 */
export function raisedLimits(): Record<string, string> {
  return {
    TANDEM_RATE_LIMIT: '10000000',
    TANDEM_RATE_LIMIT_BURST: '10000000',
    TANDEM_WS_CONNECTIONS_PER_IP: UNLIMITED,
    TANDEM_WS_CONNECTIONS_PER_USER: UNLIMITED,
    TANDEM_WS_HANDSHAKES_PER_IP: UNLIMITED,
    TANDEM_WS_NEW_CONNECTIONS_PER_SECOND: String(opts.nodeNewConnectionsPerSecond),
  };
}

export interface NodeHandle {
  /** 'single', 'A' or 'B'. */
  name: string;
  child: ChildProcess;
  pid: number;
  port: number;
  base: string;
}

export interface ClusterEnv {
  redisUrl: string;
  prefix: string;
}

/**
 * Starts one node on `databaseUrl`; with `cluster`, a node of that cluster (TANDEM_NODE_ID n<name>).
 * A node that fails to start is tried twice more: on a database where other schemas come and go
 * (test suites), its migration check can fail on its own (see docs/performance.md, "Cluster").
 */
export async function startNode(name: string, databaseUrl: string, cluster?: ClusterEnv): Promise<NodeHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNodeOnce(name, databaseUrl, cluster);
    } catch (error) {
      if (attempt >= 3) throw error;
      log(`  node ${name} did not start (${error instanceof Error ? error.message : String(error)}); trying again`);
    }
  }
}

async function startNodeOnce(name: string, databaseUrl: string, cluster?: ClusterEnv): Promise<NodeHandle> {
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: databaseUrl,
    TANDEM_JWT_SECRET: JWT_SECRET,
    // Tokens are issued once per run and reused by every round.
    TANDEM_ACCESS_TOKEN_TTL: '7200',
    TANDEM_TRUST_PROXY: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ...(opts.profileDir === '' ? {} : { BENCH_PROFILE_DIR: opts.profileDir }),
    ...(opts.listenBacklog === '' ? {} : { BENCH_LISTEN_BACKLOG: opts.listenBacklog }),
    ...raisedLimits(),
    ...(cluster === undefined ? {} : { TANDEM_REDIS_URL: cluster.redisUrl, TANDEM_REDIS_PREFIX: cluster.prefix, TANDEM_NODE_ID: `n${name}` }),
  };
  const child = spawnNode('bench/cluster/node-server.ts', opts.serverCpu, opts.nodeArgs, false, env);
  try {
    const match = await waitForLine(child, /listening on (\d+)/, `node ${name}`, 60_000);
    const port = Number(match[1]);
    return { name, child, pid: child.pid!, port, base: `http://127.0.0.1:${port}` };
  } catch (error) {
    kill9(child);
    throw error;
  }
}

export async function control<T>(node: NodeHandle, pathname: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const response = await fetch(node.base + pathname, { method });
  if (!response.ok) throw new Error(`node ${node.name} ${pathname}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export interface NodeStats {
  connections: number;
  subscriptions: number;
  channels: number;
  pid: number;
}

/** Waits until `node` holds `count` subscriptions (the clients count acks, this double-checks the server). */
export async function waitSubscriptions(node: NodeHandle, count: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const stats = await control<NodeStats>(node, '/bench/stats');
    if (stats.subscriptions === count) return;
    if (Date.now() > deadline) throw new Error(`node ${node.name}: ${stats.subscriptions} subscriptions, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const stopNode = (node: NodeHandle): Promise<void> => stop(node.child);
