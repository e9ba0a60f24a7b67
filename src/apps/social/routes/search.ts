import { Type } from 'typebox';
import { Cached, CachedList, ConditionalHeaders, etag, NotModified, NotModifiedWithPosition, Page, problems, sendConditional, type TandemHttpApp } from 'tandem/server';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import { MAX_PEOPLE, searchPeople, searchPosts } from '../repos/search';
import { Post, UserRef } from '../schemas';
import { MAX_PEOPLE_QUERY, MAX_POST_QUERY, searchTerms } from '../search-terms';
import { digest } from './digest';

/** Something to search for: not empty, not only spaces (400 validation_failed on `q` otherwise). */
const Query = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: '\\S', description });

const PeopleQuery = Type.Object({
  q: Query(MAX_PEOPLE_QUERY, 'The start of a username or a display name (a leading @ is ignored); case-insensitive'),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PEOPLE, default: 10, description: `People to answer (1-${MAX_PEOPLE})` })),
});

const PostSearchQuery = Type.Object({
  q: Query(MAX_POST_QUERY, 'Words the posts must contain (the last one may be the start of a word). Quotes, operators and other punctuation are read as spaces'),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 20, description: 'Posts per page (1-50)' })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'Opaque cursor from a previous page' })),
});

const People = Type.Object({ items: Type.Array(UserRef) }, { title: 'People' });

/**
 * Search over REST, public and cacheable. People: no channel announces new accounts, so the ETag
 * is a digest of the answer (a 304 saves the bytes, not the query, which one index serves). Posts:
 * the feed channel moves with every post created, edited or deleted, and the people channel with
 * every profile edit, so their positions and the query make the ETag (ctx.sendList): a 304 costs
 * two position lookups and no search at all.
 */
export function registerSearchRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, dialect } = ctx;
  const tags = ['search'];

  app.get('/api/users', {
    schema: {
      tags, summary: 'Find people by the start of their username or display name (the exact username first, then by username)',
      querystring: PeopleQuery, headers: ConditionalHeaders, response: { 200: Cached(People), 304: NotModified, ...problems(400) },
    },
  }, async (request, reply) => {
    const prefix = request.query.q.trim().replace(/^@/, '');
    // No name holds U+0000 (PostgreSQL text cannot), and PostgreSQL refuses it as a parameter.
    const items = prefix === '' || prefix.includes('\u0000') ? [] : await searchPeople(db, dialect, prefix, request.query.limit ?? 10);
    const body = { items };
    return sendConditional(request, reply, { etag: etag('people', digest(JSON.stringify(body))), policy: 'publicItem', build: () => body });
  });

  app.get('/api/search/posts', {
    schema: {
      tags, summary: 'Find posts by the words in them: best match first, then newest',
      querystring: PostSearchQuery, headers: ConditionalHeaders, response: { 200: CachedList(Page(Post)), 304: NotModifiedWithPosition, ...problems(400) },
    },
  }, async (request, reply) => {
    const { q, limit, cursor } = request.query;
    const terms = searchTerms(q);
    return ctx.sendList(request, reply, {
      channel: channels.feed,
      scope: `search.${digest(terms.join(' '))}`,
      alsoDependsOn: [channels.people],
      policy: 'publicList',
      query: { limit, cursor },
      load: (trx, after, size) => searchPosts(trx, dialect, terms, after, size),
    });
  });
}
