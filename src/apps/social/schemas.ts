import { Type, type Static } from 'typebox';
import { LIMITS } from './limits';
import { REACTION_NAMES } from './reactions';

/** Resource schemas: they validate requests, shape responses and generate OpenAPI. */

export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const IdParams = Type.Object({ id: Id });
const Timestamp = Type.String({ format: 'date-time' });

/**
 * A person as other resources show them: enough to draw a name and an avatar without another request.
 * `avatarUrl` is always set: the uploaded picture's content-hashed URL, or a generated one (initials).
 */
export const UserRef = Type.Object(
  { id: Id, username: Type.String(), displayName: Type.String(), avatarUrl: Type.String() },
  { title: 'UserRef' },
);
export type UserRef = Static<typeof UserRef>;

export const Bio = Type.String({ maxLength: LIMITS.bio });

export const PublicUser = Type.Object(
  { id: Id, username: Type.String(), displayName: Type.String(), bio: Type.String(), avatarUrl: Type.String(), createdAt: Timestamp, version: Type.Integer() },
  { title: 'PublicUser' },
);
export type PublicUser = Static<typeof PublicUser>;

/** Counts by reaction name (src/apps/social/reactions.ts); only reactions someone left appear. */
export const ReactionCounts = Type.Object(
  Object.fromEntries(REACTION_NAMES.map((name) => [name, Type.Optional(Type.Integer({ minimum: 1 }))])),
  { title: 'ReactionCounts', additionalProperties: false },
);

export const Post = Type.Object(
  { id: Id, author: UserRef, body: Type.String(), createdAt: Timestamp, updatedAt: Timestamp, version: Type.Integer(), reactions: ReactionCounts,
    commentCount: Type.Integer({ minimum: 0, description: 'comments not deleted' }) },
  { title: 'Post' },
);
export type Post = Static<typeof Post>;

export const Comment = Type.Object(
  {
    id: Id,
    postId: Id,
    parentId: Type.Union([Id, Type.Null()]),
    author: UserRef,
    body: Type.Union([Type.String(), Type.Null()], { description: 'null once deleted; the comment stays so its replies keep their place' }),
    deleted: Type.Boolean(),
    createdAt: Timestamp,
    editedAt: Type.Union([Timestamp, Type.Null()], { description: 'the last edit of the text (null: never edited)' }),
    version: Type.Integer(),
    reactions: ReactionCounts,
  },
  { title: 'Comment' },
);
export type Comment = Static<typeof Comment>;

// --- reactions (routes/reactions.ts) ---
export const ReactionName = Type.Enum([...REACTION_NAMES], { title: 'ReactionName', description: 'like 👍, love ❤️, laugh 😂, wow 😮, sad 😢' });
/** The answer to a reaction change: the target's counts and the reactions you left on it. */
export const ReactionState = Type.Object(
  { target: Type.Union([Type.Literal('post'), Type.Literal('comment')]), id: Id, reactions: ReactionCounts, mine: Type.Array(ReactionName) },
  { title: 'ReactionState' },
);
export type ReactionState = Static<typeof ReactionState>;
const ReactionsById = Type.Record(Type.String({ pattern: '^[1-9][0-9]*$' }), Type.Array(ReactionName));
/** The reactions you left, by post and comment id (ids without any are absent). Private. */
export const MyReactions = Type.Object({ posts: ReactionsById, comments: ReactionsById }, { title: 'MyReactions' });
export type MyReactions = Static<typeof MyReactions>;
/** Live counts (`reactions.changed`): every post and comment of the channel whose counts changed since the last frame. */
export const ReactionsChanged = Type.Object(
  {
    posts: Type.Array(Type.Object({ id: Id, reactions: ReactionCounts })),
    comments: Type.Array(Type.Object({ id: Id, postId: Id, reactions: ReactionCounts })),
  },
  { title: 'ReactionsChanged' },
);
export type ReactionsChanged = Static<typeof ReactionsChanged>;

