import { Type } from 'typebox';
import { buildAsyncApi, type AsyncApiChannel } from '../../server/realtime/asyncapi';
import { Comment, Conversation, Id, Message, Notification, Post } from './schemas';

const Deleted = Type.Object({ id: Id });
const Typing = Type.Object({ on: Type.Boolean(), by: Type.Object({ id: Id, n: Type.String() }) });

/** The social app's channels and the events each carries (data = the REST representation). */
export const socialChannels: AsyncApiChannel[] = [
  {
    address: 'feed',
    description: 'Every post as it is created, edited or deleted. Anyone signed in.',
    events: {
      'post.created': { description: 'A new post', data: Post },
      'post.updated': { description: 'A post was edited', data: Post },
      'post.deleted': { description: 'A post was deleted', data: Deleted },
    },
  },
  {
    address: 'post:{id}',
    description: "One post's comments and edits. Anyone signed in, while the post exists.",
    events: {
      'comment.created': { description: 'A new comment or reply', data: Comment },
      'comment.deleted': { description: 'A comment was deleted (it stays, with deleted: true)', data: Comment },
      'post.updated': { description: 'The post was edited', data: Post },
      'post.deleted': { description: 'The post was deleted', data: Deleted },
    },
  },
  {
    address: 'user:{id}',
    description: "One user's notifications and direct messages. That user only.",
    events: {
      'notification.created': { description: 'A new notification', data: Notification },
      'notification.deleted': { description: 'A notification went with the post or comment it named', data: Deleted },
      'notifications.read': { description: 'Notifications were marked read', data: Type.Object({ ids: Type.Array(Id) }) },
      'message.created': { description: 'A direct message in one of your conversations', data: Message },
      'conversation.created': { description: 'A conversation you are in was opened', data: Conversation },
    },
  },
  {
    address: 'conversation:{id}',
    description: 'A conversation: messages, typing (ephemeral, client-published, never stored, no offset) and presence. Members only.',
    events: {
      'message.created': { description: 'A new message', data: Message },
      typing: { description: 'Ephemeral: a member is typing ({on:true}) or stopped; publish it with a pub frame {on}', data: Typing },
    },
  },
  { address: 'online', description: 'Global online status: presence only (join/leave frames, per user, with a grace period).', events: {} },
];

export function socialAsyncApi(): object {
  return buildAsyncApi(
    { title: 'Tandem social realtime API', version: '1.0.0', description: 'The tandem.v1 WebSocket protocol (docs/protocol.md) and the social app channels.' },
    socialChannels,
  );
}
