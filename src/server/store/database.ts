import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Generated } from 'kysely';
import pg from 'pg';

/**
 * Tables the library owns: accounts and their sessions, signing keys, idempotency keys, channel
 * positions. An app's tables add to these (its Kysely database type is `TandemTables & AppTables`);
 * an app may add columns to `users` in its own migrations (the social app adds `bio`).
 */
export interface TandemTables {
  users: {
    id: Generated<number>;
    /** Lower case; unique. */
    username: string;
    password_hash: string;
    display_name: string;
    version: number;
    created_at: string;
    updated_at: string;
  };
  signing_keys: { kid: string; secret: string; created_at: string };
  sessions: {
    id: string;
    user_id: number;
    created_at: string;
    revoked_at: string | null;
    revoked_reason: string | null;
  };
  refresh_tokens: {
    token_hash: string;
    session_id: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
  };
  idempotency_keys: {
    scope: string;
    key: string;
    request_hash: string;
    status_code: number | null;
    response_body: string | null;
    response_headers: string | null;
    created_at: string;
  };
  channel_positions: { channel: string; last_offset: number };
}

export type Dialect = 'sqlite' | 'postgres';

export interface StoreOptions {
  /** A file path, or ':memory:'. */
  sqlitePath: string;
}

/** Opens the embedded SQLite store with the pragmas a server wants. */
export function openSqlite<T>(options: StoreOptions): { db: Kysely<T>; dialect: Dialect } {
  if (options.sqlitePath !== ':memory:') fs.mkdirSync(path.dirname(options.sqlitePath), { recursive: true });
  const database = new SQLite(options.sqlitePath);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return { db: new Kysely<T>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) }), dialect: 'sqlite' };
}

/**
 * Kysely prepares every query anew; SQLite's prepare was ~14% of a cached REST read's CPU.
 * The app issues a small, fixed set of SQL texts (parameters are bound, never inlined), so the
 * prepared statements are kept and reused, most recently used first, up to `max`.
 * Statements are only used synchronously (all/run), so one statement is never in use twice.
 */
function withStatementCache(database: SQLite.Database, max = 500): { close(): void; prepare(sql: string): SQLite.Statement } {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare(sqlText: string) {
      let statement = statements.get(sqlText);
      if (statement === undefined) {
        statement = database.prepare(sqlText);
        if (statements.size >= max) statements.delete(statements.keys().next().value as string);
      } else {
        statements.delete(sqlText);
      }
      statements.set(sqlText, statement);
      return statement;
    },
  };
}

/**
 * Opens PostgreSQL through a connection pool. `schema`, when given, becomes the search_path
 * (tests use a throwaway schema each). The app code and migrations are the same as on SQLite.
 */
export function openPostgres<T>(options: { url: string; schema?: string; maxConnections?: number }): { db: Kysely<T>; dialect: Dialect } {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  return { db: new Kysely<T>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres' };
}

/** True when the store answers a trivial query. */
export async function isStoreReachable(db: Kysely<unknown>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** Current time as an ISO-8601 string: the portable timestamp format of every table. */
export function nowIso(clock: () => number = Date.now): string {
  return new Date(clock()).toISOString();
}
