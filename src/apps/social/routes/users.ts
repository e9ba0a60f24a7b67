import { Type } from 'typebox';
import {
  assertIfMatch, Cached, claimsOf, ConditionalHeaders, DisplayName, etag, IfMatchHeaders, NotModified, problems, sendConditional, TandemError,
  Written, type TandemHttpApp,
} from 'tandem/server';
import type { SocialContext } from '../context';
import { findUserById, findUserByUsername, toPublicUser, updateProfile, userVersionById, userVersionByUsername } from '../repos/users';
import { Bio, PublicUser } from '../schemas';

const userEtag = (id: number, version: number) => etag('user', id, `v${version}`);

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
    const user = await db.transaction().execute(async (trx) => {
      const version = await userVersionById(trx, userId);
      if (version === undefined) throw new TandemError('unauthenticated', 'The account no longer exists');
      assertIfMatch(request, userEtag(userId, version));
      return updateProfile(trx, userId, request.body);
    });
    reply.header('etag', userEtag(user.id, user.version)).header('cache-control', 'no-store');
    return toPublicUser(user);
  });
}
