import type { FastifyInstance } from 'fastify';

export interface HealthOptions {
  /** Resolves true when the store (and later the broker) answers. */
  ready: () => Promise<boolean>;
  /** True once shutdown has begun: the node should be taken out of rotation. */
  draining: () => boolean;
  /** A readiness check slower than this counts as not ready. Default 2000 ms. */
  readyTimeoutMs?: number;
  /**
   * The realtime backbone (a cluster's Redis). When it is down the node still serves REST (the
   * database is the source of truth), so /readyz stays 200 with `status: "degraded"` and the reason:
   * taking every node out of rotation would turn a realtime outage into a total one.
   */
  realtime?: () => { ok: true } | { ok: false; reason: string };
  /** A cluster node's id, in every answer. */
  node?: string;
}

/**
 * /healthz: the process is alive. /readyz: it can serve traffic (store reachable, not draining);
 * otherwise 503 with the reason, `draining` or `store_unreachable`; 200 `degraded` with `realtime`
 * saying why when only the realtime backbone is down.
 */
export function installHealth(app: FastifyInstance, options: HealthOptions): void {
  const readyTimeoutMs = options.readyTimeoutMs ?? 2_000;
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });
  const node = options.node === undefined ? {} : { node: options.node };
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    if (options.draining()) return reply.code(503).send({ status: 'draining', ...node });
    if (!(await within(readyTimeoutMs, options.ready()))) return reply.code(503).header('retry-after', '5').send({ status: 'store_unreachable', ...node });
    const realtime = options.realtime?.() ?? { ok: true };
    if (!realtime.ok) return { status: 'degraded', realtime: realtime.reason, ...node };
    return { status: 'ready', ...node };
  });
}

/**
 * The check's answer, or false once `ms` have passed: a probe must answer before the load
 * balancer's own timeout even when the database neither answers nor refuses.
 */
async function within(ms: number, check: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([check.catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
