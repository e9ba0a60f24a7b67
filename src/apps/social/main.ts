import { ConfigError, loadConfig, type Config } from '../../server/ops/config';
import { buildSocialApp } from './app';
import { DEMO_PASSWORD, DEMO_USERS } from './seed';

/** `npm start`: the social app on the embedded store, with a graceful SIGTERM/SIGINT drain. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const social = await buildSocialApp({ config });
  const { app } = social;
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  app.log.info({ url: `http://${host}:${port}`, dataDir: config.dataDir }, 'Tandem social is listening');
  const logins = config.seed ? `Demo logins: ${DEMO_USERS.map((u) => u.username).join(', ')} with password "${DEMO_PASSWORD}"\n` : '';
  process.stdout.write(`\nTandem social: http://${host}:${port}  (API docs: http://${host}:${port}/api/docs)\n${logins}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'draining: no new connections, finishing in-flight requests');
    social.beginDrain();
    const force = setTimeout(() => {
      app.log.error('drain timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    app.close().then(
      () => {
        app.log.info('drained; bye');
        process.exit(0);
      },
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Tandem failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
