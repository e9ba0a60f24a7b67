import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso, ReadById, TandemError } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import type { Post } from '../schemas';
import { notifyMentions } from './mentions';
import { forgetNotifications } from './notifications';
import { forgetReactions, withReactions } from './reactions';
import { toUserRef, USER_REF_COLUMNS } from './users';

export function selectPosts(db: Kysely<SocialDb>) {
  return db
    .selectFrom('posts')
    .innerJoin('users', 'users.id', 'posts.author_id')
    .select(['posts.id', 'posts.author_id', ...USER_REF_COLUMNS, 'posts.body', 'posts.created_at', 'posts.updated_at', 'posts.version', 'posts.counts_version', 'posts.comment_count']);
}

type PostRow = { id: number; author_id: number; username: string; display_name: string; avatar_hash: string | null; body: string; created_at: string; updated_at: string; version: number; counts_version: number; comment_count: number };

export function toPost(row: PostRow): Post {
  return {
    id: row.id,
    author: toUserRef(row.author_id, row),
    body: row.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
    commentCount: Number(row.comment_count),
    reactions: {},
  };
}

const versionById = new ReadById((db: Kysely<SocialDb>, id: number) =>
  db.selectFrom('posts').innerJoin('users', 'users.id', 'posts.author_id').select(['posts.version', 'posts.counts_version', 'posts.author_id', 'users.version as author_version']).where('posts.id', '=', id));
const postById = new ReadById((db: Kysely<SocialDb>, id: number) => selectPosts(db).select('users.version as author_version').where('posts.id', '=', id));

/**
 * A post's edit version, the version of its counts and its author's profile version (all in its
 * ETag: the post embeds the author's name and avatar), and its author.
 */
export async function postVersion(db: Kysely<SocialDb>, id: number): Promise<{ version: number; countsVersion: number; authorId: number; authorVersion: number } | undefined> {
  const row = await versionById.first(db, id);
  return row === undefined ? undefined : { version: row.version, countsVersion: row.counts_version, authorId: row.author_id, authorVersion: row.author_version };
}

export async function getPost(db: Kysely<SocialDb>, id: number): Promise<Post | undefined> {
  return (await getPostTagged(db, id))?.post;
}

/** A post with the version of its counts and its author's profile version, read together (for its ETag). */
export async function getPostTagged(db: Kysely<SocialDb>, id: number): Promise<{ post: Post; countsVersion: number; authorVersion: number } | undefined> {
  const row = await postById.first(db, id);
  if (row === undefined) return undefined;
  const [post] = await withReactions(db, 'post', [toPost(row)]);
  return { post: post!, countsVersion: row.counts_version, authorVersion: row.author_version };
}

/** Bumps the counts version of a post (its ETag changes; its edit version does not); false when the post is gone. */
export async function touchPostCounts(trx: Transaction<SocialDb>, id: number): Promise<boolean> {
  const result = await trx.updateTable('posts').set((eb) => ({ counts_version: eb('counts_version', '+', 1) })).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Newest first (one author's only, with `authorId`); `limit + 1` rows so the caller can tell whether a next page exists. */
export async function listPosts(db: Kysely<SocialDb>, beforeId: number | undefined, limit: number, authorId?: number): Promise<Post[]> {
  let query = selectPosts(db).orderBy('posts.id', 'desc').limit(limit + 1);
  if (beforeId !== undefined) query = query.where('posts.id', '<', beforeId);
  if (authorId !== undefined) query = query.where('posts.author_id', '=', authorId);
  return withReactions(db, 'post', (await query.execute()).map(toPost));
}

export async function createPost(trx: Transaction<SocialDb>, log: ChannelLog, authorId: number, body: string): Promise<Post> {
  const now = nowIso();
  const { id } = await trx
    .insertInto('posts')
    .values({ author_id: authorId, body, version: 1, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  const post = await getPost(trx, id);
  if (post === undefined) throw new Error('post vanished inside its own transaction');
  await log.append(channels.feed, 'post.created', post);
  await notifyMentions(trx, log, { text: body, actorId: authorId, postId: id });
  return post;
}

/**
 * Edits a post. With `expected` (the versions the caller's If-Match check saw), the UPDATE requires
 * them: of two edits against the same tag at the same moment, the second finds the row changed
 * (PostgreSQL re-reads it once the first commits) and is refused with precondition_failed.
 */
export async function updatePost(
  trx: Transaction<SocialDb>,
  log: ChannelLog,
  id: number,
  body: string,
  expected?: { version: number; countsVersion: number },
): Promise<Post> {
  const before = await trx.selectFrom('posts').select('body').where('id', '=', id).executeTakeFirst();
  let update = trx
    .updateTable('posts')
    .set((eb) => ({ body, updated_at: nowIso(), version: eb('version', '+', 1) }))
    .where('id', '=', id);
  if (expected !== undefined) update = update.where('version', '=', expected.version).where('counts_version', '=', expected.countsVersion);
  const changed = await update.returning('id').executeTakeFirst();
  if (changed === undefined) throw new TandemError('precondition_failed', `Post ${id} changed meanwhile; read it again`);
  const post = await getPost(trx, id);
  if (post === undefined) throw new TandemError('not_found');
  await log.append(channels.feed, 'post.updated', post);
  await log.append(channels.post(id), 'post.updated', post);
  await notifyMentions(trx, log, { text: body, before: before?.body, actorId: post.author.id, postId: id });
  return post;
}

/** Deletes a post, its comments, and the notifications that pointed at it. */
export async function deletePost(trx: Transaction<SocialDb>, log: ChannelLog, id: number): Promise<void> {
  // The post's row locked first: a reaction (or comment) being written to it on another node
  // either commits before this goes on (and the statements below, each with a fresh snapshot on
  // PostgreSQL, see and delete what it wrote), or waits and finds the post gone (404).
  await trx.updateTable('posts').set((eb) => ({ version: eb.ref('version') })).where('id', '=', id).execute();
  await forgetNotifications(trx, log, 'post_id', id);
  await forgetReactions(trx, 'post', id);
  await trx.deleteFrom('posts').where('id', '=', id).execute();
  await log.append(channels.feed, 'post.deleted', { id });
  await log.append(channels.post(id), 'post.deleted', { id });
}
