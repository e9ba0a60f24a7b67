import { Type } from 'typebox';
import { claimsOf } from '../../../server/auth/authenticate';
import { sendChannelPage } from '../../../server/http/channel-page';
import { PageQuery } from '../../../server/http/pagination';
import { inTransaction } from '../../../server/store/channel-log';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import { listNotifications, markRead, unreadCount } from '../repos/notifications';
import { Id, Notification, Page } from '../schemas';
import { ConditionalHeaders, NotModified, problems } from './common';

const NotificationPage = Type.Object({ ...Page(Notification).properties, unreadCount: Type.Integer({ minimum: 0 }) });

export function registerNotificationRoutes(ctx: SocialContext): void {
  const { app, db, announcer, authenticate } = ctx;
  const tags = ['notifications'];

  app.get('/api/notifications', {
    preHandler: authenticate,
    schema: { tags, summary: 'Your notifications, newest first, with the unread count', querystring: PageQuery, headers: ConditionalHeaders, response: { 200: NotificationPage, 304: NotModified, ...problems(400, 401) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    return sendChannelPage(request, reply, ctx.store, {
      channel: channels.user(userId),
      scope: `notifications.${userId}`,
      policy: 'private',
      query: request.query,
      load: (trx, cursor, limit) => listNotifications(trx, userId, cursor, limit),
      extra: async (trx) => ({ unreadCount: await unreadCount(trx, userId) }),
    });
  });

  app.post('/api/notifications/read', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Mark notifications read (the given ids, or all when ids is omitted)',
      body: Type.Object({ ids: Type.Optional(Type.Array(Id, { maxItems: 500, uniqueItems: true })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ read: Type.Array(Id), unreadCount: Type.Integer() }), ...problems(400, 401) },
    },
  }, async (request) => {
    const { userId } = claimsOf(request);
    const read = await inTransaction(db, announcer, (trx, log) => markRead(trx, log, userId, request.body.ids));
    return { read, unreadCount: await unreadCount(db, userId) };
  });
}
