import { sql, type Kysely, type Transaction } from 'kysely';
import { type ChannelLog, nowIso } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb, SocialTables } from '../db';
import type { Notification, UserRef } from '../schemas';
import { previewOf } from './conversations';
import { toUserRef, USER_REF_COLUMNS } from './users';

export type NotificationInput = {
  userId: number;
  kind: SocialTables['notifications']['kind'];
  actorId: number;
  postId?: number;
  commentId?: number;
  conversationId?: number;
  messageId?: number;
};

/** How many actors a notification names ("bob, carol and 12 others"); the rest are counted. */
const SHOWN_ACTORS = 3;
/** Excerpts of the post and comment a notification is about: this many characters, "…" when cut. */
const EXCERPT_LENGTH = 80;

/**
 * What repeats of a notification merge on while it is unread: reactions by their target (a post, or
 * a comment), comments by their post. Replies and mentions each carry words meant for the reader,
 * and stay one row each (null).
 */
function groupKeyOf(input: Pick<NotificationInput, 'kind' | 'postId' | 'commentId'>): string | null {
  switch (input.kind) {
    case 'reaction':
      return input.commentId !== undefined ? `reaction:comment:${input.commentId}` : `reaction:post:${input.postId ?? 0}`;
    case 'comment':
      return `comment:post:${input.postId ?? 0}`;
    default:
      return null;
  }
}

function selectNotifications(db: Kysely<SocialDb>) {
  return db
    .selectFrom('notifications')
    .innerJoin('users', 'users.id', 'notifications.actor_id')
    .select([
      'notifications.id', 'notifications.kind', 'notifications.actor_id', ...USER_REF_COLUMNS, 'notifications.post_id',
      'notifications.comment_id', 'notifications.conversation_id', 'notifications.message_id', 'notifications.read_at',
      'notifications.created_at', 'notifications.version', 'notifications.actor_ids', 'notifications.actor_count',
      'notifications.post_excerpt', 'notifications.comment_excerpt',
    ]);
}

/**
 * The start of the post's and the comment's text, as they are now (only the start is loaded).
 * Stored with the notification (see migrations.ts, 1007_inbox_reads, for why not read with the list).
 */
async function excerptsOf(trx: Transaction<SocialDb>, postId: number | undefined, commentId: number | undefined): Promise<{ post_excerpt: string | null; comment_excerpt: string | null }> {
  const start = sql<string>`substr(body, 1, ${EXCERPT_LENGTH + 1})`.as('start');
  const post = postId === undefined ? undefined : await trx.selectFrom('posts').select(start).where('id', '=', postId).executeTakeFirst();
  const comment = commentId === undefined ? undefined : await trx.selectFrom('comments').select(start).where('id', '=', commentId).where('deleted_at', 'is', null).executeTakeFirst();
  return {
    post_excerpt: post === undefined ? null : previewOf(post.start, EXCERPT_LENGTH),
    comment_excerpt: comment === undefined ? null : previewOf(comment.start, EXCERPT_LENGTH),
  };
}

type Row = Awaited<ReturnType<ReturnType<typeof selectNotifications>['executeTakeFirstOrThrow']>>;

/** "12,5,3" → [12, 5, 3]; a row made before grouping names its one actor. */
function actorIdsOf(row: Pick<Row, 'actor_ids' | 'actor_id'>): number[] {
  const ids = row.actor_ids.split(',').filter((s) => s !== '').map(Number);
  return ids.length === 0 ? [row.actor_id] : ids;
}

/** Notifications from rows: one query for every actor the page names. */
async function toNotifications(db: Kysely<SocialDb>, rows: Row[]): Promise<Notification[]> {
  const wanted = [...new Set(rows.flatMap(actorIdsOf))];
  const users = new Map<number, UserRef>(rows.map((row) => [row.actor_id, toUserRef(row.actor_id, row)]));
  const missing = wanted.filter((id) => !users.has(id));
  if (missing.length > 0) {
    const found = await db.selectFrom('users').select(['users.id', ...USER_REF_COLUMNS]).where('users.id', 'in', missing).execute();
    for (const u of found) users.set(u.id, toUserRef(u.id, u));
  }
  return rows.map((row) => {
    const actors = actorIdsOf(row).flatMap((id) => users.get(id) ?? []);
    return {
      id: row.id,
      kind: row.kind,
      actor: toUserRef(row.actor_id, row),
      actors,
      actorCount: Math.max(row.actor_count, actors.length),
      postId: row.post_id,
      commentId: row.comment_id,
      conversationId: row.conversation_id,
      messageId: row.message_id,
      postExcerpt: row.post_excerpt,
      commentExcerpt: row.comment_excerpt,
      read: row.read_at !== null,
      createdAt: row.created_at,
      version: row.version,
    };
  });
}

async function notificationById(db: Kysely<SocialDb>, id: number): Promise<Notification> {
  return (await toNotifications(db, [await selectNotifications(db).where('notifications.id', '=', id).executeTakeFirstOrThrow()]))[0]!;
}

/**
 * Notifies a user of someone's action (never of their own) and announces it on the user's channel.
 *
 * Repeats group: while the user has an unread notification with the same group key (groupKeyOf),
 * a new one updates it instead of adding a row — the actor goes first in `actors`, `actorCount`
 * counts distinct actors, the time (and, for comments, the comment linked to) become the newest —
 * and `notification.updated` is appended. The unread row is found and claimed by an upsert on a
 * partial unique index, so two actors at the same moment on two nodes still make one row.
 */
