import { sql, type Kysely, type Transaction } from 'kysely';
import { type ChannelLog, nowIso } from 'tandem/server';
import { channels } from '../channels';
import type { SocialDb } from '../db';
import type { Conversation, ConversationRead, Message, MessagePreview, UserRef } from '../schemas';
import { toUserRef, USER_REF_COLUMNS } from './users';

type ConversationRow = { id: number; created_at: string; last_message_at: string | null; version: number };

/** A preview is this many characters (code points) of the body; a longer one ends with "…". */
export const PREVIEW_LENGTH = 140;

/** The first PREVIEW_LENGTH characters of `text` (read with one more, to know whether it was cut). */
export function previewOf(text: string, length = PREVIEW_LENGTH): string {
  const chars = Array.from(text);
  return chars.length <= length ? text : `${chars.slice(0, length).join('').trimEnd()}…`;
}

/** The members of each conversation, and the viewer's read position in each. */
async function membersOf(db: Kysely<SocialDb>, conversationIds: number[], viewerId: number): Promise<{ members: Map<number, UserRef[]>; lastRead: Map<number, number | null> }> {
  const members = new Map<number, UserRef[]>(conversationIds.map((id) => [id, []]));
  const lastRead = new Map<number, number | null>();
  if (conversationIds.length === 0) return { members, lastRead };
  const rows = await db
    .selectFrom('conversation_members')
    .innerJoin('users', 'users.id', 'conversation_members.user_id')
    .select(['conversation_members.conversation_id', 'conversation_members.last_read_message_id', 'users.id', ...USER_REF_COLUMNS])
    .where('conversation_members.conversation_id', 'in', conversationIds)
    .orderBy('users.id')
    .execute();
  for (const row of rows) {
    members.get(row.conversation_id)?.push(toUserRef(row.id, row));
    if (row.id === viewerId) lastRead.set(row.conversation_id, row.last_read_message_id);
  }
  return { members, lastRead };
}

/** The newest message of each conversation, its body cut to a preview in SQL (a page never loads whole bodies). */
async function lastMessagesOf(db: Kysely<SocialDb>, conversationIds: number[]): Promise<Map<number, MessagePreview>> {
  const byConversation = new Map<number, MessagePreview>();
  if (conversationIds.length === 0) return byConversation;
  const newest = db.selectFrom('messages').select((eb) => eb.fn.max('messages.id').as('id')).where('messages.conversation_id', 'in', conversationIds).groupBy('messages.conversation_id');
  const rows = await db
    .selectFrom('messages')
    .innerJoin('users', 'users.id', 'messages.author_id')
    .select(['messages.id', 'messages.conversation_id', 'messages.author_id', ...USER_REF_COLUMNS, 'messages.created_at'])
    .select(sql<string>`substr(messages.body, 1, ${PREVIEW_LENGTH + 1})`.as('start'))
    .where('messages.id', 'in', newest)
    .execute();
  for (const row of rows) {
    byConversation.set(row.conversation_id, { id: row.id, author: toUserRef(row.author_id, row), preview: previewOf(row.start), createdAt: row.created_at });
  }
  return byConversation;
}

