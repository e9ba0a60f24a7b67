import type { Transaction } from 'kysely';
import { Type } from 'typebox';
import {
  assertIfMatch, Cached, CachedList, claimsOf, ConditionalHeaders, Created, etag, IdempotencyHeaders, IfMatchHeaders, NoContent, NotModified,
  NotModifiedWithPosition, Page, PageQuery, problems, sendConditional, TandemError, Written, type TandemHttpApp,
} from 'tandem/server';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import type { SocialDb } from '../db';
import { commentOwner, createComment, deleteComment, listComments } from '../repos/comments';
import { createPost, deletePost, getPost, getPostTagged, listPosts, postVersion, updatePost } from '../repos/posts';
import { Comment, CommentBody, Id, IdParams, Post, PostBody } from '../schemas';

/**
 * A post's ETag: its edit version, the version of its counts (reactions, comments) and its author's
 * profile version (the post embeds the author's name and avatar, so a rename must change the tag).
 * If-Match on an edit compares the whole tag, so an edit made against a copy whose counts or author
 * have since changed is refused (412) like any other stale write; the client re-reads and, when
 * the text is unchanged, retries.
 */
const postEtag = (id: number, tag: EtagVersions) => etag('post', id, `v${tag.version}`, `c${tag.countsVersion}`, `a${tag.authorVersion}`);
/** A comment's ETag: its edit version, the version of its counts and its author's, as a post's. */
export const commentEtag = (id: number, tag: EtagVersions) => etag('comment', id, `v${tag.version}`, `c${tag.countsVersion}`, `a${tag.authorVersion}`);

/** What a post's or comment's ETag is made of. */
interface EtagVersions {
  version: number;
  countsVersion: number;
  authorVersion: number;
}

/** The request of a write (what assertIfMatch reads its If-Match from). */
type WriteRequest = Parameters<typeof assertIfMatch>[0];

/**
 * The post `userId` may `action` (edit, delete) under the request's If-Match: 404 when there is no
 * such post, 403 when someone else wrote it, 412 when If-Match names another version. Its versions.
 */
async function ownPost(trx: Transaction<SocialDb>, request: WriteRequest, id: number, userId: number, action: 'edit' | 'delete') {
  const current = await postVersion(trx, id);
  if (current === undefined) throw new TandemError('not_found', `Post ${id} does not exist`);
  if (current.authorId !== userId) throw new TandemError('forbidden', `Only the author may ${action} a post`);
  assertIfMatch(request, postEtag(id, current));
  return current;
}

/** The live comment `userId` may `action` (edit, delete) under the request's If-Match, as ownPost. */
export async function ownComment(trx: Transaction<SocialDb>, request: WriteRequest, id: number, userId: number, action: 'edit' | 'delete') {
  const current = await commentOwner(trx, id);
  if (current === undefined || current.deleted) throw new TandemError('not_found', `Comment ${id} does not exist`);
  if (current.authorId !== userId) throw new TandemError('forbidden', `Only the author may ${action} a comment`);
  assertIfMatch(request, commentEtag(id, current));
  return current;
}

