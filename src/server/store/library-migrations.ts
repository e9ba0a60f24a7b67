import { withSerialId, type PortableMigration } from './migrate';

/** Tables of the library (TandemTables); they run before an app's own migrations. */
export const libraryMigrations: PortableMigration[] = [
  {
    name: '0001_server_tables',
    async up(db) {
      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('revoked_reason', 'text')
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
      await db.schema.createIndex('refresh_tokens_session').on('refresh_tokens').column('session_id').execute();
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response_body', 'text')
        .addColumn('response_headers', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
      await db.schema
        .createTable('channel_positions')
        .addColumn('channel', 'text', (c) => c.primaryKey())
        .addColumn('last_offset', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  {
    // Accounts moved into the library after the social app had created `users` itself: a store made
    // by that version already has the table (with the social app's own `bio`), so this is a no-op there.
    name: '0002_accounts',
    async up(db, dialect) {
      await withSerialId(db.schema.createTable('users').ifNotExists(), dialect)
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    // The outbox of a cluster: every committed channel event, written in its transaction, so a
    // publication its node never delivered (the node died after the commit, Redis was away) can be
    // read back by any node. One process does not write it.
    name: '0003_channel_events',
    async up(db) {
      await db.schema
        .createTable('channel_events')
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('offset', 'integer', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('channel_events_pk', ['channel', 'offset'])
        .execute();
      await db.schema.createIndex('channel_events_created').on('channel_events').column('created_at').execute();
    },
  },
];
