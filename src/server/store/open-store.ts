import type { Kysely } from 'kysely';
import { openPostgres, openSqlite, type Dialect } from './database';

/** The store part of the configuration (TandemConfig['store']) that openStore reads. */
export interface StoreSettings {
  /** The SQLite file (or ':memory:'), used when there is no databaseUrl. */
  sqlitePath: string;
  /** A postgres:// URL (DATABASE_URL): PostgreSQL instead of SQLite. */
  databaseUrl?: string | undefined;
  /** TANDEM_PG_POOL_SIZE. Default 10. */
  postgresPoolSize?: number;
  /** TANDEM_PG_CONNECT_TIMEOUT_MS. Default 5000. */
  postgresConnectTimeoutMs?: number;
  /** TANDEM_PG_STATEMENT_TIMEOUT_MS (0: none). Default 30000. */
  postgresStatementTimeoutMs?: number;
}

/** Where the store reports trouble that no request sees (a pino or Fastify logger fits). */
export interface StoreLog {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Opens the store the settings name: PostgreSQL when `databaseUrl` is set, SQLite at `sqlitePath`
 * otherwise. Run `migrate` on it next; `db.destroy()` closes it.
 *
 * @example
 *   const { db, dialect } = openStore<MyTables>(config.store, { log: fastify.log });
 *   await migrate(db, dialect, [...libraryMigrations, ...myMigrations]);
 */
export function openStore<T>(settings: StoreSettings, options: { log?: StoreLog } = {}): { db: Kysely<T>; dialect: Dialect } {
  if (settings.databaseUrl === undefined) return openSqlite<T>({ sqlitePath: settings.sqlitePath });
  const { log } = options;
  return openPostgres<T>({
    url: settings.databaseUrl,
    maxConnections: settings.postgresPoolSize ?? 10,
    connectTimeoutMs: settings.postgresConnectTimeoutMs ?? 5_000,
    statementTimeoutMs: settings.postgresStatementTimeoutMs ?? 30_000,
    ...(log === undefined ? {} : { onConnectionError: (err: Error) => log.warn({ err }, 'a PostgreSQL connection broke; the pool opens a new one when needed') }),
  });
}
