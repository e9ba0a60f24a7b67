import { Type } from 'typebox';
import type { ChannelDefinitions } from 'tandem/server';
import type { SocialContext } from './context';
import { isMember } from './repos/conversations';
import { postVersion } from './repos/posts';
import { Comment, Conversation, ConversationRead, Id, Message, Notification, Post, PublicUser, ReactionsChanged } from './schemas';

/** A channel parameter that is an id (digits, no leading zero, at most 2³¹−1). */
function idParam(param: string | undefined): number | undefined {
  if (param === undefined || !/^[1-9]\d{0,9}$/.test(param)) return undefined;
  const id = Number(param);
  return id <= 2_147_483_647 ? id : undefined;
}

const Deleted = Type.Object({ id: Id });

/**
 * The social app's channels and who may use them. The library enforces their shape (`feed` takes
 * no parameter, `post:{id}` needs one); the gateway knows none of this, it asks the hub, which asks these.
 */
export const socialChannels: ChannelDefinitions<SocialContext> = {
  feed: {
    description: 'Every post as it is created, edited or deleted. Anyone signed in.',
    events: {
      'post.created': { description: 'A new post', data: Post },
      'post.updated': { description: 'A post was edited', data: Post },
      'post.deleted': { description: 'A post was deleted', data: Deleted },
      'reactions.changed': { description: "Posts' reaction counts now, for every post whose counts changed since the last such frame (coalesced: at most one per TANDEM_REACTION_INTERVAL_MS)", data: ReactionsChanged },
      'post.comments': {
        description: "A post's comment count changed (a comment created or deleted): its count now",
        data: Type.Object({ id: Id, commentCount: Type.Integer({ minimum: 0 }) }),
      },
    },
  },
  post: {
    description: "One post's comments and edits. Anyone signed in, while the post exists.",
    param: 'id',
    async canSubscribe({ param }, ctx) {
      const id = idParam(param);
      return id !== undefined && (await postVersion(ctx.db, id)) !== undefined;
    },
    events: {
      'comment.created': { description: 'A new comment or reply', data: Comment },
      'comment.deleted': { description: 'A comment was deleted (it stays, with deleted: true)', data: Comment },
      'comment.updated': { description: 'A comment was edited (its new text and editedAt)', data: Comment },
      'post.updated': { description: 'The post was edited', data: Post },
      'post.deleted': { description: 'The post was deleted', data: Deleted },
      'reactions.changed': { description: 'Reaction counts now, of the post and of each of its comments whose counts changed since the last such frame (coalesced)', data: ReactionsChanged },
    },
  },
  user: {
    description: "One user's notifications and direct messages. That user only.",
    param: 'id',
    canSubscribe: ({ user, param }) => idParam(param) === user.id,
    events: {
      'notification.created': { description: 'A new notification', data: Notification },
      'notification.updated': { description: 'An unread notification grouped a repeat (another actor, a newer comment): its new state', data: Notification },
      'notification.deleted': { description: 'A notification went with the post or comment it named', data: Deleted },
      'notifications.read': { description: 'Notifications were marked read', data: Type.Object({ ids: Type.Array(Id) }) },
      'message.created': { description: 'A direct message in one of your conversations', data: Message },
      'conversation.created': { description: 'A conversation you are in was opened', data: Conversation },
      'conversation.read': { description: 'Your read position in a conversation moved (from any of your devices)', data: ConversationRead },
    },
  },
  conversation: {
    description: 'A conversation: messages, typing and presence. Members only.',
    param: 'id',
    async canSubscribe({ user, param }, ctx) {
      const id = idParam(param);
      return id !== undefined && (await isMember(ctx.db, id, user.id));
    },
    presence: 'users',
    events: { 'message.created': { description: 'A new message', data: Message } },
    clientEvents: {
      typing: {
        description: 'A member is typing ({on: true}) or stopped ({on: false})',
        accepts: Type.Object({ on: Type.Boolean() }, { additionalProperties: false }),
        delivers: Type.Object({ on: Type.Boolean(), by: Type.Object({ id: Id, n: Type.String() }) }),
        broadcast: (data, user) => ({ ...(data as object), by: { id: user.id, n: user.name } }),
      },
    },
  },
  online: { description: 'Global online status: presence only (per user, with a grace period).', presence: 'users' },
  people: {
    description: 'Profile edits of everyone (display name, bio, avatar), so open pages redraw names and pictures. Anyone signed in.',
    events: { 'profile.updated': { description: "A user's profile as it is now", data: PublicUser } },
  },
};
