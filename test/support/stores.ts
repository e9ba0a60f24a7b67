import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { SocialDb } from '../../src/apps/social/db';
import { openPostgres, openSqlite, type Dialect } from '../../src/server/store/database';
import { POSTGRES_URL, postgresAvailable } from './services';

/** A store the store-level suites run their contract against. */
export interface StoreUnderTest {
  db: Kysely<SocialDb>;
  dialect: Dialect;
  dispose(): Promise<void>;
}

/**
 * Every store a contract must hold on: SQLite in memory, and PostgreSQL in a schema of its own
 * (dropped by `dispose`) when it is reachable.
 */
export async function storesUnderTest(): Promise<Array<{ name: string; enabled: boolean; open: () => Promise<StoreUnderTest> }>> {
  const postgres = await postgresAvailable();
  return [
    {
      name: 'sqlite',
      enabled: true,
      async open() {
        const { db, dialect } = openSqlite<SocialDb>({ sqlitePath: ':memory:' });
        return { db, dialect, dispose: () => db.destroy() };
      },
    },
    {
      name: 'postgres',
      enabled: postgres,
      async open() {
        const schema = `tandem_test_${randomBytes(6).toString('hex')}`;
        const admin = openPostgres<unknown>({ url: POSTGRES_URL, maxConnections: 1 });
        await sql.raw(`create schema ${schema}`).execute(admin.db);
        const { db, dialect } = openPostgres<SocialDb>({ url: POSTGRES_URL, schema });
        return {
          db,
          dialect,
          async dispose() {
            await db.destroy();
            await sql.raw(`drop schema ${schema} cascade`).execute(admin.db);
            await admin.db.destroy();
          },
        };
      },
    },
  ];
}
