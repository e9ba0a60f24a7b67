import { sql, type Kysely } from 'kysely';

/**
 * 1006_edits_mentions: when a comment was last edited, and a post's live comment count.
 *
 * - `comments.edited_at`: set by an edit (not by a delete), so "(edited)" means the text changed.
 * - `posts.comment_count`: the post's comments that are not deleted, kept with every create and
 *   delete in the same transaction, so a page of the feed carries its counts without a count per
 *   row. Existing rows are backfilled from the comments they have.
 */
export async function addEditsAndCommentCounts(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('comments').addColumn('edited_at', 'text').execute();
  await db.schema.alterTable('posts').addColumn('comment_count', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await sql`update posts set comment_count = (select count(*) from comments where comments.post_id = posts.id and comments.deleted_at is null)`.execute(db);
}
