import { randomBytes } from 'node:crypto';
import { createTestSchema, startNode, withSearchPath, type StartOptions, type TestServer } from './server';
import { POSTGRES_URL, REDIS_URL, deleteRedisPrefix, postgresAvailable, redisAvailable } from './services';

/** N real social servers as one cluster: one PostgreSQL schema, one Redis key prefix. */
export interface TestCluster {
  nodes: TestServer[];
  schema: string;
  redisPrefix: string;
  /** Env every node of this cluster runs with (a node started later joins it with these). */
  env: Record<string, string>;
  /** Starts one more node of this cluster. */
  addNode(options?: StartOptions): Promise<TestServer>;
  close(): Promise<void>;
}

/** Whether PostgreSQL and Redis are both there (loud skip otherwise; a failure under CI=true). */
export async function clusterServicesAvailable(): Promise<boolean> {
  const [postgres, redis] = await Promise.all([postgresAvailable(), redisAvailable()]);
  return postgres && redis;
}

export async function startCluster(options: { nodes?: number } & StartOptions = {}): Promise<TestCluster> {
  const { nodes: count = 2, ...startOptions } = options;
  const { schema, drop } = await createTestSchema();
  const redisPrefix = `tandem-test:${randomBytes(5).toString('hex')}:`;
  const env = {
    DATABASE_URL: withSearchPath(POSTGRES_URL, schema),
    TANDEM_REDIS_URL: REDIS_URL,
    TANDEM_REDIS_PREFIX: redisPrefix,
    // Short, so that a test of a dead node waits ~1 s, not 5.
    TANDEM_NODE_TTL_MS: '1000',
    TANDEM_GAP_TIMEOUT_MS: '300',
  };
  const nodes: TestServer[] = [];
  let nodeNumber = 0;
  const addNode = async (extra: StartOptions = {}) => {
    nodeNumber += 1;
    const node = await startNode({ ...startOptions, ...extra, env: { ...env, TANDEM_NODE_ID: `n${nodeNumber}`, ...startOptions.env, ...extra.env } });
    nodes.push(node);
    return node;
  };
  const close = async () => {
    await Promise.allSettled(nodes.splice(0).map((node) => node.close()));
    await deleteRedisPrefix(redisPrefix);
    await drop();
  };
  try {
    // One after another: the first migrates (the others would wait on its advisory lock anyway).
    for (let i = 0; i < count; i += 1) await addNode();
  } catch (error) {
    await close();
    throw error;
  }
  return { nodes, schema, redisPrefix, env, addNode, close };
}
