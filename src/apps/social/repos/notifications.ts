import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb, SocialTables } from '../db';
import type { Notification } from '../schemas';
import { toUserRef, USER_REF_COLUMNS } from './users';

type NotificationInput = {
  userId: number;
  kind: SocialTables['notifications']['kind'];
  actorId: number;
  postId?: number;
  commentId?: number;
  conversationId?: number;
  messageId?: number;
};

function selectNotifications(db: Kysely<SocialDb>) {
  return db
    .selectFrom('notifications')
    .innerJoin('users', 'users.id', 'notifications.actor_id')
    .select([
      'notifications.id', 'notifications.kind', 'notifications.actor_id', ...USER_REF_COLUMNS, 'notifications.post_id',
      'notifications.comment_id', 'notifications.conversation_id', 'notifications.message_id', 'notifications.read_at',
      'notifications.created_at', 'notifications.version',
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof selectNotifications>['executeTakeFirstOrThrow']>>;

function toNotification(row: Row): Notification {
  return {
    id: row.id,
    kind: row.kind,
    actor: toUserRef(row.actor_id, row),
    postId: row.post_id,
    commentId: row.comment_id,
    conversationId: row.conversation_id,
    messageId: row.message_id,
    read: row.read_at !== null,
    createdAt: row.created_at,
    version: row.version,
  };
}

/** Creates a notification (never for one's own action) and announces it on the user's channel. */
export async function notify(trx: Transaction<SocialDb>, log: ChannelLog, input: NotificationInput): Promise<void> {
  if (input.userId === input.actorId) return;
  const { id } = await trx
    .insertInto('notifications')
    .values({
      user_id: input.userId,
      kind: input.kind,
      actor_id: input.actorId,
      post_id: input.postId ?? null,
      comment_id: input.commentId ?? null,
      conversation_id: input.conversationId ?? null,
      message_id: input.messageId ?? null,
      read_at: null,
      version: 1,
      created_at: nowIso(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const row = await selectNotifications(trx).where('notifications.id', '=', id).executeTakeFirstOrThrow();
  await log.append(channels.user(input.userId), 'notification.created', toNotification(row));
}

export async function listNotifications(db: Kysely<SocialDb>, userId: number, beforeId: number | undefined, limit: number): Promise<Notification[]> {
  let query = selectNotifications(db).where('notifications.user_id', '=', userId).orderBy('notifications.id', 'desc').limit(limit + 1);
  if (beforeId !== undefined) query = query.where('notifications.id', '<', beforeId);
  return (await query.execute()).map(toNotification);
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

/** Deletes the notifications that point at a post or comment that is gone, telling their owners. */
export async function forgetNotifications(trx: Transaction<SocialDb>, log: ChannelLog, column: 'post_id' | 'comment_id', id: number): Promise<void> {
  const doomed = await trx.selectFrom('notifications').select(['id', 'user_id']).where(column, '=', id).execute();
  if (doomed.length === 0) return;
  await trx.deleteFrom('notifications').where(column, '=', id).execute();
  for (const row of doomed) await log.append(channels.user(row.user_id), 'notification.deleted', { id: row.id });
}
