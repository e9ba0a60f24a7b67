import { Type } from 'typebox';
import {
  assertIfMatch, Cached, CachedList, claimsOf, ConditionalHeaders, DisplayName, etag, IfMatchHeaders, NotModified, NotModifiedWithPosition, Page,
  PageQuery, problems, sendConditional, TandemError, Written, type TandemHttpApp,
} from 'tandem/server';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import { announceProfile } from '../repos/avatars';
import { listPosts } from '../repos/posts';
import { findUserById, findUserByUsername, toPublicUser, updateProfile, userVersionById, userVersionByUsername } from '../repos/users';
import { Bio, Post, PublicUser } from '../schemas';

/** A profile's ETag (also the avatar routes', which answer the profile). */
export const userEtag = (id: number, version: number) => etag('user', id, `v${version}`);

export function registerUserRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['users'];

  app.get('/api/users/:username', {
    schema: {
      tags, summary: "A user's public profile", headers: ConditionalHeaders,
      params: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }),
      response: { 200: Cached(PublicUser), 304: NotModified, ...problems(404) },
    },
  }, async (request, reply) => {
    const current = await userVersionByUsername(db, request.params.username);
    if (current === undefined) throw new TandemError('not_found', 'No such user');
    return sendConditional(request, reply, {
      etag: userEtag(current.id, current.version),
      policy: 'publicItem',
      build: async () => toPublicUser((await findUserByUsername(db, request.params.username))!),
    });
  });

  app.get('/api/users/:username/posts', {
    schema: {
      tags, summary: "A user's posts, newest first (their profile page)", querystring: PageQuery, headers: ConditionalHeaders,
      params: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }),
      response: { 200: CachedList(Page(Post)), 304: NotModifiedWithPosition, ...problems(400, 404) },
    },
  }, async (request, reply) => {
    const author = await userVersionByUsername(db, request.params.username);
    if (author === undefined) throw new TandemError('not_found', 'No such user');
    // On the feed's channel: every post of theirs is created, edited and deleted there.
    return ctx.sendList(request, reply, {
      channel: channels.feed,
      scope: `posts-by.${author.id}`,
      alsoDependsOn: [channels.people],
      policy: 'publicList',
      query: request.query,
      load: (trx, cursor, limit) => listPosts(trx, cursor, limit, author.id),
    });
  });

  app.get('/api/me', {
    preHandler: authenticate,
    schema: { tags, summary: 'Your own profile', headers: ConditionalHeaders, response: { 200: Cached(PublicUser), 304: NotModified, ...problems(401) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    if (request.headers['if-none-match'] === undefined) {
      // Nothing to revalidate: one query reads the profile and its version together (as GET /api/posts/:id).
      const user = await findUserById(db, userId);
      if (user === undefined) throw new TandemError('unauthenticated', 'The account no longer exists');
      return sendConditional(request, reply, { etag: userEtag(userId, user.version), policy: 'private', build: () => toPublicUser(user) });
    }
    const version = await userVersionById(db, userId);
    if (version === undefined) throw new TandemError('unauthenticated', 'The account no longer exists');
    return sendConditional(request, reply, {
      etag: userEtag(userId, version),
      policy: 'private',
      build: async () => toPublicUser((await findUserById(db, userId))!),
    });
  });

  app.patch('/api/me', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Edit your display name or bio', headers: IfMatchHeaders,
      body: Type.Object({ displayName: Type.Optional(DisplayName), bio: Type.Optional(Bio) }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: Written(PublicUser), ...problems(400, 401, 412) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const user = await ctx.transaction(async (trx, log) => {
      const version = await userVersionById(trx, userId);
      if (version === undefined) throw new TandemError('unauthenticated', 'The account no longer exists');
      assertIfMatch(request, userEtag(userId, version));
      const updated = await updateProfile(trx, userId, request.body);
      // Open pages redraw the name; lists that embed it get new ETags (they depend on `people`).
      if (updated.version !== version) await announceProfile(log, updated);
      return updated;
    });
    reply.header('etag', userEtag(user.id, user.version)).header('cache-control', 'no-store');
    return toPublicUser(user);
  });
}
