import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type Generated, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { TandemPostgresDialect } from './postgres-dialect';

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
  /** A cluster's outbox (see CommitAnnouncer's `outbox`): every committed event, JSON in `data`. */
  channel_events: { channel: string; offset: number; event: string; data: string; created_at: string };
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
  const statements = withStatementCache(database);
  const db = new Kysely<T>({ dialect: new SqliteDialect({ database: statements }) });
  directReaders.set(db, (sqlText, parameters) => (database.inTransaction ? NOT_NOW : statements.prepare(sqlText).get(parameters)));
  return { db, dialect: 'sqlite' };
}

/** What a direct reader answers when it cannot read now: the caller goes through Kysely. */
export const NOT_NOW: unique symbol = Symbol('not now');
/** Reads the first row of a compiled SELECT at once, or answers NOT_NOW. */
export type DirectReader = (sqlText: string, parameters: readonly unknown[]) => unknown;
const directReaders = new WeakMap<object, DirectReader>();

/**
 * A synchronous way to run a single-row read on `db`, when it is an embedded SQLite store.
 *
 * Kysely serialises the one SQLite connection with a mutex and a few promise turns per query
 * (acquire, execute, release): on a cached REST read that is several microseconds for a 2-3 µs
 * statement. better-sqlite3 is synchronous, so a read that runs to completion in one call can
 * interleave with nothing. The one thing it must not do is read in the middle of someone else's
 * open transaction on the shared connection (it would see uncommitted writes): then the reader
 * answers NOT_NOW and the read waits its turn through Kysely like any other query.
 */
export function directReaderOf(db: object): DirectReader | undefined {
  return directReaders.get(db);
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

/** How to reach PostgreSQL and how patient to be with it. */
export interface PostgresOptions {
  url: string;
  /** Becomes the search_path (tests use a throwaway schema each); a URL's own `options` win. */
  schema?: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection (a new one, or a free one of a full pool). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** An idle connection is closed after this long. Default 30000 ms. */
  idleTimeoutMs?: number;
  /** The server cancels statements running longer (statement_timeout); 0 never. Default 0. */
  statementTimeoutMs?: number;
  /** Called when a connection breaks outside any query (the database restarted, the network dropped). */
  onConnectionError?: (error: Error) => void;
}

/**
 * Opens PostgreSQL through a connection pool. The app code and migrations are the same as on
 * SQLite. A down database answers errors (see isStoreUnavailable) instead of hanging or crashing:
 * connecting has a deadline, and a connection that breaks while idle is dropped and reported.
 */
export function openPostgres<T>(options: PostgresOptions): { db: Kysely<T>; dialect: Dialect } {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    // A startup parameter of its own, so it does not collide with a URL's `?options=-c search_path=…`
    // (pg lets the URL's parameters override the pool's).
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    // Finds a peer that vanished without a FIN or RST (a dead host, a dropped NAT entry).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'tandem',
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  const onError = options.onConnectionError ?? ((error: Error) => process.emitWarning(`PostgreSQL connection error: ${error.message}`, { type: 'TandemStoreWarning' }));
  // An idle connection's error reaches the pool, which drops that connection; without a listener
  // the 'error' event would end the process.
  pool.on('error', (error) => {
    // pg-pool hangs the whole client on the error; a logger would serialize all of it.
    delete (error as Error & { client?: unknown }).client;
    onError(error);
  });
  // A connection lent out (to a transaction between two statements, say) emits its error on itself:
  // that must not end the process either. Its next query fails, the request answers 503, and the
  // pool discards it on release (it is no longer queryable).
  pool.on('connect', (client) => client.on('error', () => {}));
  return { db: new Kysely<T>({ dialect: new TandemPostgresDialect({ pool: markingErrors(pool) }) }), dialect: 'postgres' };
}

/** Errors that came out of a PostgreSQL store: only these can mean "the store is unreachable". */
const fromStore = new WeakSet<object>();

function markFromStore(error: unknown): unknown {
  if (error !== null && typeof error === 'object') fromStore.add(error);
  return error;
}

/**
 * The pool as Kysely sees it, with every error it hands out (connecting, querying) marked as the
 * store's: an app's own outbound call that is refused stays a 500, not a "database down" 503.
 * A connection whose query failed for want of the server is discarded on release, not lent again:
 * after an administrator's termination (57P01) the error can arrive before the socket's end.
 */
function markingErrors(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect().catch((error: unknown) => {
        throw markFromStore(error);
      });
      let broken = false;
      const query = (text: string, parameters: readonly unknown[]) =>
        client.query(text, [...parameters]).catch((error: unknown) => {
          if (someInChain(error, meansUnreachable)) broken = true;
          throw markFromStore(error);
        });
      // Only the (sql, parameters) form: Kysely passes cursors only when the dialect is given one.
      return { query: query as unknown as PostgresPoolClient['query'], release: (destroy?: boolean) => client.release(destroy === true || broken) };
    },
    end: () => pool.end(),
  };
}

/** Node's socket errors that mean "the database is not there" (refused, reset, unreachable, unresolved). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * PostgreSQL's SQLSTATEs for the same: class 08 (connection exception) and 57P01-57P03
 * (admin_shutdown, crash_shutdown, cannot_connect_now: the server is stopping or starting).
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3])$/;
/** node-postgres's own errors for a connection that timed out, ended or broke; they carry no code. */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // 'unexpectedly', 'due to connection timeout', or while shutting down
  /^timeout exceeded when trying to connect$/, // the pool had no connection to lend in time
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];

/**
 * True when an error came out of the store and means it cannot be reached right now (rather than
 * that the query was wrong): the HTTP layer answers it 503 `unavailable` with Retry-After, not 500.
 * Follows `cause` and AggregateError's `errors` (a host name resolving to several addresses).
 */
export function isStoreUnavailable(error: unknown): boolean {
  return someInChain(error, (outer) => fromStore.has(outer) && someInChain(outer, meansUnreachable));
}

function meansUnreachable(error: object): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message));
}

function someInChain(error: unknown, test: (error: object) => boolean, depth = 0): boolean {
  if (depth > 4 || error === null || typeof error !== 'object') return false;
  if (test(error)) return true;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.some((inner) => someInChain(inner, test, depth + 1))) return true;
  return someInChain(cause, test, depth + 1);
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
