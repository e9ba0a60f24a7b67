import { describe, expect, it } from 'vitest';
import { socialApp } from '../../src/apps/social/app';
import { librarySettings, loadConfig } from '../../src/server/config/config';
import { ConfigError, listSettings, setting } from '../../src/server/config/settings';

describe('loadConfig', () => {
  it('has working defaults', () => {
    const config = loadConfig({}, socialApp.settings);
    expect(config.http.port).toBe(3000);
    expect(config.auth.accessTokenTtlSeconds).toBe(900);
    expect(config.http.corsOrigins).toEqual([]);
    expect(config.app.seed).toBe(true);
    expect(config.store.dataDir.endsWith('/data')).toBe(true);
    expect(config.realtime.maxConnectionsPerUser).toBe(10);
  });

  it('reads and converts every kind of value', () => {
    const config = loadConfig({
      PORT: '8080',
      TANDEM_CORS_ORIGINS: 'https://a.example, http://localhost:5173',
      TANDEM_SEED: 'false',
      TANDEM_TRUST_PROXY: '2',
      LOG_LEVEL: 'debug',
      TANDEM_JWT_SECRET: 'x'.repeat(32),
      TANDEM_WS_CONNECTIONS_PER_IP: '7',
    }, socialApp.settings);
    expect(config).toMatchObject({ http: { port: 8080, corsOrigins: ['https://a.example', 'http://localhost:5173'], trustProxy: 2 }, app: { seed: false }, logLevel: 'debug' });
    expect(config.realtime.maxConnectionsPerIp).toBe(7);
  });

  it('names every bad variable in one error, the app\'s with the library\'s', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        TANDEM_ACCESS_TOKEN_TTL: '5',
        TANDEM_CORS_ORIGINS: 'https://ok.example,not a url,https://x.example/path',
        TANDEM_SEED: 'maybe',
        LOG_LEVEL: 'loud',
        TANDEM_JWT_SECRET: 'short',
        DATABASE_URL: 'mysql://localhost/test',
      }, socialApp.settings);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'TANDEM_ACCESS_TOKEN_TTL', 'not a url', 'https://x.example/path', 'TANDEM_SEED', 'LOG_LEVEL', 'TANDEM_JWT_SECRET', 'DATABASE_URL']) {
      expect(problems).toContain(name);
    }
    expect((error as ConfigError).problems).toHaveLength(8);
  });

  it('runs as a cluster node only with PostgreSQL, and names the node', () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problemsOf({ TANDEM_REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([expect.stringContaining('set DATABASE_URL too')]);
    expect(problemsOf({ TANDEM_REDIS_URL: 'http://secret@127.0.0.1:6379', DATABASE_URL: 'postgres://h/db' })).toEqual([expect.stringMatching(/^TANDEM_REDIS_URL: the scheme must be redis:/)]);
    expect(problemsOf({ TANDEM_REDIS_URL: 'redis://:pw@h:6379', DATABASE_URL: 'postgres://h/db', TANDEM_NODE_ID: 'n.1' })).toEqual([expect.stringContaining('TANDEM_NODE_ID')]);
    const config = loadConfig({ TANDEM_REDIS_URL: 'redis://h:6379', DATABASE_URL: 'postgres://h/db' });
    expect(config.cluster.nodeId).toMatch(new RegExp(`-${process.pid}$`));
    expect(config.cluster).toMatchObject({ redisPrefix: 'tandem:', nodeTtlMs: 5000 });
    // A URL's password never lands in a message.
    expect(problemsOf({ TANDEM_REDIS_URL: 'ftp://user:hunter2@h', DATABASE_URL: 'postgres://h/db' }).join()).not.toContain('hunter2');
  });

  it('takes an app\'s own settings, typed, next to the library\'s', () => {
    const appSettings = { tallyMs: setting.integer('POLLS_TALLY_MS', 100, { min: 10, max: 5_000 }, 'how often tallies go out') };
    expect(loadConfig({ POLLS_TALLY_MS: '250' }, appSettings).app.tallyMs).toBe(250);
    expect(() => loadConfig({ POLLS_TALLY_MS: '5' }, appSettings)).toThrow(/POLLS_TALLY_MS: must be between 10 and 5000/);
  });

  it('declares each environment variable once', () => {
    const names = [...listSettings(librarySettings), ...listSettings(socialApp.settings ?? {})].map((s) => s.env);
    expect(new Set(names).size).toBe(names.length);
  });
});
