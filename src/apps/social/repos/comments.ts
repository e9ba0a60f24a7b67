import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso, TandemError } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import type { Comment } from '../schemas';
import { forgetNotifications, notify } from './notifications';
import { toUserRef, USER_REF_COLUMNS } from './users';

function selectComments(db: Kysely<SocialDb>) {
  return db
    .selectFrom('comments')
    .innerJoin('users', 'users.id', 'comments.author_id')
    .select([
      'comments.id', 'comments.post_id', 'comments.parent_id', 'comments.author_id', ...USER_REF_COLUMNS,
      'comments.body', 'comments.deleted_at', 'comments.created_at', 'comments.version',
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof selectComments>['executeTakeFirstOrThrow']>>;

function toComment(row: Row): Comment {
  const deleted = row.deleted_at !== null;
  return {
    id: row.id,
    postId: row.post_id,
    parentId: row.parent_id,
    author: toUserRef(row.author_id, row),
    body: deleted ? null : row.body,
    deleted,
    createdAt: row.created_at,
    version: row.version,
  };
}

async function getComment(db: Kysely<SocialDb>, id: number): Promise<Comment> {
  return toComment(await selectComments(db).where('comments.id', '=', id).executeTakeFirstOrThrow());
}

/** Oldest first, so a client can build the thread as it pages; replies carry their parentId. */
export async function listComments(db: Kysely<SocialDb>, postId: number, afterId: number | undefined, limit: number): Promise<Comment[]> {
  let query = selectComments(db).where('comments.post_id', '=', postId).orderBy('comments.id', 'asc').limit(limit + 1);
  if (afterId !== undefined) query = query.where('comments.id', '>', afterId);
  return (await query.execute()).map(toComment);
}

export async function commentOwner(
  db: Kysely<SocialDb>,
  id: number,
): Promise<{ authorId: number; postId: number; version: number; countsVersion: number; deleted: boolean } | undefined> {
  const row = await db.selectFrom('comments').select(['author_id', 'post_id', 'version', 'counts_version', 'deleted_at']).where('id', '=', id).executeTakeFirst();
  return row === undefined
    ? undefined
    : { authorId: row.author_id, postId: row.post_id, version: row.version, countsVersion: row.counts_version, deleted: row.deleted_at !== null };
}

/** Bumps the counts version of a comment (its ETag changes; its edit version does not). */
export async function touchCommentCounts(trx: Transaction<SocialDb>, id: number): Promise<void> {
  await trx.updateTable('comments').set((eb) => ({ counts_version: eb('counts_version', '+', 1) })).where('id', '=', id).execute();
}

/**
 * Creates a comment (optionally answering another on the same post) and notifies the post's
 * author and the answered comment's author.
 */
export async function createComment(
  trx: Transaction<SocialDb>,
  log: ChannelLog,
  input: { postId: number; parentId: number | null; authorId: number; body: string },
): Promise<Comment> {
  const post = await trx.selectFrom('posts').select('author_id').where('id', '=', input.postId).executeTakeFirst();
  if (post === undefined) throw new TandemError('not_found', `Post ${input.postId} does not exist`);
  let parentAuthor: number | undefined;
  if (input.parentId !== null) {
    const parent = await trx.selectFrom('comments').select(['post_id', 'author_id', 'deleted_at']).where('id', '=', input.parentId).executeTakeFirst();
    if (parent === undefined || parent.post_id !== input.postId || parent.deleted_at !== null) {
      throw new TandemError('validation_failed', 'parentId must be a live comment on the same post', {
        errors: [{ field: 'body.parentId', message: 'is not a comment on this post' }],
      });
    }
    parentAuthor = parent.author_id;
  }
  const now = nowIso();
  const { id } = await trx
    .insertInto('comments')
    .values({ post_id: input.postId, parent_id: input.parentId, author_id: input.authorId, body: input.body, deleted_at: null, version: 1, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  const comment = await getComment(trx, id);
  await log.append(channels.post(input.postId), 'comment.created', comment);
  if (parentAuthor !== undefined) {
    await notify(trx, log, { userId: parentAuthor, kind: 'reply', actorId: input.authorId, postId: input.postId, commentId: id });
  }
  if (post.author_id !== parentAuthor) {
    await notify(trx, log, { userId: post.author_id, kind: 'comment', actorId: input.authorId, postId: input.postId, commentId: id });
  }
  return comment;
}

/** Soft delete: the body goes, the comment stays so the thread keeps its shape; its notifications go. */
export async function deleteComment(trx: Transaction<SocialDb>, log: ChannelLog, id: number): Promise<Comment> {
  const now = nowIso();
  await trx
    .updateTable('comments')
    .set((eb) => ({ body: '', deleted_at: now, updated_at: now, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .execute();
  const comment = await getComment(trx, id);
  await log.append(channels.post(comment.postId), 'comment.deleted', comment);
  await forgetNotifications(trx, log, 'comment_id', id);
  return comment;
}
