import { Type, type Static } from 'typebox';

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

export const Bio = Type.String({ maxLength: 500 });

export const PublicUser = Type.Object(
  { id: Id, username: Type.String(), displayName: Type.String(), bio: Type.String(), avatarUrl: Type.String(), createdAt: Timestamp, version: Type.Integer() },
  { title: 'PublicUser' },
);
export type PublicUser = Static<typeof PublicUser>;

export const Post = Type.Object(
  { id: Id, author: UserRef, body: Type.String(), createdAt: Timestamp, updatedAt: Timestamp, version: Type.Integer() },
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
    version: Type.Integer(),
  },
  { title: 'Comment' },
);
export type Comment = Static<typeof Comment>;

export const Conversation = Type.Object(
  { id: Id, members: Type.Array(UserRef), createdAt: Timestamp, lastMessageAt: Type.Union([Timestamp, Type.Null()]), version: Type.Integer() },
  { title: 'Conversation' },
);
export type Conversation = Static<typeof Conversation>;

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

export const PostBody = Type.String({ minLength: 1, maxLength: 5000, pattern: '\\S' });
export const CommentBody = Type.String({ minLength: 1, maxLength: 2000, pattern: '\\S' });
export const MessageBody = Type.String({ minLength: 1, maxLength: 4000, pattern: '\\S' });
