import type { Kysely } from 'kysely';
import { withSerialId, type Dialect, type PortableMigration } from 'tandem/server';
import { addEditsAndCommentCounts } from './edits-migration';
import { addInboxReads } from './inbox-migration';
import { addReactions } from './reactions-migration';
import { addSearch } from './search-migration';

/**
 * The library's migrations create `users` (accounts); this one adds the profile's `bio`.
 * (A store made before accounts moved into the library ran an earlier version of this migration,
 * which created `users` with `bio` itself; the library's own migration leaves that table as it is.)
 */
async function createUsersAndPosts(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('users').addColumn('bio', 'text', (c) => c.notNull().defaultTo('')).execute();
  await withSerialId(db.schema.createTable('posts'), dialect)
    .addColumn('author_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('posts_author').on('posts').column('author_id').execute();
  await withSerialId(db.schema.createTable('comments'), dialect)
    .addColumn('post_id', 'integer', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('parent_id', 'integer', (c) => c.references('comments.id').onDelete('cascade'))
    .addColumn('author_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('comments_post').on('comments').columns(['post_id', 'id']).execute();
}

async function createMessaging(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await withSerialId(db.schema.createTable('conversations'), dialect)
    .addColumn('member_key', 'text', (c) => c.notNull().unique())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_message_at', 'text')
    .execute();
  await db.schema
    .createTable('conversation_members')
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addPrimaryKeyConstraint('conversation_members_pk', ['conversation_id', 'user_id'])
    .execute();
  await db.schema.createIndex('conversation_members_user').on('conversation_members').column('user_id').execute();
  await withSerialId(db.schema.createTable('messages'), dialect)
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('author_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('messages_conversation').on('messages').columns(['conversation_id', 'id']).execute();
  await withSerialId(db.schema.createTable('notifications'), dialect)
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('post_id', 'integer')
    .addColumn('comment_id', 'integer')
    .addColumn('conversation_id', 'integer')
    .addColumn('message_id', 'integer')
    .addColumn('read_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('notifications_user').on('notifications').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('notifications_post').on('notifications').column('post_id').execute();
}

/**
 * The uploaded avatar's content hash (null: the generated initials are shown), and a counter on
 * posts and comments that every change of their counts (reactions, comments) bumps: their ETags
 * include it, so a cached copy never shows old counts, while `version` stays the edit version.
 */
async function addAvatarsAndCounts(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('avatar_hash', 'text').execute();
  await db.schema.alterTable('posts').addColumn('counts_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('comments').addColumn('counts_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

/**
 * Uploaded avatars, stored in the database under their content hash so that every node of a
 * cluster serves them (no shared disk needed): bytes are a blob on SQLite, bytea on PostgreSQL.
 */
async function createAvatarStore(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('avatars')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('bytes', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

/** The social app's migrations (the library's run before them). */
export const socialMigrations: PortableMigration[] = [
  { name: '1001_users_posts_comments', up: createUsersAndPosts },
  { name: '1002_messaging_notifications', up: createMessaging },
  { name: '1003_avatars_counts', up: addAvatarsAndCounts },
  { name: '1004_avatar_store', up: createAvatarStore },
  { name: '1007_inbox_reads', up: addInboxReads },
  { name: '1006_edits_mentions', up: addEditsAndCommentCounts },
  { name: '1005_reactions', up: addReactions },
  { name: '1008_search', up: addSearch },
];
