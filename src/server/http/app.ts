import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyHttpOptions, type RawServerDefault } from 'fastify';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TandemError } from '../errors';
import { KeyedRateLimiter } from '../limits/rate-limiter';
import type { Config } from '../ops/config';
import type { Metrics } from '../ops/metrics';
import { installProblemHandlers, sendFrameworkProblem } from './problem';
import { securityHeaders } from './security-headers';
import { createValidatorCompiler } from './validation';

const EXPOSED_HEADERS = ['ETag', 'Link', 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id', 'Tandem-Channel', 'Tandem-Epoch', 'Tandem-Position', 'Location'];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'X-Request-Id', 'Tandem-Stream', 'Last-Event-ID'];
const UNLIMITED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route has limits of its own and skips the per-IP request limit. */
    rateLimit?: boolean;
  }
}
/** An incoming X-Request-Id is kept only when it is a sane token; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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
    // Echo a caller's X-Request-Id (tracing across services) only if it is safe to log and echo.
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Malformed percent-encoding and over-long path params are refused by the router before any
    // hook runs; without this they would answer Fastify's own application/json body.
    frameworkErrors: sendFrameworkProblem,
  };
  const app = Fastify(fastifyOptions).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  installProblemHandlers(app);
  // Only JSON bodies are spoken here: Fastify's default text/plain parser would turn a text body
  // into a string and answer a confusing validation error instead of 415.
  app.removeContentTypeParser('text/plain');
  options.metrics.install(app);
  // First hook of all, so answers given early by other hooks (CORS preflights, the rate limit)
  // carry the id too.
  // (Callback-style hooks: no promise per request on the hot path.)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  await app.register(cookie);
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    credentials: true,
    exposedHeaders: EXPOSED_HEADERS,
    allowedHeaders: ALLOWED_HEADERS,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    maxAge: 600,
  });
  const headers = securityHeaders({ hsts: config.hsts });
  // On every request (global), on the raw response like @fastify/helmet, after CORS and before the limit.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const name of headers.remove) reply.raw.removeHeader(name);
    for (const [name, value] of headers.set) reply.raw.setHeader(name, value);
    done();
  });

  const limiter = new KeyedRateLimiter({ capacity: config.rateLimitBurst, refillPerSecond: config.rateLimitPerMinute / 60 });
  app.addHook('onRequest', (request, _reply, done) => {
    // The route template, not the raw URL: '/healthz?probe=1' and '/healthz/' are health checks too.
    if (UNLIMITED_PATHS.has(request.routeOptions.url ?? '')) return done();
    // Routes with limits of their own (the realtime SSE endpoints) opt out with config.rateLimit: false.
    if (request.routeOptions.config?.rateLimit === false) return done();
    const decision = limiter.consume(request.ip);
    if (!decision.allowed) {
      const error = new TandemError('rate_limited', `Retry in ${decision.retryAfterSeconds} s`, {
        headers: { 'retry-after': String(decision.retryAfterSeconds) },
      });
      return done(error as unknown as FastifyError);
    }
    done();
  });
  dropSilentConnectionsOnClose(app);
  return app;
}

/**
 * Node's server.close() waits for every connection, including ones that never sent a request (a
 * browser's speculative preconnect, the spare socket an HTTP client's pool opens after an aborted
 * stream) until headersTimeout, a minute. While closing, connections with no request in progress
 * are dropped: they carry nothing that could be lost. In-flight requests still finish.
 */
function dropSilentConnectionsOnClose(app: { server: import('node:http').Server; addHook: (name: 'preClose' | 'onClose', hook: () => Promise<void>) => unknown }): void {
  const sockets = new Set<import('node:net').Socket>();
  app.server.on('connection', (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // An upgraded socket belongs to the WebSocket gateway, which drains it with its own close frames.
  app.server.on('upgrade', (_request: unknown, socket: import('node:net').Socket) => sockets.delete(socket));
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    for (const socket of sockets) if ((socket as { _httpMessage?: unknown })._httpMessage == null) socket.destroy();
  };
  app.addHook('preClose', async () => {
    sweeper = setInterval(sweep, 50);
    sweeper.unref();
  });
  app.addHook('onClose', async () => clearInterval(sweeper));
}

export type TandemHttpApp = Awaited<ReturnType<typeof createHttpApp>>;