/** Per conversation: its messages after the viewer's read position that the viewer did not write (one grouped count). */
async function unreadCountsOf(db: Kysely<SocialDb>, conversationIds: number[], viewerId: number): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  if (conversationIds.length === 0) return counts;
  const rows = await db
    .selectFrom('messages')
    .innerJoin('conversation_members', (join) => join.onRef('conversation_members.conversation_id', '=', 'messages.conversation_id').on('conversation_members.user_id', '=', viewerId))
    .select(['messages.conversation_id', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('messages.conversation_id', 'in', conversationIds)
    .where('messages.author_id', '<>', viewerId)
    .where((eb) => eb('messages.id', '>', eb.fn.coalesce('conversation_members.last_read_message_id', sql.lit(0))))
    .groupBy('messages.conversation_id')
    .execute();
  for (const row of rows) counts.set(row.conversation_id, Number(row.n));
  return counts;
}

/** Conversations as `viewerId` sees them: four queries for a whole page, none per conversation. */
async function toConversations(db: Kysely<SocialDb>, rows: ConversationRow[], viewerId: number): Promise<Conversation[]> {
  const ids = rows.map((r) => r.id);
  const [{ members, lastRead }, lastMessages, unread] = await Promise.all([membersOf(db, ids, viewerId), lastMessagesOf(db, ids), unreadCountsOf(db, ids, viewerId)]);
  return rows.map((r) => ({
    id: r.id,
    members: members.get(r.id) ?? [],
    createdAt: r.created_at,
    lastMessageAt: r.last_message_at,
    version: r.version,
    lastMessage: lastMessages.get(r.id) ?? null,
    unreadCount: unread.get(r.id) ?? 0,
    lastReadMessageId: lastRead.get(r.id) ?? null,
  }));
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
 * a direct message with someone is one thread, however often it is "started". The answer is as
 * the first of `memberIds` (the opener) sees it; a new one looks the same to every member.
 */
export async function openConversation(
  trx: Transaction<SocialDb>,
  log: ChannelLog,
  memberIds: number[],
): Promise<{ conversation: Conversation; created: boolean }> {
  const sorted = [...new Set(memberIds)].sort((a, b) => a - b);
  const memberKey = sorted.join(',');
  const existing = await trx.selectFrom('conversations').select(['id', 'created_at', 'last_message_at', 'version']).where('member_key', '=', memberKey).executeTakeFirst();
  const viewerId = memberIds[0]!;
  if (existing !== undefined) return { conversation: (await toConversations(trx, [existing], viewerId))[0]!, created: false };
  // Two members opening it at the same moment on two nodes both find none: the unique member_key
  // decides, and the one that did not insert answers the other's (on PostgreSQL the conflicting
  // insert waits for the other transaction's commit, and the read after it sees the row).
  const row = await trx
    .insertInto('conversations')
    .values({ member_key: memberKey, version: 1, created_at: nowIso(), last_message_at: null })
    .onConflict((oc) => oc.column('member_key').doNothing())
    .returning(['id', 'created_at', 'last_message_at', 'version'])
    .executeTakeFirst();
  if (row === undefined) {
    const theirs = await trx.selectFrom('conversations').select(['id', 'created_at', 'last_message_at', 'version']).where('member_key', '=', memberKey).executeTakeFirstOrThrow();
    return { conversation: (await toConversations(trx, [theirs], viewerId))[0]!, created: false };
  }
  await trx.insertInto('conversation_members').values(sorted.map((user_id) => ({ conversation_id: row.id, user_id, last_read_message_id: null }))).execute();
  const conversation = (await toConversations(trx, [row], viewerId))[0]!;
  for (const userId of sorted) await log.append(channels.user(userId), 'conversation.created', conversation);
  return { conversation, created: true };
}

/** When a conversation last moved: its newest message, or its opening (ISO strings compare in time order). */
const activity = sql<string>`coalesce(conversations.last_message_at, conversations.created_at)`;

/**
 * The user's conversations, the most recently active first (ties: the newer first). The cursor is
 * the last conversation of the previous page: the next page continues after where that one is now
 * (a cursor that names none of the user's conversations ends the list).
 */
export async function listConversations(db: Kysely<SocialDb>, userId: number, afterId: number | undefined, limit: number): Promise<Conversation[]> {
  const mine = () => db
    .selectFrom('conversations')
    .innerJoin('conversation_members', 'conversation_members.conversation_id', 'conversations.id')
    .where('conversation_members.user_id', '=', userId);
  let query = mine()
    .select(['conversations.id', 'conversations.created_at', 'conversations.last_message_at', 'conversations.version'])
    .orderBy(activity, 'desc')
    .orderBy('conversations.id', 'desc')
    .limit(limit + 1);
  if (afterId !== undefined) {
    const after = await mine().select(activity.as('at')).where('conversations.id', '=', afterId).executeTakeFirst();
    if (after === undefined) return [];
    query = query.where((eb) => eb.or([eb(activity, '<', after.at), eb.and([eb(activity, '=', after.at), eb('conversations.id', '<', afterId)])]));
  }
  return toConversations(db, await query.execute(), userId);
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
  return (await toConversations(db, [row], userId))[0];
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

/**
 * Sends a message: the conversation's channel and every member's channel hear of it. Messages do
 * not notify (the Messages badge counts them, from the read positions); writing one moves the
 * author's read position to it, as answering shows one has read what came before.
 */
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
  for (const userId of input.memberIds) await log.append(channels.user(userId), 'message.created', message);
  await moveReadPosition(trx, input.conversationId, input.authorId, id);
  return message;
}

/** Moves a member's read position forward to `messageId` (never back); true when it moved. */
async function moveReadPosition(trx: Transaction<SocialDb>, conversationId: number, userId: number, messageId: number): Promise<boolean> {
  const result = await trx
    .updateTable('conversation_members')
    .set({ last_read_message_id: messageId })
    .where('conversation_id', '=', conversationId)
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_read_message_id', 'is', null), eb('last_read_message_id', '<', messageId)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The conversation of a message, or undefined when there is no such message. */
export async function conversationOfMessage(db: Kysely<SocialDb>, messageId: number): Promise<number | undefined> {
  const row = await db.selectFrom('messages').select('conversation_id').where('id', '=', messageId).executeTakeFirst();
  return row?.conversation_id;
}

/**
 * Marks a conversation read up to `messageId` for a member (the caller checked membership and that
 * the message is this conversation's). A position never moves back: reading an older message
 * again changes nothing and appends nothing. When it moves, `conversation.read` goes to the
 * member's own channel, so their other devices and tabs update their badges at once.
 */
export async function markConversationRead(trx: Transaction<SocialDb>, log: ChannelLog, conversationId: number, userId: number, messageId: number): Promise<ConversationRead> {
  const moved = await moveReadPosition(trx, conversationId, userId, messageId);
  // The member's own row only (not membersOf: every member with their profile, for one number).
  const member = await trx.selectFrom('conversation_members').select('last_read_message_id').where('conversation_id', '=', conversationId).where('user_id', '=', userId).executeTakeFirst();
  const unread = await unreadCountsOf(trx, [conversationId], userId);
  const state: ConversationRead = { conversationId, lastReadMessageId: member?.last_read_message_id ?? null, unreadCount: unread.get(conversationId) ?? 0 };
  if (moved) await log.append(channels.user(userId), 'conversation.read', state);
  return state;
}
