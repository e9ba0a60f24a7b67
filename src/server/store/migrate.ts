import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type CreateTableBuilder } from 'kysely';
import type { Dialect } from './database';

/**
 * The PostgreSQL advisory lock that serializes Tandem's migrations (any fixed 64-bit number; this
 * one is 'tandem:m' in ASCII). Kysely's Migrator has a lock of its own, but only around applying
 * migrations; before it, each node races to create the bookkeeping tables (Kysely catches the
 * collisions and looks again). Under this lock the whole start is one node at a time, and the
 * lock's wait is exempt from statement_timeout.
 */
const MIGRATION_LOCK_KEY = sql.lit(0x74616e64656d3a6dn);

/** A migration written once for both dialects; `dialect` only picks column types. */
export interface PortableMigration {
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Adds an auto-incrementing integer primary key named `id` in the dialect's own way. */
export function withSerialId<T extends string>(
  builder: CreateTableBuilder<T, never>,
  dialect: Dialect,
): CreateTableBuilder<T, 'id'> {
  return dialect === 'postgres'
    ? builder.addColumn('id', 'serial', (col) => col.primaryKey())
    : builder.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement());
}

/**
 * Runs every pending migration in name order; throws with the failing migration's name.
 * A pending migration that sorts before applied ones still runs (a library upgrade adds migrations
 * below an app's), so names must never be reused; a repeated name is refused here.
 * On PostgreSQL, nodes that start together migrate one at a time (an advisory lock), so every
 * migration runs once.
 */
export async function migrate(db: Kysely<unknown>, dialect: Dialect, migrations: readonly PortableMigration[]): Promise<void> {
  const names = new Set<string>();
  for (const { name } of migrations) {
    if (names.has(name)) throw new Error(`Two migrations are named ${name}`);
    names.add(name);
  }
  if (dialect !== 'postgres') return runMigrator(db, dialect, migrations);
  // Nodes starting together each reach this point; one migrates while the others wait on the lock,
  // then find nothing pending. On one dedicated connection: an advisory lock belongs to a session.
  let locked = false;
  try {
    await db.connection().execute(async (connection) => {
      // A long migration (an index on a big table) must not be cut off, nor the wait for one.
      await sql`set statement_timeout = 0`.execute(connection);
      await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(connection);
      locked = true;
      try {
        await runMigrator(connection, dialect, migrations);
      } finally {
        // If the connection broke, the session's end released the lock already.
        await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(connection).catch(() => undefined);
        await sql`reset statement_timeout`.execute(connection).catch(() => undefined);
      }
    });
  } catch (error) {
    if (locked) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`Migrations could not start on PostgreSQL: ${message}`, { cause: error });
  }
}

async function runMigrator(db: Kysely<unknown>, dialect: Dialect, migrations: readonly PortableMigration[]): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const entries: Record<string, Migration> = {};
      for (const m of migrations) entries[m.name] = { up: (kdb) => m.up(kdb, dialect) };
      return entries;
    },
  };
  // Kysely looks for its bookkeeping tables in every schema unless told which one: on a database
  // with another Tandem schema it would find that one's and skip creating ours.
  const schema = dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  const { error, results } = await new Migrator({ db, provider, allowUnorderedMigrations: true, ...(schema === undefined ? {} : { migrationTableSchema: schema }) }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${message}`, { cause: error });
  }
}
