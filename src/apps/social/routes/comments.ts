import { Type } from 'typebox';
import { Cached, claimsOf, ConditionalHeaders, IfMatchHeaders, NotModified, problems, sendConditional, TandemError, Written, type TandemHttpApp } from 'tandem/server';
import type { SocialContext } from '../context';
import { commentOwner, getComment, updateComment } from '../repos/comments';
import { Comment, CommentBody, IdParams } from '../schemas';
import { commentEtag, ownComment } from './posts';

/**
 * One comment (for an editor that needs its current version and ETag) and editing one.
 * Listing, creating and deleting comments stay with the post's routes (routes/posts.ts).
 */
export function registerCommentRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['posts'];

  app.get('/api/comments/:id', {
    schema: { tags, summary: 'One comment (a deleted one answers 404)', params: IdParams, headers: ConditionalHeaders, response: { 200: Cached(Comment), 304: NotModified, ...problems(404) } },
  }, async (request, reply) => {
    const { id } = request.params;
    const current = await commentOwner(db, id);
    if (current === undefined || current.deleted) throw new TandemError('not_found', `Comment ${id} does not exist`);
    return sendConditional(request, reply, {
      etag: commentEtag(id, current),
      policy: 'publicItem',
      // Read again for the body: a write between the two reads makes the body newer than the tag,
      // which only costs the client one more 200 later (never a stale body under a newer tag).
      build: () => getComment(db, id),
    });
  });

  app.patch('/api/comments/:id', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Edit your comment', params: IdParams, headers: IfMatchHeaders,
      body: Type.Object({ body: CommentBody }, { additionalProperties: false }),
      response: { 200: Written(Comment), ...problems(400, 401, 403, 404, 412) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    const { comment, current } = await ctx.transaction(async (trx, log) => {
      const current = await ownComment(trx, request, id, userId, 'edit');
      return { comment: await updateComment(trx, log, id, request.body.body, current), current };
    });
    reply.header('etag', commentEtag(id, { ...current, version: comment.version }));
    return comment;
  });
}
