import { Type, type Static, type TSchema } from 'typebox';

/** Resource schemas: they validate requests, shape responses and generate OpenAPI. */

export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const IdParams = Type.Object({ id: Id });
export const Timestamp = Type.String({ format: 'date-time' });

export const UserRef = Type.Object({ id: Id, username: Type.String() }, { title: 'UserRef' });
export type UserRef = Static<typeof UserRef>;

export const Username = Type.String({ pattern: '^[A-Za-z0-9_]{3,24}$', description: '3-24 letters, digits or _; case-insensitive' });
export const Password = Type.String({ minLength: 8, maxLength: 128 });
export const DisplayName = Type.String({ minLength: 1, maxLength: 50, pattern: '\\S' });
export const Bio = Type.String({ maxLength: 500 });

export const PublicUser = Type.Object(
  { id: Id, username: Type.String(), displayName: Type.String(), bio: Type.String(), createdAt: Timestamp, version: Type.Integer() },
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

export const NotificationKind = Type.Union([Type.Literal('comment'), Type.Literal('reply'), Type.Literal('message')]);
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

/** A page of a list: the items and the cursor of the next page (null on the last). */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { title: 'Problem', description: 'RFC 9457 problem details with a stable machine-readable code' },
);

export const TokenResponse = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  expiresAt: Type.Integer({ description: 'Access token expiry, ms since the epoch' }),
  refreshToken: Type.String({ description: 'Single-use; also set as the httpOnly tandem_refresh cookie' }),
  refreshExpiresAt: Type.Integer(),
  user: PublicUser,
});

export const PostBody = Type.String({ minLength: 1, maxLength: 5000, pattern: '\\S' });
export const CommentBody = Type.String({ minLength: 1, maxLength: 2000, pattern: '\\S' });
export const MessageBody = Type.String({ minLength: 1, maxLength: 4000, pattern: '\\S' });
