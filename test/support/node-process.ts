import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createTestSchema, testEnv, withSearchPath } from './server';
import { POSTGRES_URL, REDIS_URL, deleteRedisPrefix } from './services';
import { requestAt } from './http';

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '..', '..');
const MAIN = path.join(REPOSITORY_ROOT, 'src/apps/social/main.ts');
/** Lines of a node's output kept for a failure message. */
const KEPT_LINES = 200;

/**
 * A social node in a process of its own, started as scripts/cluster.ts starts one (`node --import
 * tsx src/apps/social/main.ts` with env), so a test can SIGKILL it for real.
 */
export interface NodeProcess {
  readonly nodeId: string;
  readonly url: string;
  readonly pid: number;
  /** How it ended, once it has. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Its last lines of output (stdout and stderr), for a failure message. */
  output(): string;
  /** fetch against the node: path relative to its URL. */
  request(pathname: string, init?: RequestInit & { json?: unknown; token?: string }): Promise<Response>;
  /** Sends `signal` and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (the node drains), SIGKILL after `graceMs`; resolves once gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface NodeProcessOptions {
  nodeId: string;
  /** The node's settings, over testEnv()'s and HOST=127.0.0.1, PORT=0. */
  env: Record<string, string>;
  /** Flags for node itself, before the script (`--cpu-prof` to see where a node's CPU goes). */
  nodeArgs?: string[];
  /** How long the node may take to listen. Default 60 s: a start costs ~5 s of CPU (tsx, the app's modules, migrations), and a loaded 2-core machine stretches that. */
  startTimeoutMs?: number;
}

/** Starts a node and resolves once it listens (its URL read from its output); kills it if it cannot start. */
export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', MAIN], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, ...testEnv({ LOG_LEVEL: 'warn' }), HOST: '127.0.0.1', PORT: '0', TANDEM_NODE_ID: options.nodeId, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') lines.push(line);
      if (lines.length > KEPT_LINES) lines.splice(0, lines.length - KEPT_LINES);
    });
  };
  keep(child.stdout!);
  keep(child.stderr!);
  let exit: NodeProcess['exit'];
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
  });
  const output = () => lines.join('\n');
  let url: string;
  try {
    url = await listening(child, exited, options.startTimeoutMs ?? 60_000, () => `${options.nodeId}: ${output()}`);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (exit === undefined) child.kill(signal);
    await exited;
  };
  return {
    nodeId: options.nodeId,
    url,
    pid: child.pid!,
    get exit() {
      return exit;
    },
    output,
    request: requestAt(url),
    kill,
    async stop(graceMs = 5_000) {
      if (exit !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The URL main.ts prints once it listens ("Tandem social: http://…"). */
function listening(child: ChildProcess, exited: Promise<void>, timeoutMs: number, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer | string) => {
      seen += chunk.toString();
      const match = /Tandem social: (http:\/\/\S+)/.exec(seen);
      if (match !== null) done(undefined, match[1]);
    };
    const timer = setTimeout(() => done(new Error(`the node did not listen within ${timeoutMs} ms: ${output()}`)), timeoutMs);
    function done(error: Error | undefined, url?: string): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      if (error === undefined) resolve(url!);
      else reject(error);
    }
    child.stdout?.on('data', onData);
    void exited.then(() => done(new Error(`the node exited before listening: ${output()}`)));
  });
}

/** N node processes of one cluster: a fresh PostgreSQL schema and Redis key prefix, removed by close(). */
export interface ProcessCluster {
  nodes: NodeProcess[];
  /** Env every node runs with (a node started later joins with these). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface ProcessClusterOptions {
  nodes?: number;
  /** Settings of every node, over the cluster's (TANDEM_REDIS_URL may point at a test's own Redis). */
  env?: Record<string, string>;
  /** Settings of node i (0-based) only, over those: one node reaching Redis through a faulty link, say. */
  nodeEnv?: (index: number) => Record<string, string>;
  /** Flags for node itself, on every node (see NodeProcessOptions). */
  nodeArgs?: string[];
}

/**
 * Starts the nodes together, as a deploy would (they migrate the schema one at a time under
 * PostgreSQL's advisory lock); n1, n2, …
 */
export async function startProcessCluster(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  const { schema, drop } = await createTestSchema();
  const redisPrefix = `tandem-test:${randomBytes(5).toString('hex')}:`;
  const env: Record<string, string> = {
    DATABASE_URL: withSearchPath(POSTGRES_URL, schema),
    TANDEM_REDIS_URL: REDIS_URL,
    TANDEM_REDIS_PREFIX: redisPrefix,
    TANDEM_NODE_TTL_MS: '1000',
    TANDEM_GAP_TIMEOUT_MS: '300',
    ...options.env,
  };
  const nodes: NodeProcess[] = [];
  const close = async () => {
    await Promise.allSettled(nodes.map((node) => node.stop()));
    // Keys of the cluster's own Redis only: a test's private Redis goes away with its process.
    if (env.TANDEM_REDIS_URL === REDIS_URL) await deleteRedisPrefix(redisPrefix).catch(() => undefined);
    await drop();
  };
  try {
    const starting = Array.from({ length: options.nodes ?? 2 }, (_, i) => startNodeProcess({ nodeId: `n${i + 1}`, env: { ...env, ...options.nodeEnv?.(i) }, ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }) }));
    const started = await Promise.allSettled(starting);
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } catch (error) {
    await close();
    throw error;
  }
  return { nodes, env, close };
}
