import { loadConfig } from '../config/config';
import { ConfigError, type SettingsOf, type SettingsSpec } from '../config/settings';
import type { TandemTables } from '../store/database';
import { createServer, type TandemServer } from './create-server';
import type { AppDefinition } from './define-app';

/** EX_CONFIG from sysexits.h: the configuration is wrong, so restarting as is will not help. */
const EXIT_CONFIG = 78;

export interface ServeOptions<DB extends TandemTables, A> {
  /** Default process.env. */
  env?: Record<string, string | undefined>;
  /** Called once listening, e.g. to print the URL and what to do next. */
  onListening?(server: TandemServer<DB, A>, url: string): void | Promise<void>;
}

/**
 * An app's `main`: reads the configuration from the environment (every bad variable named, exit
 * code 78), builds the server, listens, and on SIGTERM or SIGINT drains — /readyz turns 503, the
 * realtime connections get 1012 with a jittered reconnect hint, in-flight requests finish — then
 * exits 0, or 1 once TANDEM_SHUTDOWN_TIMEOUT has passed. A failure to start exits 1.
 *
 * @example
 *   // src/main.ts
 *   await serve(pollsApp);
 */
export async function serve<DB extends TandemTables, S extends SettingsSpec>(app: AppDefinition<DB, S>, options: ServeOptions<DB, SettingsOf<S>> = {}): Promise<TandemServer<DB, SettingsOf<S>>> {
  let server: TandemServer<DB, SettingsOf<S>>;
  try {
    const config = loadConfig(options.env ?? process.env, app.settings);
    server = await createServer({ app, config });
    const url = await server.listen();
    const store = config.store.databaseUrl === undefined ? { dataDir: config.store.dataDir } : { store: 'postgres' };
    const cluster = config.cluster.redisUrl === undefined ? {} : { cluster: config.cluster.redisPrefix };
    server.fastify.log.info({ url, app: app.name, ...store, ...cluster }, `${app.name} is listening`);
    await options.onListening?.(server, url);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`${app.name} failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
  drainOnSignals(server);
  return server;
}

function drainOnSignals<DB extends TandemTables, A>(server: TandemServer<DB, A>): void {
  const log = server.fastify.log;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: whoever sent it does not want to wait for the drain.
      log.warn({ signal }, 'second signal while draining; exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'draining: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('drain timed out; exiting');
      process.exit(1);
    }, server.config.http.shutdownTimeoutMs);
    force.unref();
    server.close().then(
      () => {
        log.info('drained; bye');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
