import { Migrator, type Kysely, type Migration, type MigrationProvider, type CreateTableBuilder } from 'kysely';
import type { Dialect } from './database';

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
 */
export async function migrate(db: Kysely<unknown>, dialect: Dialect, migrations: readonly PortableMigration[]): Promise<void> {
  const names = new Set<string>();
  for (const { name } of migrations) {
    if (names.has(name)) throw new Error(`Two migrations are named ${name}`);
    names.add(name);
  }
  const provider: MigrationProvider = {
    async getMigrations() {
      const entries: Record<string, Migration> = {};
      for (const m of migrations) entries[m.name] = { up: (kdb) => m.up(kdb, dialect) };
      return entries;
    },
  };
  const { error, results } = await new Migrator({ db, provider, allowUnorderedMigrations: true }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${message}`, { cause: error });
  }
}
