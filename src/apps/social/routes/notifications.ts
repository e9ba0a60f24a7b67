import { Type } from 'typebox';
import { CachedList, claimsOf, ConditionalHeaders, NotModifiedWithPosition, Page, PageQuery, problems, type TandemHttpApp } from 'tandem/server';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import { listNotifications, markRead, unreadCount } from '../repos/notifications';
import { Id, MarkedRead, Notification } from '../schemas';

const NotificationPage = Type.Object({ ...Page(Notification).properties, unreadCount: Type.Integer({ minimum: 0 }) });

export function registerNotificationRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['notifications'];

  app.get('/api/notifications', {
    preHandler: authenticate,
    schema: { tags, summary: 'Your notifications, newest first, with the unread count', querystring: PageQuery, headers: ConditionalHeaders, response: { 200: CachedList(NotificationPage), 304: NotModifiedWithPosition, ...problems(400, 401) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    return ctx.sendList(request, reply, {
      channel: channels.user(userId),
      scope: `notifications.${userId}`,
      alsoDependsOn: [channels.people],
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
      response: { 200: MarkedRead, ...problems(400, 401) },
    },
  }, async (request) => {
    const { userId } = claimsOf(request);
    const read = await ctx.transaction((trx, log) => markRead(trx, log, userId, request.body.ids));
    return { read, unreadCount: await unreadCount(db, userId) };
  });
}
