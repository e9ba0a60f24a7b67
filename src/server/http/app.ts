import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyHttpOptions, type RawServerDefault } from 'fastify';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TandemError } from '../errors';
import { KeyedRateLimiter } from '../limits/rate-limiter';
import type { Config } from '../ops/config';
import type { Metrics } from '../ops/metrics';
import { installProblemHandlers } from './problem';
import { createValidatorCompiler } from './validation';

const EXPOSED_HEADERS = ['ETag', 'Link', 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id', 'Tandem-Channel', 'Tandem-Position', 'Location'];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'X-Request-Id'];
const UNLIMITED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface HttpAppOptions {
  config: Config;
  metrics: Metrics;
  /** pino options, or false for no logs (tests). */
  logger?: boolean | { level: string };
}

/**
 * The Fastify instance every Tandem app starts from: problem+json errors, strict body
 * validation, CORS from the allow-list, security headers, a per-IP rate limit, request ids
 * and metrics.
 */
export async function createHttpApp(options: HttpAppOptions) {
  const { config } = options;
  const fastifyOptions: FastifyHttpOptions<RawServerDefault> = {
    logger: options.logger ?? { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    // Fastify accepts a hop count at run time; its types only list the other forms.
    trustProxy: config.trustProxy as boolean,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  };
  const app = Fastify(fastifyOptions).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  installProblemHandlers(app);
  options.metrics.install(app);

  await app.register(cookie);
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    credentials: true,
    exposedHeaders: EXPOSED_HEADERS,
    allowedHeaders: ALLOWED_HEADERS,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    maxAge: 600,
  });
  await app.register(helmet, {
    global: true,
    crossOriginResourcePolicy: { policy: 'same-site' },
    // HSTS and upgrade-insecure-requests only make sense behind TLS; on plain-HTTP localhost
    // they would break the app, so they follow TANDEM_HSTS (set it where TLS terminates here).
    hsts: config.hsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: config.hsts ? [] : null } },
  });

  const limiter = new KeyedRateLimiter({ capacity: config.rateLimitBurst, refillPerSecond: config.rateLimitPerMinute / 60 });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (UNLIMITED_PATHS.has(request.url)) return;
    const decision = limiter.consume(request.ip);
    if (!decision.allowed) {
      throw new TandemError('rate_limited', `Retry in ${decision.retryAfterSeconds} s`, {
        headers: { 'retry-after': String(decision.retryAfterSeconds) },
      });
    }
  });
  return app;
}

export type TandemHttpApp = Awaited<ReturnType<typeof createHttpApp>>;
