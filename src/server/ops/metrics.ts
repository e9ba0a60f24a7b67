import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TandemError } from '../errors';

/**
 * The process's own metrics (CPU, memory, event loop, GC), collected once per process: prom-client
 * keeps a registry it collects into alive (GC and event-loop observers), so one per server would
 * pin every server ever made in the process (tests make dozens).
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'tandem_' });
  }
  return processRegistry;
}

/** A Prometheus registry per server, so several servers can live in one process (tests); /metrics adds the process's. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly #withProcess: boolean;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.#withProcess = options.defaultMetrics !== false;
    this.httpRequests = new Counter({
      name: 'tandem_http_requests_total',
      help: 'HTTP requests by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'tandem_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
  }

  /** Records every response and serves GET /metrics in the Prometheus text format. */
  install(app: FastifyInstance, options: { token?: string | undefined } = {}): void {
    const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
    app.addHook('onResponse', (request, reply, done) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
      this.httpRequests.inc(labels);
      this.httpDuration.observe(labels, reply.elapsedTime / 1000);
      done();
    });
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (authorization !== undefined && request.headers.authorization !== authorization) {
        throw new TandemError('unauthenticated', 'Send the metrics token (TANDEM_METRICS_TOKEN) as a bearer token', { headers: { 'www-authenticate': 'Bearer' } });
      }
      reply.header('cache-control', 'no-store').type(this.registry.contentType);
      const own = await this.registry.metrics();
      return this.#withProcess ? `${await processMetrics().metrics()}\n${own}` : own;
    });
  }
}
