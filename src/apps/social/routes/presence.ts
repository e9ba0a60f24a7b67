import { claimsOf, problems, TandemError, type TandemHttpApp } from 'tandem/server';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import { isMember } from '../repos/conversations';
import { IdParams, PresenceSnapshot } from '../schemas';


/**
 * The presence snapshots the realtime channels hold, over REST: the same users the subscribe
 * answer's `pres` lists (per user, with the reconnect grace), for clients that only poll.
 */
export function registerPresenceRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['presence'];
  const snapshot = async (channel: string) => {
    const present = await ctx.presence(channel);
    const users = Array.isArray(present) ? present.map((u) => ({ id: u.id, username: u.n })) : [];
    return { users, count: Array.isArray(present) ? present.length : present.n };
  };

  app.get('/api/online', {
    preHandler: authenticate,
    schema: { tags, summary: 'Users online now (connected to the realtime endpoint, with a short grace after they leave)', response: { 200: PresenceSnapshot, ...problems(401) } },
  }, async (_request, reply) => {
    reply.header('cache-control', 'private, no-store');
    return snapshot(channels.online);
  });

  app.get('/api/conversations/:id/presence', {
    preHandler: authenticate,
    schema: { tags, summary: 'Members of a conversation you are in who are present in it now', params: IdParams, response: { 200: PresenceSnapshot, ...problems(401, 404) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    if (!(await isMember(db, id, userId))) throw new TandemError('not_found', `Conversation ${id} does not exist`);
    reply.header('cache-control', 'private, no-store');
    return snapshot(channels.conversation(id));
  });
}
