import path from 'node:path';

/** Everything Tandem reads from the environment, validated once at start. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** SQLite file name inside dataDir, or ':memory:'. */
  sqliteFile: string;
  corsOrigins: string[];
  jwtSecret: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  rateLimitBurst: number;
  loginAttemptsPerIp: number;
  loginFailuresPerAccount: number;
  loginWindowSeconds: number;
  trustProxy: boolean | number;
  /** Send Strict-Transport-Security and upgrade-insecure-requests (only behind TLS). */
  hsts: boolean;
  logLevel: string;
  seed: boolean;
  shutdownTimeoutMs: number;
  realtime: {
    heartbeatIntervalMs: number;
    authTimeoutMs: number;
    maxPayloadBytes: number;
    historyMaxCount: number;
    historyMaxAgeMs: number;
    presenceGraceMs: number;
  };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const dataDir = path.resolve(read.string('TANDEM_DATA_DIR', './data'));
  const config: Config = {
    port: read.integer('PORT', 3000, 0, 65535),
    host: read.string('HOST', 'localhost'),
    dataDir,
    sqliteFile: 'tandem.sqlite',
    corsOrigins: read.origins('TANDEM_CORS_ORIGINS'),
    jwtSecret: read.optionalSecret('TANDEM_JWT_SECRET', 32),
    accessTokenTtlSeconds: read.integer('TANDEM_ACCESS_TOKEN_TTL', 900, 10, 86_400),
    refreshTokenTtlSeconds: read.integer('TANDEM_REFRESH_TOKEN_TTL', 30 * 86_400, 60, 365 * 86_400),
    bodyLimitBytes: read.integer('TANDEM_BODY_LIMIT', 64 * 1024, 1024, 16 * 1024 * 1024),
    rateLimitPerMinute: read.integer('TANDEM_RATE_LIMIT', 600, 1, 10_000_000),
    rateLimitBurst: read.integer('TANDEM_RATE_LIMIT_BURST', 120, 1, 10_000_000),
    loginAttemptsPerIp: read.integer('TANDEM_LOGIN_LIMIT_IP', 20, 1, 100_000),
    loginFailuresPerAccount: read.integer('TANDEM_LOGIN_LIMIT_ACCOUNT', 5, 1, 100_000),
    loginWindowSeconds: read.integer('TANDEM_LOGIN_WINDOW', 900, 1, 86_400),
    trustProxy: read.trustProxy('TANDEM_TRUST_PROXY'),
    hsts: read.boolean('TANDEM_HSTS', false),
    logLevel: read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    seed: read.boolean('TANDEM_SEED', true),
    shutdownTimeoutMs: read.integer('TANDEM_SHUTDOWN_TIMEOUT', 10_000, 0, 600_000),
    realtime: {
      heartbeatIntervalMs: read.integer('TANDEM_WS_HEARTBEAT_MS', 25_000, 100, 600_000),
      authTimeoutMs: read.integer('TANDEM_WS_AUTH_TIMEOUT_MS', 5_000, 100, 120_000),
      maxPayloadBytes: read.integer('TANDEM_WS_MAX_PAYLOAD', 64 * 1024, 1024, 16 * 1024 * 1024),
      historyMaxCount: read.integer('TANDEM_HISTORY_SIZE', 1000, 0, 1_000_000),
      historyMaxAgeMs: read.integer('TANDEM_HISTORY_AGE_MS', 600_000, 0, 7 * 86_400_000),
      presenceGraceMs: read.integer('TANDEM_PRESENCE_GRACE_MS', 5_000, 0, 600_000),
    },
  };
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '') {
    problems.push('DATABASE_URL: PostgreSQL is not supported yet; unset it to use the embedded SQLite store');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

class EnvReader {
  readonly #env: Env;
  readonly #problems: string[];

  constructor(env: Env, problems: string[]) {
    this.#env = env;
    this.#problems = problems;
  }

  #raw(name: string): string | undefined {
    const value = this.#env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.#raw(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value)) {
      this.#problems.push(`${name}: expected an integer, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    if (value < min || value > max) {
      this.#problems.push(`${name}: must be between ${min} and ${max}, got ${value}`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.#raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    this.#problems.push(`${name}: expected true or false, got ${JSON.stringify(raw)}`);
    return fallback;
  }

  oneOf(name: string, fallback: string, allowed: string[]): string {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (allowed.includes(raw)) return raw;
    this.#problems.push(`${name}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
    return fallback;
  }

  optionalSecret(name: string, minLength: number): string | undefined {
    const raw = this.#raw(name);
    if (raw !== undefined && raw.length < minLength) {
      this.#problems.push(`${name}: must be at least ${minLength} characters (got ${raw.length})`);
      return undefined;
    }
    return raw;
  }

  origins(name: string): string[] {
    const raw = this.#raw(name);
    if (raw === undefined) return [];
    const origins: string[] = [];
    for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(item);
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== item) {
        this.#problems.push(`${name}: ${JSON.stringify(item)} is not an origin like https://app.example.com`);
        continue;
      }
      origins.push(item);
    }
    return origins;
  }

  trustProxy(name: string): boolean | number {
    const raw = this.#raw(name);
    if (raw === undefined) return false;
    if (/^\d+$/.test(raw)) return Number(raw);
    const lower = raw.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    this.#problems.push(`${name}: expected true, false or a number of proxy hops, got ${JSON.stringify(raw)}`);
    return false;
  }
}
