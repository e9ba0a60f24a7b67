/**
 * `tandem bench serve`: the bench app on a port, for `tandem bench --url` (and the server process
 * `tandem bench` starts itself). Tandem's own limits stay as shipped except those that would
 * refuse a bench whose every client comes from one address (connections, handshakes and requests
 * per IP, new connections per second): the bench measures the work, not the refusals.
 */
import { createServer, loadConfig } from 'tandem/server';
import { CONTROL_PREFIX } from '../control-api';
import { benchApp } from './app';
import { controlRoutes } from './control-routes';
import { SocketBytes } from './socket-bytes';

const PER_ADDRESS_UNLIMITED = String(10_000_000);

export interface ServeOptions {
  port: number;
  host: string;
}

/** Starts the bench server; resolves with its URL and a stop function. */
export async function startBenchServer(options: ServeOptions): Promise<{ url: string; close(): Promise<void> }> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    TANDEM_RATE_LIMIT: PER_ADDRESS_UNLIMITED,
    TANDEM_RATE_LIMIT_BURST: PER_ADDRESS_UNLIMITED,
    TANDEM_WS_CONNECTIONS_PER_IP: PER_ADDRESS_UNLIMITED,
    TANDEM_WS_HANDSHAKES_PER_IP: PER_ADDRESS_UNLIMITED,
    TANDEM_WS_NEW_CONNECTIONS_PER_SECOND: PER_ADDRESS_UNLIMITED,
    // Tokens outlive the longest run, so no client has to refresh mid-measurement.
    TANDEM_ACCESS_TOKEN_TTL: '86400',
    // A bounded history: a run's changes must not grow the server's memory while clients are measured.
    TANDEM_HISTORY_SIZE: '20',
  });
  config.store.sqlitePath = ':memory:';
  const bytes = new SocketBytes();
  let stats: () => { connections: number; subscriptions: number } = () => ({ connections: 0, subscriptions: 0 });
  const server = await createServer({ app: benchApp(controlRoutes({ bytes, realtimeStats: () => stats() })), config, logger: false });
  stats = () => server.stats();
  bytes.attach(server.fastify.server, (url) => url.startsWith(CONTROL_PREFIX));
  const url = await server.listen({ port: options.port, host: options.host });
  return { url, close: () => server.close() };
}

/**
 * Runs the server until SIGTERM or SIGINT, or until the process that started it (over IPC) is
 * gone; prints the LISTENING line once it answers.
 */
export async function serveUntilStopped(options: ServeOptions, out: { write(text: string): boolean }): Promise<number> {
  const server = await startBenchServer(options);
  out.write(`tandem bench server listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    if (process.send !== undefined) process.once('disconnect', resolve);
  });
  await server.close();
  return 0;
}
