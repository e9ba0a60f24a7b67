import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TandemError } from '../errors';

/**
 * A route's config key saying "count me as unmatched": a catch-all route (the static site's
 * page-not-found) answers what the not-found handler would, and /metrics labels it the same.
 */
export const UNMATCHED_ROUTE = 'tandemUnmatched';

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

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** One method + route + status: its count, summed seconds and per-bucket counts (not cumulative). */
interface Series {
  labels: { method: string; route: string; status: string };
  count: number;
  sum: number;
  buckets: Float64Array;
}

/**
 * Requests by method, route template and status, counted and timed. prom-client's Counter.inc and
 * Histogram.observe validate and hash their label object on every call; here a response costs one
 * Map lookup by a string key and a few additions, and prom-client only formats the totals when
 * /metrics is scraped (the two metrics below implement its Metric interface).
 */
class RequestMetrics {
  readonly #series = new Map<string, Series>();

  record(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels: { method, route, status: String(status) }, count: 0, sum: 0, buckets: new Float64Array(DURATION_BUCKETS.length) };
      this.#series.set(key, series);
    }
    series.count += 1;
    series.sum += seconds;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]!) {
        series.buckets[i]! += 1;
        break;
      }
    }
  }

  /** `tandem_http_requests_total`, a counter. */
  counter() {
    return this.#metric('tandem_http_requests_total', 'HTTP requests by route template, method and status', 'counter', () =>
      [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.count })),
    );
  }

  /** `tandem_http_request_duration_seconds`, a histogram (cumulative buckets, +Inf, sum, count). */
  histogram() {
    const name = 'tandem_http_request_duration_seconds';
    const help = 'HTTP request duration by route template, method and status';
    const values = () => {
      const out: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const s of this.#series.values()) {
        let cumulative = 0;
        DURATION_BUCKETS.forEach((bound, i) => {
          cumulative += s.buckets[i]!;
          out.push({ metricName: `${name}_bucket`, labels: { le: bound, ...s.labels }, value: cumulative });
        });
        out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
        out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
        out.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
      }
      return out;
    };
    return this.#metric(name, help, 'histogram', values);
  }

  /** prom-client's Metric shape: what its registry reads to format one metric. */
  #metric(name: string, help: string, type: 'counter' | 'histogram', values: () => Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>) {
    return { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }), reset: () => this.#series.clear() };
  }
}

/** A Prometheus registry per server, so several servers can live in one process (tests); /metrics adds the process's. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests = new RequestMetrics();
  readonly #withProcess: boolean;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.#withProcess = options.defaultMetrics !== false;
    // prom-client's registry takes any object with its Metric shape.
    this.registry.registerMetric(this.#requests.counter() as unknown as Counter);
    this.registry.registerMetric(this.#requests.histogram() as unknown as Histogram);
  }

  /** Records every response and serves GET /metrics in the Prometheus text format. */
  install(app: FastifyInstance, options: { token?: string | undefined } = {}): void {
    const authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
    app.addHook('onResponse', (request, reply, done) => {
      const config = request.routeOptions.config as unknown as Record<string, unknown> | undefined;
      const route = config?.[UNMATCHED_ROUTE] === true ? undefined : request.routeOptions.url;
      this.#requests.record(request.method, route ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
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
