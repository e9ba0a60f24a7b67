import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/ops/config';

describe('loadConfig', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.accessTokenTtlSeconds).toBe(900);
    expect(config.corsOrigins).toEqual([]);
    expect(config.seed).toBe(true);
    expect(config.dataDir.endsWith('/data')).toBe(true);
  });

  it('reads and converts every kind of value', () => {
    const config = loadConfig({
      PORT: '8080',
      TANDEM_CORS_ORIGINS: 'https://a.example, http://localhost:5173',
      TANDEM_SEED: 'false',
      TANDEM_TRUST_PROXY: '2',
      LOG_LEVEL: 'debug',
      TANDEM_JWT_SECRET: 'x'.repeat(32),
    });
    expect(config).toMatchObject({ port: 8080, corsOrigins: ['https://a.example', 'http://localhost:5173'], seed: false, trustProxy: 2, logLevel: 'debug' });
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        TANDEM_ACCESS_TOKEN_TTL: '5',
        TANDEM_CORS_ORIGINS: 'https://ok.example,not a url,https://x.example/path',
        TANDEM_SEED: 'maybe',
        LOG_LEVEL: 'loud',
        TANDEM_JWT_SECRET: 'short',
        DATABASE_URL: 'postgres://localhost/test',
      });
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
});
