import net from 'node:net';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/**
 * Two projects. `embedded`: every test, each server one process on SQLite. `cluster`: the suites
 * that start a social server (REST, realtime, client) once more, startServer() giving them two
 * nodes of one cluster on PostgreSQL + Redis (test/support/server.ts, TANDEM_TEST_TARGET).
 */

/** Suites of test/ that start no social server (pure units, their own servers or processes), or test one process' store. */
const startNoSocialServer = [
  'test/docs.test.ts',
  'test/toolkit.test.ts',
  'test/store-contract.test.ts',
  'test/search-store.test.ts',
  'test/shutdown.test.ts',
  'test/postgres-runtime.test.ts',
  'test/realtime/transport-contract.test.ts',
  'test/client/backoff.test.ts',
  'test/client/etag-cache.test.ts',
  'test/client/realtime-state.test.ts',
  'test/client/realtime-timing.test.ts',
  'test/client/shared-connection.test.ts',
  'test/client/shared-election.test.ts',
  'test/client/shared-replay.test.ts',
  'test/client/subscribe-retry.test.ts',
  'test/client/token-store.test.ts',
  'test/cli/report-html.test.ts',
  'test/cli/report-browser.test.ts',
  'test/cli/advise-rules.test.ts',
  'test/cli/advise-costs.test.ts',
  'test/cli/advise-flags.test.ts',
  'test/cli/advise-interactive.test.ts',
  'test/cli/bench-stats.test.ts',
  'test/cli/bench-options.test.ts',
  'test/cli/bench-e2e.test.ts',
];

/**
 * Whether PostgreSQL and Redis are there (TANDEM_TEST_DATABASE_URL, TANDEM_TEST_REDIS_URL, as in
 * test/support/services.ts). Without them the cluster project is left out, loudly; under CI=true
 * that is a failure.
 */
async function clusterServices(): Promise<boolean> {
  const urls = [process.env.TANDEM_TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432', process.env.TANDEM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'];
  const missing = (await Promise.all(urls.map(async (url) => ((await listening(new URL(url))) ? [] : [new URL(url).host])))).flat();
  if (missing.length === 0) return true;
  const message = `the cluster project needs PostgreSQL and Redis; nothing listens at ${missing.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(message);
  process.stderr.write(`\n!!! SKIPPING ${message}\n\n`);
  return false;
}

function listening(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port || (url.protocol === 'redis:' ? 6379 : 5432)) }, () => (socket.destroy(), resolve(true)));
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}


const cluster: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'cluster',
    include: ['test/*.test.ts', 'test/realtime/**/*.test.ts', 'test/client/**/*.test.ts'],
    exclude: startNoSocialServer,
    // A cluster node answers a REST write in ~4× an embedded server's time (PostgreSQL, Redis).
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { TANDEM_TEST_TARGET: 'cluster' },
  },
};


export default defineConfig({
  test: {
    environment: 'node',
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default'],
    // One shared folder per run for the web UI's build (test/e2e/web-build.ts).
    globalSetup: ['test/support/global-setup.ts'],
    // Two at a time: most of a test's time is spent waiting (sockets, PostgreSQL, Redis, timers),
    // and both projects together would take ~12 minutes one file at a time (the default here).
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'embedded', include: ['test/**/*.test.ts', 'examples/**/*.test.ts'] },
      },
      ...((await clusterServices()) ? [cluster] : []),
    ],
  },
});
