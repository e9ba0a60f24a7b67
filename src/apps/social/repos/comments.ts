import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso, TandemError } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import type { Comment } from '../schemas';
import { moveCommentCount } from './comment-counts';
import { notifyMentions } from './mentions';
import { forgetNotifications, notify } from './notifications';
import { forgetReactions, withReactions } from './reactions';
import { toUserRef, USER_REF_COLUMNS } from './users';

function selectComments(db: Kysely<SocialDb>) {
  return db
    .selectFrom('comments')
    .innerJoin('users', 'users.id', 'comments.author_id')
    .select([
      'comments.id', 'comments.post_id', 'comments.parent_id', 'comments.author_id', ...USER_REF_COLUMNS,
      'comments.body', 'comments.deleted_at', 'comments.created_at', 'comments.edited_at', 'comments.version',
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
    editedAt: deleted ? null : row.edited_at,
    version: row.version,
    reactions: {},
  };
}

export async function getComment(db: Kysely<SocialDb>, id: number): Promise<Comment> {
  const [comment] = await withReactions(db, 'comment', [toComment(await selectComments(db).where('comments.id', '=', id).executeTakeFirstOrThrow())]);
  return comment!;
}

/** Oldest first, so a client can build the thread as it pages; replies carry their parentId. */
export async function listComments(db: Kysely<SocialDb>, postId: number, afterId: number | undefined, limit: number): Promise<Comment[]> {
  let query = selectComments(db).where('comments.post_id', '=', postId).orderBy('comments.id', 'asc').limit(limit + 1);
  if (afterId !== undefined) query = query.where('comments.id', '>', afterId);
  return withReactions(db, 'comment', (await query.execute()).map(toComment));
}

export async function commentOwner(
  db: Kysely<SocialDb>,
  id: number,
): Promise<{ authorId: number; postId: number; version: number; countsVersion: number; authorVersion: number; deleted: boolean } | undefined> {
  const row = await db
    .selectFrom('comments')
    .innerJoin('users', 'users.id', 'comments.author_id')
    .select(['comments.author_id', 'comments.post_id', 'comments.version', 'comments.counts_version', 'comments.deleted_at', 'users.version as author_version'])
    .where('comments.id', '=', id)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        authorId: row.author_id,
        postId: row.post_id,
        version: row.version,
        countsVersion: row.counts_version,
        authorVersion: row.author_version,
        deleted: row.deleted_at !== null,
      };
}

/** Bumps the counts version of a live comment (its ETag changes; its edit version does not); false when it is deleted or gone. */
export async function touchCommentCounts(trx: Transaction<SocialDb>, id: number): Promise<boolean> {
  const result = await trx
    .updateTable('comments')
    .set((eb) => ({ counts_version: eb('counts_version', '+', 1) }))
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
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
  await moveCommentCount(trx, log, input.postId, 1);
  const alreadyNotified = parentAuthor === undefined ? [post.author_id] : [post.author_id, parentAuthor];
  await notifyMentions(trx, log, { text: input.body, actorId: input.authorId, postId: input.postId, commentId: id, alreadyNotified });
  return comment;
}

/** Soft delete: the body goes, the comment stays so the thread keeps its shape; its notifications go. */
export async function deleteComment(trx: Transaction<SocialDb>, log: ChannelLog, id: number): Promise<Comment> {
  const now = nowIso();
  // Only a live comment: of two deletes at once (two nodes, both past the route's check), the second
  // finds it deleted (PostgreSQL re-reads the row once the first commits) and changes nothing, so
  // the post's comment count goes down once.
  const deleted = await trx
    .updateTable('comments')
    .set((eb) => ({ body: '', deleted_at: now, updated_at: now, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (deleted === undefined) throw new TandemError('not_found', `Comment ${id} does not exist`);
  await forgetReactions(trx, 'comment', id);
  const comment = await getComment(trx, id);
  await log.append(channels.post(comment.postId), 'comment.deleted', comment);
  await forgetNotifications(trx, log, 'comment_id', id);
  await moveCommentCount(trx, log, comment.postId, -1);
  return comment;
}

/**
 * Edits a comment's text (the caller checked the author and If-Match against `expected`), announces
 * `comment.updated` on the post's channel, and notifies the people the new text mentions that the
 * old one did not. The UPDATE itself requires the versions the caller checked: of two edits made
 * against the same tag at the same moment, the second finds them changed (PostgreSQL re-reads the
 * row once the first commits) and is refused with precondition_failed, never applied over the first.
 */
export async function updateComment(
  trx: Transaction<SocialDb>,
  log: ChannelLog,
  id: number,
  body: string,
  expected: { version: number; countsVersion: number },
): Promise<Comment> {
  const before = await trx
    .selectFrom('comments')
    .innerJoin('posts', 'posts.id', 'comments.post_id')
    .leftJoin('comments as parent', 'parent.id', 'comments.parent_id')
    .select(['comments.body', 'comments.post_id', 'posts.author_id as post_author', 'parent.author_id as parent_author'])
    .where('comments.id', '=', id)
    .executeTakeFirstOrThrow();
  const now = nowIso();
  const changed = await trx
    .updateTable('comments')
    .set((eb) => ({ body, edited_at: now, updated_at: now, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where('version', '=', expected.version)
    .where('counts_version', '=', expected.countsVersion)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (changed === undefined) throw new TandemError('precondition_failed', `Comment ${id} changed meanwhile; read it again`);
  const comment = await getComment(trx, id);
  await log.append(channels.post(before.post_id), 'comment.updated', comment);
  // The post's author and the answered comment's author were told about this comment already.
  const alreadyNotified = before.parent_author === null ? [before.post_author] : [before.post_author, before.parent_author];
  await notifyMentions(trx, log, { text: body, before: before.body, actorId: comment.author.id, postId: before.post_id, commentId: id, alreadyNotified });
  return comment;
}
