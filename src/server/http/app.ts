import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyError, FastifyHttpOptions, FastifyInstance, RawServerDefault } from 'fastify';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TandemError } from '../errors';
import { KeyedRateLimiter } from '../limits/rate-limiter';
import type { TandemConfig } from '../config/config';
import type { Metrics } from '../ops/metrics';
import { limitKey, trustFunction } from './client-address';
import { tandemListener } from './upgrade-listeners';
import { installProblemHandlers, sendFrameworkProblem } from './problem';
import { securityHeaders } from './security-headers';
import { createValidatorCompiler } from './validation';

const EXPOSED_HEADERS = ['ETag', 'Link', 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id', 'Tandem-Channel', 'Tandem-Epoch', 'Tandem-Position', 'Location'];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'X-Request-Id', 'Tandem-Stream', 'Last-Event-ID', 'Tandem-Session'];
const UNLIMITED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route has limits of its own and skips the per-IP request limit. */
    rateLimit?: boolean;
  }
}
/** An incoming X-Request-Id is kept only when it is a sane token; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Tandem's HTTP settings (the `http` part of TandemConfig) and the log level. */
export interface HttpSettings {
  http: Pick<TandemConfig['http'], 'bodyLimitBytes' | 'corsOrigins' | 'trustProxy' | 'hsts' | 'rateLimitPerMinute' | 'rateLimitBurst' | 'metricsToken'>;
  logLevel: string;
  /** A cluster node's id goes into every log line (`node`). */
  cluster?: Pick<TandemConfig['cluster'], 'nodeId' | 'redisUrl'>;
}

/**
 * The Fastify constructor options Tandem's conventions expect: the body limit, trustProxy,
 * request ids (a caller's X-Request-Id is echoed only when it is safe to log), 503 while closing,
 * problem+json for router errors. Pass them to Fastify() when you own the instance.
 *
 * @example
 *   const app = Fastify(fastifyOptions(config));
 *   await app.register(tandem, { app: myApp, config });
 */
export function fastifyOptions(config: HttpSettings, logger?: boolean | { level: string }): FastifyHttpOptions<RawServerDefault> {
  return {
    logger: logger ?? { level: config.logLevel, ...(config.cluster?.redisUrl === undefined ? {} : { base: { pid: process.pid, node: config.cluster.nodeId } }) },
    bodyLimit: config.http.bodyLimitBytes,
    // A function, not the setting itself: Fastify 5 now ignores a bare hop count.
    trustProxy: trustFunction(config.http.trustProxy) ?? false,
    // Echo a caller's X-Request-Id (tracing across services) only if it is safe to log and echo.
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    return503OnClosing: true,
    // The Tandem plugin opens the store and runs migrations and the app's onStart while it registers:
    // a slow start must not be cut off (and leave its half-open runtime behind) at avvio's 10 s.
    pluginTimeout: 0,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Malformed percent-encoding and over-long path params are refused by the router before any
    // hook runs; without this they would answer Fastify's own application/json body.
    frameworkErrors: sendFrameworkProblem,
  };
}

/**
 * Tandem's HTTP conventions on an app: problem+json errors, strict body validation, JSON-only
 * bodies, CORS from the allow-list, security headers, a per-IP rate limit, request ids and
 * metrics. Applies to every route of `app` (as @fastify/helmet or @fastify/cors would). Returns the
 * rate limiter, for a cluster node to share with the others.
 */
export async function installHttpConventions(app: FastifyInstance, config: HttpSettings, metrics: Metrics): Promise<{ rateLimiter: KeyedRateLimiter }> {
  app.setValidatorCompiler(createValidatorCompiler());
  installProblemHandlers(app);
  // Only JSON bodies are spoken here: Fastify's default text/plain parser would turn a text body
  // into a string and answer a confusing validation error instead of 415.
  if (app.hasContentTypeParser('text/plain')) app.removeContentTypeParser('text/plain');
  metrics.install(app, { token: config.http.metricsToken });
  // First hook of all, so answers given early by other hooks (CORS preflights, the rate limit)
  // carry the id too.
  // (Callback-style hooks: no promise per request on the hot path.)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  if (!app.hasRequestDecorator('cookies')) await app.register(cookie);
  await app.register(cors, {
    origin: config.http.corsOrigins.length > 0 ? config.http.corsOrigins : false,
    credentials: true,
    exposedHeaders: EXPOSED_HEADERS,
    allowedHeaders: ALLOWED_HEADERS,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    maxAge: 600,
  });
  const headers = securityHeaders({ hsts: config.http.hsts });
  // On every request (global), on the raw response like @fastify/helmet, after CORS and before the
  // limit: the API set. A route's own reply.header() (the docs page's CSP) still wins at writeHead.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const name of headers.remove) reply.raw.removeHeader(name);
    for (const [name, value] of headers.api) reply.raw.setHeader(name, value);
    done();
  });
  // An HTML page gets the document set over it; a 304 sends none (the cached 200 keeps its own).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.statusCode === 304) {
      for (const name of headers.notOn304) reply.raw.removeHeader(name);
    } else if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      for (const [name, value] of headers.document) reply.raw.setHeader(name, value);
    }
    done(null, payload);
  });

  const limiter = new KeyedRateLimiter({ capacity: config.http.rateLimitBurst, refillPerSecond: config.http.rateLimitPerMinute / 60 });
  app.addHook('onRequest', (request, _reply, done) => {
    // The route template, not the raw URL: '/healthz?probe=1' and '/healthz/' are health checks too.
    if (UNLIMITED_PATHS.has(request.routeOptions.url ?? '')) return done();
    // Routes with limits of their own (the realtime SSE endpoints) opt out with config.rateLimit: false.
    if (request.routeOptions.config?.rateLimit === false) return done();
    const decision = limiter.consume(limitKey(request.ip));
    if (!decision.allowed) {
      const error = new TandemError('rate_limited', `Retry in ${decision.retryAfterSeconds} s`, {
        headers: { 'retry-after': String(decision.retryAfterSeconds) },
      });
      return done(error as unknown as FastifyError);
    }
    done();
  });
  dropSilentConnectionsOnClose(app);
  return { rateLimiter: limiter };
}

/**
 * Node's server.close() waits for every connection, including ones that never sent a request (a
 * browser's speculative preconnect, the spare socket an HTTP client's pool opens after an aborted
 * stream) until headersTimeout, a minute. While closing, connections with no request in progress
 * are dropped: they carry nothing that could be lost. In-flight requests still finish.
 */
function dropSilentConnectionsOnClose(app: { server: import('node:http').Server; addHook: (name: 'preClose' | 'onClose', hook: () => Promise<void>) => unknown }): void {
  const sockets = new Set<import('node:net').Socket>();
  // One listener for every socket (it is the socket's `this`), not a closure and once-wrapper each.
  const forget = function (this: import('node:net').Socket) {
    sockets.delete(this);
  };
  app.server.on('connection', (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.on('close', forget);
  });
  // An upgraded socket belongs to the WebSocket gateway, which drains it with its own close frames.
  app.server.on('upgrade', tandemListener((_request: unknown, socket: import('node:net').Socket) => {
    sockets.delete(socket);
    socket.removeListener('close', forget);
  }));
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

/** A Fastify instance with the TypeBox type provider: what an app's routes are registered on. */
export type TandemHttpApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;