export async function notify(trx: Transaction<SocialDb>, log: ChannelLog, input: NotificationInput): Promise<void> {
  if (input.userId === input.actorId) return;
  const groupKey = groupKeyOf(input);
  const insert = trx.insertInto('notifications').values({
    user_id: input.userId,
    kind: input.kind,
    actor_id: input.actorId,
    post_id: input.postId ?? null,
    comment_id: input.commentId ?? null,
    conversation_id: input.conversationId ?? null,
    message_id: input.messageId ?? null,
    read_at: null,
    group_key: groupKey,
    actor_ids: String(input.actorId),
    actor_count: 1,
    ...(await excerptsOf(trx, input.postId, input.commentId)),
    version: 1,
    created_at: nowIso(),
  });
  if (groupKey === null) {
    const { id } = await insert.returning('id').executeTakeFirstOrThrow();
    await log.append(channels.user(input.userId), 'notification.created', await notificationById(trx, id));
    return;
  }
  const row = await insert
    .onConflict((oc) => oc.columns(['user_id', 'group_key']).where('read_at', 'is', null).doUpdateSet((eb) => ({
      version: eb(eb.ref('notifications.version'), '+', 1),
      actor_id: eb.ref('excluded.actor_id'),
      comment_id: eb.ref('excluded.comment_id'),
      post_excerpt: eb.ref('excluded.post_excerpt'),
      comment_excerpt: eb.ref('excluded.comment_excerpt'),
      created_at: eb.ref('excluded.created_at'),
    })))
    .returning(['id', 'version', 'actor_ids', 'actor_id'])
    .executeTakeFirstOrThrow();
  await trx.insertInto('notification_actors').values({ notification_id: row.id, actor_id: input.actorId }).onConflict((oc) => oc.doNothing()).execute();
  if (row.version === 1) {
    await log.append(channels.user(input.userId), 'notification.created', await notificationById(trx, row.id));
    return;
  }
  // The row is ours until the commit (the upsert locked it): the read-modify-write of its actors is safe.
  const previous = row.actor_ids === '' ? [] : row.actor_ids.split(',').map(Number);
  const actorIds = [input.actorId, ...previous.filter((id) => id !== input.actorId)].slice(0, SHOWN_ACTORS);
  const { n } = await trx
    .selectFrom('notification_actors')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('notification_id', '=', row.id)
    .executeTakeFirstOrThrow();
  await trx.updateTable('notifications').set({ actor_ids: actorIds.join(','), actor_count: Number(n) }).where('id', '=', row.id).execute();
  await log.append(channels.user(input.userId), 'notification.updated', await notificationById(trx, row.id));
}

export async function listNotifications(db: Kysely<SocialDb>, userId: number, beforeId: number | undefined, limit: number): Promise<Notification[]> {
  let query = selectNotifications(db).where('notifications.user_id', '=', userId).orderBy('notifications.id', 'desc').limit(limit + 1);
  if (beforeId !== undefined) query = query.where('notifications.id', '<', beforeId);
  return toNotifications(db, await query.execute());
}

export async function unreadCount(db: Kysely<SocialDb>, userId: number): Promise<number> {
  const row = await db
    .selectFrom('notifications')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Marks the given (or all) unread notifications of the user read; others' ids are ignored.
 * One UPDATE … RETURNING: no id list is bound, so "mark all" works however many are unread.
 */
export async function markRead(trx: Transaction<SocialDb>, log: ChannelLog, userId: number, ids: number[] | undefined): Promise<number[]> {
  if (ids !== undefined && ids.length === 0) return [];
  let update = trx
    .updateTable('notifications')
    .set((eb) => ({ read_at: nowIso(), version: eb('version', '+', 1) }))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null);
  if (ids !== undefined) update = update.where('id', 'in', ids);
  const changed = (await update.returning('id').execute()).map((r) => r.id).sort((a, b) => a - b);
  if (changed.length === 0) return [];
  await log.append(channels.user(userId), 'notifications.read', { ids: changed });
  return changed;
}

/**
 * Deletes the notifications that point at a post or comment that is gone, telling their owners.
 * A grouped 'comment' notification of several people that links to the deleted comment stays (the
 * others' comments are still there): it links to the post instead (`notification.updated`).
 */
export async function forgetNotifications(trx: Transaction<SocialDb>, log: ChannelLog, column: 'post_id' | 'comment_id', id: number): Promise<void> {
  if (column === 'comment_id') {
    const kept = await trx
      .updateTable('notifications')
      .set((eb) => ({ comment_id: null, comment_excerpt: null, version: eb('version', '+', 1) }))
      .where('comment_id', '=', id)
      .where('kind', '=', 'comment')
      .where('actor_count', '>', 1)
      .returning(['id', 'user_id'])
      .execute();
    for (const row of kept) await log.append(channels.user(row.user_id), 'notification.updated', await notificationById(trx, row.id));
  }
  const doomed = await trx.selectFrom('notifications').select(['id', 'user_id']).where(column, '=', id).execute();
  if (doomed.length === 0) return;
  await trx.deleteFrom('notifications').where(column, '=', id).execute();
  for (const row of doomed) await log.append(channels.user(row.user_id), 'notification.deleted', { id: row.id });
}
