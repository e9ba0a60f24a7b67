import { Type } from 'typebox';
import { claimsOf, etag, noneMatch, problems, TandemError, Written, type TandemHttpApp } from 'tandem/server';
import { AVATAR_MAX_BYTES, AVATAR_TYPES, initialsSvg, parseInitialsFile, processAvatar, type AvatarType } from '../avatar-image';
import type { SocialContext } from '../context';
import { readAvatar, setAvatar } from '../repos/avatars';
import { toPublicUser } from '../repos/users';
import { PublicUser } from '../schemas';
import { userEtag } from './users';

/** Content-addressed: a URL's bytes never change, so browsers and CDNs keep them for a year without asking. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** An SVG opened on its own is a document: it may draw, never run a script or load anything. */
const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'";

const Binary = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string', format: 'binary' } } } });

/**
 * Avatars: upload (PUT /api/me/avatar, a raw JPEG, PNG or WebP body), removal (back to the
 * generated initials), and serving both kinds under immutable URLs: an upload by the content hash
 * of its WebP (from the database, so any node serves it), the initials generated from the URL.
 */
export function registerAvatarRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['users'];

  // A scope of its own: only the three image types parse here (as bytes, up to 5 MiB); anything
  // else (JSON, SVG, text, no Content-Type) is refused by Fastify with 415 before the handler runs.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    for (const type of Object.keys(AVATAR_TYPES)) {
      scope.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: AVATAR_MAX_BYTES }, (_request, body, done) => done(null, body));
    }
    scope.put('/api/me/avatar', {
      preHandler: authenticate,
      schema: {
        tags, summary: 'Upload your avatar (a JPEG, PNG or WebP body, at most 5 MiB)',
        description: 'The picture is turned upright (EXIF), cropped to a 256×256 square and re-encoded as WebP with no metadata (EXIF, GPS, ICC, XMP are dropped). '
          + 'Refused: other types (415), bodies over 5 MiB (413), bytes that are not the declared type or are damaged (422 image_unreadable), more than 40 megapixels (422 image_too_large). '
          + 'At most a few pictures are decoded at once per server; beyond that 503 unavailable with Retry-After. Announces profile.updated on the people channel.',
        response: { 200: Written(PublicUser), ...problems(400, 401, 413, 415, 422, 429, 503) },
      },
    }, async (request, reply) => {
      const { userId } = claimsOf(request);
      const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!Buffer.isBuffer(request.body) || !(type in AVATAR_TYPES)) throw new TandemError('unsupported_media_type', 'Send a JPEG, PNG or WebP image');
      if (request.body.length === 0) throw new TandemError('validation_failed', 'The body is empty: send the image');
      // Decoding runs outside the transaction: it takes tens of milliseconds, too long to hold a write lock.
      const avatar = await processAvatar(request.body, type as AvatarType);
      const user = await ctx.transaction((trx, log) => setAvatar(trx, log, userId, avatar));
      reply.header('etag', userEtag(user.id, user.version)).header('cache-control', 'no-store');
      return toPublicUser(user);
    });
  });

  app.delete('/api/me/avatar', {
    preHandler: authenticate,
    schema: { tags, summary: 'Remove your avatar (the generated initials are shown again)', response: { 200: Written(PublicUser), ...problems(401) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const user = await ctx.transaction((trx, log) => setAvatar(trx, log, userId, null));
    reply.header('etag', userEtag(user.id, user.version)).header('cache-control', 'no-store');
    return toPublicUser(user);
  });

  app.get('/api/avatars/:hash.webp', {
    schema: {
      tags, summary: 'An uploaded avatar (WebP, immutable)',
      params: Type.Object({ hash: Type.String({ maxLength: 64, description: 'The content hash: 32 lower-case hex digits' }) }),
      response: { 200: Binary('image/webp', 'The picture; cached for a year (the URL changes with it)'), 304: { description: 'Not modified' }, ...problems(404) },
    },
  }, async (request, reply) => {
    // Not a hash: no such avatar (a 404 like any unknown one, not a validation problem).
    if (!/^[0-9a-f]{32}$/.test(request.params.hash)) throw new TandemError('not_found', 'No such avatar');
    const tag = `"${request.params.hash}"`;
    const ifNoneMatch = request.headers['if-none-match'];
    // A copy named by its hash is current by construction: no lookup (the bytes behind a hash never change).
    if (ifNoneMatch?.trim() !== '*' && !noneMatch(ifNoneMatch, tag)) return reply.code(304).header('etag', tag).header('cache-control', IMMUTABLE).send();
    const bytes = await readAvatar(db, request.params.hash);
    if (bytes === undefined) throw new TandemError('not_found', 'No such avatar');
    reply.header('etag', tag).header('cache-control', IMMUTABLE).header('x-content-type-options', 'nosniff');
    if (!noneMatch(ifNoneMatch, tag)) return reply.code(304).send();
    return reply.type('image/webp').send(bytes);
  });

  app.get('/api/avatars/initials/:file', {
    schema: {
      tags, summary: 'A generated avatar: up to 3 initials on a coloured circle (SVG, immutable)',
      params: Type.Object({ file: Type.String({ maxLength: 64, description: '<INITIALS>-<hue 0-359>.svg, as avatarUrl gives' }) }),
      response: { 200: Binary('image/svg+xml', 'The SVG; cached for a year'), 304: { description: 'Not modified' }, ...problems(404) },
    },
  }, async (request, reply) => {
    const parsed = parseInitialsFile(request.params.file);
    if (parsed === undefined) throw new TandemError('not_found', 'Not an avatar: <1-3 initials>-<hue 0-359>.svg');
    const svg = initialsSvg(parsed.initials, parsed.hue);
    const tag = etag('initials', parsed.initials, parsed.hue);
    reply.header('etag', tag).header('cache-control', IMMUTABLE).header('content-security-policy', SVG_CSP).header('x-content-type-options', 'nosniff');
    if (!noneMatch(request.headers['if-none-match'], tag)) return reply.code(304).send();
    return reply.type('image/svg+xml; charset=utf-8').send(svg);
  });
}
