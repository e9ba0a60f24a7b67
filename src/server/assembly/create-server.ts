import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { loadConfig, type TandemConfig } from '../config/config';
import type { SettingsOf, SettingsSpec } from '../config/settings';
import { fastifyOptions, type TandemHttpApp } from '../http/app';
import type { TandemTables } from '../store/database';
import type { TandemContext } from './context';
import type { AppDefinition } from './define-app';
import { kInternal, tandem, type InternalOptions } from './plugin';
import type { Runtime } from './runtime';

const LISTEN_BACKLOG = 4096;

export interface CreateServerOptions<DB extends TandemTables, S extends SettingsSpec> {
  app: AppDefinition<DB, S>;
  /** Default: loadConfig(env, app.settings). */
  config?: TandemConfig<SettingsOf<S>>;
  /** Where the configuration is read from when `config` is not given. Default process.env. */
  env?: Record<string, string | undefined>;
  /** pino options, or false for no logs. Default: `{ level: config.logLevel }`. */
  logger?: boolean | { level: string };
  clock?: () => number;
}

/** A running (or ready to run) Tandem server. */
export interface TandemServer<DB extends TandemTables = TandemTables, A = Record<never, never>> {
  /** The Fastify app (routes, hooks, inject for tests). */
  readonly fastify: TandemHttpApp;
  readonly context: TandemContext<DB, A>;
  readonly config: TandemConfig<A>;
  /** Listens (default: the configured port and host); resolves with the URL, e.g. http://127.0.0.1:3000. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** What the server holds now (the same figures /metrics exports). */
  stats(): { connections: number; subscriptions: number; channels: number };
  /** Drains and stops: realtime connections get 1012, in-flight requests finish, then everything closes. */
  close(): Promise<void>;
}

/** The runtime behind a server, for tests and tools inside this repository (not part of the public API). */
const runtimes = new WeakMap<TandemServer<never, never>, Runtime<TandemTables, unknown>>();

/**
 * The one-call default: a Fastify app with Tandem's recommended options and the Tandem plugin
 * (store, accounts, HTTP conventions, realtime over WebSocket and SSE, health, metrics, API
 * documents) serving `app`. For a Fastify app of your own, register `tandem` instead.
 *
 * @example
 *   const server = await createServer({ app: pollsApp });
 *   console.log(await server.listen());
 */
export async function createServer<DB extends TandemTables, S extends SettingsSpec>(options: CreateServerOptions<DB, S>): Promise<TandemServer<DB, SettingsOf<S>>> {
  const config = options.config ?? loadConfig(options.env ?? process.env, options.app.settings);
  const fastify = Fastify(fastifyOptions(config, options.logger)).withTypeProvider<TypeBoxTypeProvider>();
  let runtime: Runtime<DB, SettingsOf<S>> | undefined;
  const internal = (options as CreateServerOptions<DB, S> & { [kInternal]?: InternalOptions<DB, SettingsOf<S>> })[kInternal];
  try {
    await fastify.register(tandem<DB, S>, {
      app: options.app,
      config,
      [kInternal]: { ...internal, onRuntime: (opened) => void (runtime = opened) },
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    await fastify.ready();
  } catch (error) {
    // Whatever the plugin opened before the failure goes with the instance (its onClose hooks).
    await fastify.close().catch(() => undefined);
    throw error;
  }
  if (runtime === undefined) throw new Error('the Tandem plugin did not open its runtime');
  const opened = runtime;
  const server: TandemServer<DB, SettingsOf<S>> = {
    fastify: fastify as unknown as TandemHttpApp,
    context: opened.ctx,
    config,
    async listen(listenOptions = {}) {
      // A reconnect storm (a node died; its clients all come here) overflows Node's default accept
      // backlog of 511: every dropped SYN costs its client a 1-15 s retransmit wait (bench:cluster:
      // 16.3 s -> 6.5 s for 5,000 clients). Linux caps it at net.core.somaxconn.
      await fastify.listen({ port: listenOptions.port ?? config.http.port, host: listenOptions.host ?? config.http.host, backlog: LISTEN_BACKLOG });
      const address = fastify.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.http.port;
      const host = listenOptions.host ?? config.http.host;
      const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      return `http://${shown}:${port}`;
    },
    stats() {
      const hub = opened.hub.stats();
      return { connections: opened.gateway.connectionCount, subscriptions: hub.subscriptions, channels: hub.channels };
    },
    close: () => fastify.close(),
  };
  runtimes.set(server as unknown as TandemServer<never, never>, opened as unknown as Runtime<TandemTables, unknown>);
  return server;
}

/** The hub, gateway, broker and store of a server: for this repository's tests and benchmarks only. */
export function runtimeOf<DB extends TandemTables, A>(server: TandemServer<DB, A>): Runtime<DB, A> {
  const runtime = runtimes.get(server as unknown as TandemServer<never, never>);
  if (runtime === undefined) throw new Error('not a server made by createServer');
  return runtime as unknown as Runtime<DB, A>;
}
