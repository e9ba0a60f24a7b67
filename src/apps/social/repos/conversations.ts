import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, nowIso } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import type { Conversation, Message, UserRef } from '../schemas';
import { notify } from './notifications';
import { toUserRef, USER_REF_COLUMNS } from './users';

async function membersOf(db: Kysely<SocialDb>, conversationIds: number[]): Promise<Map<number, UserRef[]>> {
  const byConversation = new Map<number, UserRef[]>(conversationIds.map((id) => [id, []]));
  if (conversationIds.length === 0) return byConversation;
  const rows = await db
    .selectFrom('conversation_members')
    .innerJoin('users', 'users.id', 'conversation_members.user_id')
    .select(['conversation_members.conversation_id', 'users.id', ...USER_REF_COLUMNS])
    .where('conversation_members.conversation_id', 'in', conversationIds)
    .orderBy('users.id')
    .execute();
  for (const row of rows) byConversation.get(row.conversation_id)?.push(toUserRef(row.id, row));
  return byConversation;
}

async function toConversations(
  db: Kysely<SocialDb>,
  rows: Array<{ id: number; created_at: string; last_message_at: string | null; version: number }>,
): Promise<Conversation[]> {
  const members = await membersOf(db, rows.map((r) => r.id));
  return rows.map((r) => ({ id: r.id, members: members.get(r.id) ?? [], createdAt: r.created_at, lastMessageAt: r.last_message_at, version: r.version }));
}

/** Member ids of a conversation, or undefined when it does not exist. */
export async function conversationMemberIds(db: Kysely<SocialDb>, id: number): Promise<number[] | undefined> {
  const rows = await db.selectFrom('conversation_members').select('user_id').where('conversation_id', '=', id).execute();
  return rows.length === 0 ? undefined : rows.map((r) => r.user_id);
}

export async function isMember(db: Kysely<SocialDb>, conversationId: number, userId: number): Promise<boolean> {
  const row = await db
    .selectFrom('conversation_members')
    .select('user_id')
    .where('conversation_id', '=', conversationId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Opens the conversation between exactly these members, or returns the one that exists:
 * a direct message with someone is one thread, however often it is "started".
 */
export async function openConversation(
  trx: Transaction<SocialDb>,
  log: ChannelLog,
  memberIds: number[],
): Promise<{ conversation: Conversation; created: boolean }> {
  const sorted = [...new Set(memberIds)].sort((a, b) => a - b);
  const memberKey = sorted.join(',');
  const existing = await trx.selectFrom('conversations').select(['id', 'created_at', 'last_message_at', 'version']).where('member_key', '=', memberKey).executeTakeFirst();
  if (existing !== undefined) return { conversation: (await toConversations(trx, [existing]))[0]!, created: false };
  const row = await trx
    .insertInto('conversations')
    .values({ member_key: memberKey, version: 1, created_at: nowIso(), last_message_at: null })
    .returning(['id', 'created_at', 'last_message_at', 'version'])
    .executeTakeFirstOrThrow();
  await trx.insertInto('conversation_members').values(sorted.map((user_id) => ({ conversation_id: row.id, user_id }))).execute();
  const conversation = (await toConversations(trx, [row]))[0]!;
  for (const userId of sorted) await log.append(channels.user(userId), 'conversation.created', conversation);
  return { conversation, created: true };
}

export async function listConversations(db: Kysely<SocialDb>, userId: number, beforeId: number | undefined, limit: number): Promise<Conversation[]> {
  let query = db
    .selectFrom('conversations')
    .innerJoin('conversation_members', 'conversation_members.conversation_id', 'conversations.id')
    .select(['conversations.id', 'conversations.created_at', 'conversations.last_message_at', 'conversations.version'])
    .where('conversation_members.user_id', '=', userId)
    .orderBy('conversations.id', 'desc')
    .limit(limit + 1);
  if (beforeId !== undefined) query = query.where('conversations.id', '<', beforeId);
  return toConversations(db, await query.execute());
}

/** One conversation, as its members see it; undefined when it does not exist or `userId` is not a member. */
export async function getConversation(db: Kysely<SocialDb>, id: number, userId: number): Promise<Conversation | undefined> {
  const row = await db
    .selectFrom('conversations')
    .innerJoin('conversation_members', 'conversation_members.conversation_id', 'conversations.id')
    .select(['conversations.id', 'conversations.created_at', 'conversations.last_message_at', 'conversations.version'])
    .where('conversations.id', '=', id)
    .where('conversation_members.user_id', '=', userId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return (await toConversations(db, [row]))[0];
}

function selectMessages(db: Kysely<SocialDb>) {
  return db
    .selectFrom('messages')
    .innerJoin('users', 'users.id', 'messages.author_id')
    .select(['messages.id', 'messages.conversation_id', 'messages.author_id', ...USER_REF_COLUMNS, 'messages.body', 'messages.created_at']);
}

type MessageRow = Awaited<ReturnType<ReturnType<typeof selectMessages>['executeTakeFirstOrThrow']>>;

function toMessage(row: MessageRow): Message {
  return { id: row.id, conversationId: row.conversation_id, author: toUserRef(row.author_id, row), body: row.body, createdAt: row.created_at };
}

/** Newest first. */
export async function listMessages(db: Kysely<SocialDb>, conversationId: number, beforeId: number | undefined, limit: number): Promise<Message[]> {
  let query = selectMessages(db).where('messages.conversation_id', '=', conversationId).orderBy('messages.id', 'desc').limit(limit + 1);
  if (beforeId !== undefined) query = query.where('messages.id', '<', beforeId);
  return (await query.execute()).map(toMessage);
}

/** Sends a message: the conversation's channel and every member's channel hear of it. */
export async function sendMessage(
  trx: Transaction<SocialDb>,
  log: ChannelLog,
  input: { conversationId: number; authorId: number; body: string; memberIds: number[] },
): Promise<Message> {
  const now = nowIso();
  const { id } = await trx
    .insertInto('messages')
    .values({ conversation_id: input.conversationId, author_id: input.authorId, body: input.body, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .updateTable('conversations')
    .set((eb) => ({ last_message_at: now, version: eb('version', '+', 1) }))
    .where('id', '=', input.conversationId)
    .execute();
  const message = toMessage(await selectMessages(trx).where('messages.id', '=', id).executeTakeFirstOrThrow());
  await log.append(channels.conversation(input.conversationId), 'message.created', message);
  for (const userId of input.memberIds) {
    await log.append(channels.user(userId), 'message.created', message);
    await notify(trx, log, { userId, kind: 'message', actorId: input.authorId, conversationId: input.conversationId, messageId: id });
  }
  return message;
}
