import { sql, type Transaction } from 'kysely';
import type { ChannelLog } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import { touchPostCounts } from './posts';

/** The `post.comments` event on `feed`: a post's comment count now. */
export interface PostComments {
  id: number;
  commentCount: number;
}

/**
 * Moves a post's comment count by `delta` (a comment created: +1; deleted: −1) in the write's
 * transaction, bumps the post's counts version (its ETag changes; an edit made against the old tag
 * is refused and the editor re-reads), and appends `post.comments` to `feed`: the feed list's ETag
 * follows that channel's position, so a cached page revalidates to the new count, and open feeds
 * get it live. Appended, not coalesced: comments come one person at a time, and an exact event per
 * comment keeps the count right on every node without a reader racing the next write.
 */
export async function moveCommentCount(trx: Transaction<SocialDb>, log: ChannelLog, postId: number, delta: 1 | -1): Promise<PostComments> {
  const row = await trx
    .updateTable('posts')
    .set({ comment_count: sql<number>`comment_count + ${delta}` })
    .where('id', '=', postId)
    .returning('comment_count')
    .executeTakeFirstOrThrow();
  await touchPostCounts(trx, postId);
  const counted: PostComments = { id: postId, commentCount: Number(row.comment_count) };
  await log.append(channels.feed, 'post.comments', counted);
  return counted;
}
