import type { FastifyInstance } from 'fastify';

export interface HealthOptions {
  /** Resolves true when the store (and later the broker) answers. */
  ready: () => Promise<boolean>;
  /** True once shutdown has begun: the node should be taken out of rotation. */
  draining: () => boolean;
}

/** /healthz: the process is alive. /readyz: it can serve traffic (store reachable, not draining). */
export function installHealth(app: FastifyInstance, options: HealthOptions): void {
  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    if (options.draining()) return reply.code(503).send({ status: 'draining' });
    if (!(await options.ready())) return reply.code(503).send({ status: 'store_unreachable' });
    return { status: 'ready' };
  });
}
