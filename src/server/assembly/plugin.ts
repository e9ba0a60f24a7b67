import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import { registerAccountRoutes } from '../auth/account-routes';
import type { TandemConfig } from '../config/config';
import type { SettingsOf, SettingsSpec } from '../config/settings';
import { libraryErrors } from '../errors';
import { installHttpConventions, type TandemHttpApp } from '../http/app';
import { installOpenApi } from '../http/openapi';
import { installHealth } from '../ops/health';
import { Metrics } from '../ops/metrics';
import { installSseEndpoints } from '../realtime/sse-routes';
import { isStoreReachable, type TandemTables } from '../store/database';
import { asyncApiDocument } from './channels';
import type { AppDefinition } from './define-app';
import { openRuntime, type Runtime } from './runtime';

export interface TandemPluginOptions<DB extends TandemTables = TandemTables, S extends SettingsSpec = Record<never, never>> {
  /** The app to serve (defineApp). */
  app: AppDefinition<DB, S>;
  /** From loadConfig(env, app.settings). */
  config: TandemConfig<SettingsOf<S>>;
  /** Default Date.now; tokens, sessions, login limits, the hub and the gateway read it. */
  clock?: () => number;
  /** Serve /api/openapi.json, /api/docs and /api/asyncapi.json. Default true. */
  docs?: boolean;
  /** Not public: what createServer and this repository's tests pass. */
  [kInternal]?: InternalOptions<DB, SettingsOf<S>>;
}

/** The key of the options only this repository passes (not exported from tandem/server). */
export const kInternal = Symbol('tandem.internal');

export interface InternalOptions<DB extends TandemTables, A> {
  /** Called with the runtime once it is open (createServer keeps it for operations and tests). */
  onRuntime?(runtime: Runtime<DB, A>): void;
  /** Granularity of the realtime gateway's shared timer (tests use ~20 ms). Default 1000 ms. */
  realtimeTickMs?: number;
}

const kRegistered = Symbol.for('tandem.registered');

/**
 * The whole Tandem server as a Fastify plugin, on an app you own: the HTTP conventions (applied to
 * the app, like @fastify/helmet), the store, accounts, the realtime hub, the WebSocket gateway and
 * the SSE fallback on the app's HTTP server, health, metrics, the API documents, and the app's own
 * routes. Closing the Fastify app drains: sockets get 1012 and a jittered reconnect hint while
 * in-flight requests finish, then the hub, broker and store close.
 *
 * @example
 *   const server = Fastify(fastifyOptions(config));
 *   await server.register(tandem, { app: pollsApp, config });
 *   await server.listen({ port: config.http.port });
 */
async function tandemPlugin<DB extends TandemTables, S extends SettingsSpec>(fastify: FastifyInstance, options: TandemPluginOptions<DB, S>): Promise<void> {
  const { app, config } = options;
  const internal = options[kInternal] ?? {};
  checkInstance(fastify, config);
  const http = fastify as unknown as TandemHttpApp;
  const metrics = new Metrics();
  // A cluster's nodes tell their series apart by a `node` label.
  if (config.cluster.redisUrl !== undefined) metrics.registry.setDefaultLabels({ node: config.cluster.nodeId });
  const { rateLimiter } = await installHttpConventions(fastify, config, metrics);
  if (options.docs !== false) {
    const errorCodes = [...Object.keys(libraryErrors), ...Object.keys(app.errors?.entries ?? {})];
    await installOpenApi(fastify, app.api, { upgradeInsecureRequests: config.http.hsts, errorCodes });
  }
  const runtime = await openRuntime({ app, config, http, log: fastify.log, registry: metrics.registry, clock: options.clock, realtimeTickMs: internal.realtimeTickMs });
  let draining = false;
  try {
    internal.onRuntime?.(runtime);
    // On a cluster the per-IP request rate is the cluster's, not each node's.
    runtime.cluster?.limits.share('rest', rateLimiter);
    if (app.accounts !== false) registerAccountRoutes(http, { ...runtime, options: app.accounts ?? {} });
    if (app.routes !== undefined) {
      const routes = app.routes;
      // In a scope of their own: hooks an app adds to its routes stay on its routes.
      await fastify.register(async (scope) => routes(scope as unknown as TandemHttpApp, runtime.ctx));
    }
    installHealth(fastify, {
      ready: () => isStoreReachable(runtime.db as unknown as Kysely<unknown>),
      draining: () => draining,
      realtime: runtime.health,
      ...(runtime.cluster === undefined ? {} : { node: config.cluster.nodeId }),
    });
    runtime.gateway.attach(fastify.server);
    installSseEndpoints(http, runtime.gateway);
    if (options.docs !== false) {
      const asyncApi = asyncApiDocument(app.api, app.channels ?? {});
      fastify.get('/api/asyncapi.json', { schema: { hide: true } }, async (_request, reply) => reply.header('cache-control', 'public, max-age=60').send(asyncApi));
    }
    await app.onStart?.(runtime.ctx);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  // Sockets first (1012 + a jittered reconnect hint), while HTTP still finishes in-flight requests.
  fastify.addHook('preClose', async () => {
    draining = true;
    await runtime.gateway.close();
  });
  fastify.addHook('onClose', async () => runtime.close());
}

/**
 * What the plugin needs of the instance it is registered on: no prefix (its paths are absolute, and
 * the client, the cookie and the WebSocket endpoint could not follow one), only once, and the body
 * limit of the configuration (a plain Fastify() has its own 1 MiB: use fastifyOptions(config)).
 */
function checkInstance(fastify: FastifyInstance, config: TandemConfig<unknown>): void {
  if (fastify.prefix !== '') throw new Error(`Register tandem without a prefix (got '${fastify.prefix}'): its routes, the refresh cookie and the realtime endpoints have fixed paths`);
  if (fastify.hasDecorator(kRegistered as unknown as string)) throw new Error('tandem is already registered on this Fastify instance');
  fastify.decorate(kRegistered as unknown as string, true);
  if (fastify.initialConfig.bodyLimit !== config.http.bodyLimitBytes) {
    fastify.log.warn({ fastify: fastify.initialConfig.bodyLimit, config: config.http.bodyLimitBytes }, 'the Fastify instance\'s bodyLimit differs from TANDEM_BODY_LIMIT: create it with Fastify(fastifyOptions(config))');
  }
}

/** The Tandem plugin (see tandemPlugin above); register it once per Fastify app. */
export const tandem = fp(tandemPlugin as FastifyPluginAsync<TandemPluginOptions<never, never>>, { name: 'tandem', fastify: '5.x' }) as <DB extends TandemTables, S extends SettingsSpec>(
  fastify: FastifyInstance,
  options: TandemPluginOptions<DB, S>,
) => Promise<void>;