/** The newest message of a conversation, cut short for a list row. */
export const MessagePreview = Type.Object(
  { id: Id, author: UserRef, preview: Type.String({ description: 'the first 140 characters of the body (… when cut)' }), createdAt: Timestamp },
  { title: 'MessagePreview' },
);
export type MessagePreview = Static<typeof MessagePreview>;

/** A conversation as one member sees it: `lastMessage`, `unreadCount` and `lastReadMessageId` are that member's. */
export const Conversation = Type.Object(
  {
    id: Id,
    members: Type.Array(UserRef),
    createdAt: Timestamp,
    lastMessageAt: Type.Union([Timestamp, Type.Null()]),
    version: Type.Integer(),
    lastMessage: Type.Union([MessagePreview, Type.Null()]),
    unreadCount: Type.Integer({ minimum: 0, description: 'messages after your read position not written by you' }),
    lastReadMessageId: Type.Union([Id, Type.Null()]),
  },
  { title: 'Conversation' },
);
export type Conversation = Static<typeof Conversation>;

/** A member's read position in a conversation (POST /api/conversations/:id/read, event `conversation.read`). */
export const ConversationRead = Type.Object(
  { conversationId: Id, lastReadMessageId: Type.Union([Id, Type.Null()]), unreadCount: Type.Integer({ minimum: 0 }) },
  { title: 'ConversationRead' },
);
export type ConversationRead = Static<typeof ConversationRead>;

export const Message = Type.Object(
  { id: Id, conversationId: Id, author: UserRef, body: Type.String(), createdAt: Timestamp },
  { title: 'Message' },
);
export type Message = Static<typeof Message>;

const NotificationKind = Type.Union([Type.Literal('comment'), Type.Literal('reply'), Type.Literal('message'), Type.Literal('mention'), Type.Literal('reaction')]);
export const Notification = Type.Object(
  {
    id: Id,
    kind: NotificationKind,
    actor: UserRef,
    postId: Type.Union([Id, Type.Null()]),
    commentId: Type.Union([Id, Type.Null()]),
    conversationId: Type.Union([Id, Type.Null()]),
    messageId: Type.Union([Id, Type.Null()]),
    read: Type.Boolean(),
    createdAt: Timestamp,
    version: Type.Integer(),
    actors: Type.Array(UserRef, { description: 'the latest few actors, newest first (`actor` is the first)' }),
    actorCount: Type.Integer({ minimum: 1, description: 'how many people did this (grouped repeats: "bob and 12 others")' }),
    postExcerpt: Type.Union([Type.String(), Type.Null()], { description: "the start of the post's text when the notification was made or last grouped" }),
    commentExcerpt: Type.Union([Type.String(), Type.Null()], { description: "the start of the comment's text when the notification was made or last grouped (null: no comment, or it was deleted)" }),
  },
  { title: 'Notification' },
);
export type Notification = Static<typeof Notification>;

/** Who is present in a channel (GET /api/online, GET /api/conversations/:id/presence). */
export const PresenceSnapshot = Type.Object({ users: Type.Array(Type.Object({ id: Id, username: Type.String() })), count: Type.Integer({ minimum: 0 }) }, { title: 'PresenceSnapshot' });
export type PresenceSnapshot = Static<typeof PresenceSnapshot>;

/** The answer to marking notifications read. */
export const MarkedRead = Type.Object({ read: Type.Array(Id), unreadCount: Type.Integer({ minimum: 0 }) }, { title: 'MarkedRead' });
export type MarkedRead = Static<typeof MarkedRead>;

export const PostBody = Type.String({ minLength: 1, maxLength: LIMITS.post, pattern: '\\S' });
export const CommentBody = Type.String({ minLength: 1, maxLength: LIMITS.comment, pattern: '\\S' });
export const MessageBody = Type.String({ minLength: 1, maxLength: LIMITS.message, pattern: '\\S' });
