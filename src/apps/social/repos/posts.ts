import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso, ReadById, TandemError } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import type { Post } from '../schemas';
import { forgetNotifications } from './notifications';
import { toUserRef, USER_REF_COLUMNS } from './users';

function selectPosts(db: Kysely<SocialDb>) {
  return db
    .selectFrom('posts')
    .innerJoin('users', 'users.id', 'posts.author_id')
    .select(['posts.id', 'posts.author_id', ...USER_REF_COLUMNS, 'posts.body', 'posts.created_at', 'posts.updated_at', 'posts.version', 'posts.counts_version']);
}

type PostRow = { id: number; author_id: number; username: string; display_name: string; avatar_hash: string | null; body: string; created_at: string; updated_at: string; version: number; counts_version: number };

function toPost(row: PostRow): Post {
  return {
    id: row.id,
    author: toUserRef(row.author_id, row),
    body: row.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

const versionById = new ReadById((db: Kysely<SocialDb>, id: number) => db.selectFrom('posts').select(['version', 'counts_version', 'author_id']).where('id', '=', id));
const postById = new ReadById((db: Kysely<SocialDb>, id: number) => selectPosts(db).where('posts.id', '=', id));

/** A post's edit version, the version of its counts (both in its ETag), and its author. */
export async function postVersion(db: Kysely<SocialDb>, id: number): Promise<{ version: number; countsVersion: number; authorId: number } | undefined> {
  const row = await versionById.first(db, id);
  return row === undefined ? undefined : { version: row.version, countsVersion: row.counts_version, authorId: row.author_id };
}

export async function getPost(db: Kysely<SocialDb>, id: number): Promise<Post | undefined> {
  return (await getPostTagged(db, id))?.post;
}

/** A post with the version of its counts, read together (for its ETag). */
export async function getPostTagged(db: Kysely<SocialDb>, id: number): Promise<{ post: Post; countsVersion: number } | undefined> {
  const row = await postById.first(db, id);
  return row === undefined ? undefined : { post: toPost(row), countsVersion: row.counts_version };
}

/** Bumps the counts version of a post (its ETag changes; its edit version does not). */
export async function touchPostCounts(trx: Transaction<SocialDb>, id: number): Promise<void> {
  await trx.updateTable('posts').set((eb) => ({ counts_version: eb('counts_version', '+', 1) })).where('id', '=', id).execute();
}

/** Newest first; `limit + 1` rows so the caller can tell whether a next page exists. */
export async function listPosts(db: Kysely<SocialDb>, beforeId: number | undefined, limit: number): Promise<Post[]> {
  let query = selectPosts(db).orderBy('posts.id', 'desc').limit(limit + 1);
  if (beforeId !== undefined) query = query.where('posts.id', '<', beforeId);
  return (await query.execute()).map(toPost);
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
  return post;
}

export async function updatePost(trx: Transaction<SocialDb>, log: ChannelLog, id: number, body: string): Promise<Post> {
  await trx
    .updateTable('posts')
    .set((eb) => ({ body, updated_at: nowIso(), version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .execute();
  const post = await getPost(trx, id);
  if (post === undefined) throw new TandemError('not_found');
  await log.append(channels.feed, 'post.updated', post);
  await log.append(channels.post(id), 'post.updated', post);
  return post;
}

/** Deletes a post, its comments, and the notifications that pointed at it. */
export async function deletePost(trx: Transaction<SocialDb>, log: ChannelLog, id: number): Promise<void> {
  await forgetNotifications(trx, log, 'post_id', id);
  await trx.deleteFrom('posts').where('id', '=', id).execute();
  await log.append(channels.feed, 'post.deleted', { id });
  await log.append(channels.post(id), 'post.deleted', { id });
}
