import { sql, type Kysely } from 'kysely';

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
export async function addInboxReads(db: Kysely<unknown>): Promise<void> {
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