export function registerPostRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['posts'];

  app.get('/api/posts', {
    schema: { tags, summary: 'The feed: posts, newest first', querystring: PageQuery, headers: ConditionalHeaders, response: { 200: CachedList(Page(Post)), 304: NotModifiedWithPosition, ...problems(400) } },
  }, async (request, reply) =>
    ctx.sendList(request, reply, {
      channel: channels.feed,
      scope: 'feed',
      alsoDependsOn: [channels.people],
      policy: 'publicList',
      query: request.query,
      load: (trx, cursor, limit) => listPosts(trx, cursor, limit),
    }));

  app.get('/api/posts/:id', {
    schema: { tags, summary: 'One post', params: IdParams, headers: ConditionalHeaders, response: { 200: Cached(Post), 304: NotModified, ...problems(404) } },
  }, async (request, reply) => {
    const { id } = request.params;
    if (request.headers['if-none-match'] === undefined) {
      // No cached copy to revalidate, so the answer is the post itself: one query reads it and
      // its version together (the ETag and the body can never disagree).
      const tagged = await getPostTagged(db, id);
      if (tagged === undefined) throw new TandemError('not_found', `Post ${id} does not exist`);
      return sendConditional(request, reply, { etag: postEtag(id, { ...tagged, version: tagged.post.version }), policy: 'publicItem', build: () => tagged.post });
    }
    const current = await postVersion(db, id);
    if (current === undefined) throw new TandemError('not_found', `Post ${id} does not exist`);
    return sendConditional(request, reply, {
      etag: postEtag(id, current),
      policy: 'publicItem',
      build: async () => (await getPost(db, id)) ?? Promise.reject(new TandemError('not_found')),
    });
  });

  app.post('/api/posts', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Publish a post', headers: IdempotencyHeaders,
      body: Type.Object({ body: PostBody }, { additionalProperties: false }),
      response: { 201: Created(Post, { location: true, etag: true }), ...problems(400, 401, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    return ctx.createOnce(request, reply, `user:${userId}`, async (trx, log) => {
      const post = await createPost(trx, log, userId, request.body.body);
      const authorVersion = (await postVersion(trx, post.id))?.authorVersion ?? 0;
      return { status: 201, body: post, headers: { location: `/api/posts/${post.id}`, etag: postEtag(post.id, { version: post.version, countsVersion: 0, authorVersion }) } };
    });
  });

  app.patch('/api/posts/:id', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Edit your post', params: IdParams, headers: IfMatchHeaders,
      body: Type.Object({ body: PostBody }, { additionalProperties: false }),
      response: { 200: Written(Post), ...problems(400, 401, 403, 404, 412) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    const { post, current } = await ctx.transaction(async (trx, log) => {
      const current = await ownPost(trx, request, id, userId, 'edit');
      return { post: await updatePost(trx, log, id, request.body.body, current), current };
    });
    reply.header('etag', postEtag(id, { ...current, version: post.version }));
    return post;
  });

  app.delete('/api/posts/:id', {
    preHandler: authenticate,
    schema: { tags, summary: 'Delete your post and its comments', params: IdParams, headers: IfMatchHeaders, response: { 204: NoContent, ...problems(401, 403, 404, 412) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    await ctx.transaction(async (trx, log) => {
      await ownPost(trx, request, id, userId, 'delete');
      await deletePost(trx, log, id);
    });
    return reply.code(204).send(null);
  });

  app.get('/api/posts/:id/comments', {
    schema: {
      tags, summary: "A post's comments, oldest first (threaded by parentId)", params: IdParams, querystring: PageQuery,
      headers: ConditionalHeaders, response: { 200: CachedList(Page(Comment)), 304: NotModifiedWithPosition, ...problems(400, 404) },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    if ((await postVersion(db, id)) === undefined) throw new TandemError('not_found', `Post ${id} does not exist`);
    return ctx.sendList(request, reply, {
      channel: channels.post(id),
      scope: `comments.${id}`,
      alsoDependsOn: [channels.people],
      policy: 'publicList',
      query: request.query,
      load: (trx, cursor, limit) => listComments(trx, id, cursor, limit),
    });
  });

  app.post('/api/posts/:id/comments', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Comment on a post, or answer a comment', params: IdParams, headers: IdempotencyHeaders,
      body: Type.Object({ body: CommentBody, parentId: Type.Optional(Type.Union([Id, Type.Null()])) }, { additionalProperties: false }),
      response: { 201: Created(Comment, { etag: true }), ...problems(400, 401, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const postId = request.params.id;
    return ctx.createOnce(request, reply, `user:${userId}`, async (trx, log) => {
      const comment = await createComment(trx, log, { postId, parentId: request.body.parentId ?? null, authorId: userId, body: request.body.body });
      const tag = await commentOwner(trx, comment.id);
      if (tag === undefined) throw new Error('comment vanished inside its own transaction');
      return { status: 201, body: comment, headers: { etag: commentEtag(comment.id, tag) } };
    });
  });

  app.delete('/api/comments/:id', {
    preHandler: authenticate,
    schema: { tags, summary: 'Delete your comment (its replies stay)', params: IdParams, headers: IfMatchHeaders, response: { 204: NoContent, ...problems(401, 403, 404, 412) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    await ctx.transaction(async (trx, log) => {
      await ownComment(trx, request, id, userId, 'delete');
      await deleteComment(trx, log, id);
    });
    return reply.code(204).send(null);
  });
}
