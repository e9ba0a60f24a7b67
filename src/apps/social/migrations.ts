import { sql, type Kysely } from 'kysely';
import { withSerialId, type Dialect, type PortableMigration } from 'tandem/server';

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

/**
 * Reactions on posts and comments (1005_reactions). `target` + `target_id` name what was reacted
 * to (a post or a comment: no foreign key can name both, so deleting a post or comment deletes its
 * reactions explicitly, repos/reactions.ts forgetReactions). The primary key makes a reaction
 * idempotent (one per person, target and name) and, leading with the target, serves the grouped
 * counts of a page; a second index finds one person's reactions for "which did I leave".
 * `reaction_notices` remembers whom the author was told about (once per person and target);
 * `reaction_budgets` is each person's token bucket for reaction changes, kept in the store so that
 * every node of a cluster spends the same one, in the same transaction as the change.
 */
async function addReactions(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('reactions')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('target_id', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('reaction', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('reactions_pk', ['target', 'target_id', 'user_id', 'reaction'])
    .execute();
  await db.schema.createIndex('reactions_user').on('reactions').columns(['user_id', 'target', 'target_id']).execute();
  await db.schema
    .createTable('reaction_notices')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('target_id', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addPrimaryKeyConstraint('reaction_notices_pk', ['target', 'target_id', 'user_id'])
    .execute();
  await db.schema
    .createTable('reaction_budgets')
    .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id'))
    .addColumn('tokens', 'double precision', (c) => c.notNull())
    .addColumn('updated_ms', 'double precision', (c) => c.notNull())
    .execute();
}

/**
 * 1006_edits_mentions: when a comment was last edited, and a post's live comment count.
 *
 * - `comments.edited_at`: set by an edit (not by a delete), so "(edited)" means the text changed.
 * - `posts.comment_count`: the post's comments that are not deleted, kept with every create and
 *   delete in the same transaction, so a page of the feed carries its counts without a count per
 *   row. Existing rows are backfilled from the comments they have.
 */
async function addEditsAndCommentCounts(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('comments').addColumn('edited_at', 'text').execute();
  await db.schema.alterTable('posts').addColumn('comment_count', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await sql`update posts set comment_count = (select count(*) from comments where comments.post_id = posts.id and comments.deleted_at is null)`.execute(db);
}

/**
 * 1007_inbox_reads: a read position per conversation member, and grouped notifications.
 *
 * - `conversation_members.last_read_message_id`: the newest message the member has seen (null:
 *   none); the unread count of a conversation is its messages after it, not written by the member.
 * - `notifications.group_key`: what repeats merge on ("reaction:post:7"; null for kinds that never
 *   merge). At most one UNREAD notification per (user, group_key): the partial unique index lets an
 *   upsert find it atomically on both SQLite and PostgreSQL, so two actors at once still make one row.
 * - `notifications.actor_ids` / `actor_count`: the latest few actors (newest first, comma-separated)
 *   and how many distinct actors there were, kept on the row so a page of notifications needs no
 *   count per row; `notification_actors` holds the full set that makes the count distinct.
 * - `notifications.post_excerpt` / `comment_excerpt`: the start of what was said, taken when the
 *   notification is made (or grouped). Stored, not read with the list: the list's ETag is the
 *   user's channel position, which an edit elsewhere does not move, so words read at read time
 *   could differ from a cached copy's; a notification says what happened when it happened.
 */
async function addInboxReads(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('conversation_members').addColumn('last_read_message_id', 'integer').execute();
  await db.schema.alterTable('notifications').addColumn('group_key', 'text').execute();
  await db.schema.alterTable('notifications').addColumn('actor_ids', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('notifications').addColumn('actor_count', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.alterTable('notifications').addColumn('post_excerpt', 'text').execute();
  await db.schema.alterTable('notifications').addColumn('comment_excerpt', 'text').execute();
  await db.schema
    .createIndex('notifications_unread_group')
    .on('notifications')
    .columns(['user_id', 'group_key'])
    .unique()
    .where(sql.ref('read_at'), 'is', null)
    .execute();
  await db.schema
    .createTable('notification_actors')
    .addColumn('notification_id', 'integer', (c) => c.notNull().references('notifications.id').onDelete('cascade'))
    .addColumn('actor_id', 'integer', (c) => c.notNull().references('users.id'))
    .addPrimaryKeyConstraint('notification_actors_pk', ['notification_id', 'actor_id'])
    .execute();
}

/**
 * 1008_search: the indexes search reads (src/apps/social/repos/search.ts), each store its own.
 *
 * SQLite: `posts_fts`, an FTS5 table over posts.body (external content: the text stays in `posts`,
 * the index only), kept in step by triggers, so the code that writes posts knows nothing of it;
 * filled from the posts already there. unicode61 without diacritics folding, as PostgreSQL's
 * 'simple' configuration (the two stores must find the same posts). People: an index on
 * lower(display_name) (usernames have their unique index).
 *
 * PostgreSQL: a GIN index on to_tsvector('simple', body) (the search query repeats that
 * expression, so the index serves it; being an index, it is built from the existing rows and
 * kept by PostgreSQL itself), and text_pattern_ops indexes for LIKE 'prefix%' on the username and
 * lower(display_name) (a collation-ordered index cannot serve LIKE).
 */
async function addSearch(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`create index posts_body_search on posts using gin (to_tsvector('simple', body))`.execute(db);
    await sql`create index users_username_prefix on users (username text_pattern_ops)`.execute(db);
    await sql`create index users_display_name_prefix on users (lower(display_name) text_pattern_ops)`.execute(db);
    return;
  }
  await sql`create index users_display_name_lower on users (lower(display_name))`.execute(db);
  await sql`create virtual table posts_fts using fts5(body, content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 0', prefix='2 3')`.execute(db);
  await sql`create trigger posts_fts_insert after insert on posts begin
    insert into posts_fts(rowid, body) values (new.id, new.body);
  end`.execute(db);
  await sql`create trigger posts_fts_delete after delete on posts begin
    insert into posts_fts(posts_fts, rowid, body) values ('delete', old.id, old.body);
  end`.execute(db);
  await sql`create trigger posts_fts_update after update of body on posts begin
    insert into posts_fts(posts_fts, rowid, body) values ('delete', old.id, old.body);
    insert into posts_fts(rowid, body) values (new.id, new.body);
  end`.execute(db);
  await sql`insert into posts_fts(posts_fts) values ('rebuild')`.execute(db);
}

/** The social app's migrations (the library's run before them). */
export const socialMigrations: PortableMigration[] = [
  { name: '1001_users_posts_comments', up: createUsersAndPosts },
  { name: '1002_messaging_notifications', up: createMessaging },
  { name: '1003_avatars_counts', up: addAvatarsAndCounts },
  { name: '1004_avatar_store', up: createAvatarStore },
  { name: '1005_reactions', up: addReactions },
  { name: '1006_edits_mentions', up: addEditsAndCommentCounts },
  { name: '1007_inbox_reads', up: addInboxReads },
  { name: '1008_search', up: addSearch },
];
