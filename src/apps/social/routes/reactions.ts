import type { Kysely, Transaction } from 'kysely';
import { type ChannelLog, claimsOf, problems, TandemError, type TandemHttpApp } from 'tandem/server';
import { Type } from 'typebox';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import type { SocialDb } from '../db';
import { MAX_REACTION_LOOKUP_IDS, type ReactionName, type ReactionTarget } from '../reactions';
import { commentOwner, touchCommentCounts } from '../repos/comments';
import { notify } from '../repos/notifications';
import { postVersion, touchPostCounts } from '../repos/posts';
import { addReaction, countsOf, firstNotice, myReactions, reactionCounts, removeReaction, spendReactionToken, stateOf } from '../repos/reactions';
import { Id, MyReactions, ReactionName as ReactionNameSchema, ReactionState, type ReactionsChanged } from '../schemas';

/**
 * Reactions: REST to react and unreact (idempotent PUT and DELETE), counts in every Post and
 * Comment (public, cached), your own reactions as a private resource (GET /api/me/reactions), and
 * live counts on the realtime channels, coalesced: a burst of changes becomes at most one
 * `reactions.changed` frame per channel per TANDEM_REACTION_INTERVAL_MS.
 */

const EVENT = 'reactions.changed';

/** What a reaction is on, once found: the channel it is shown on, and whom to tell. */
interface Found {
  postId: number;
  authorId: number;
}

/** The targets whose counts changed since a channel's last frame. */
interface Dirty {
  posts: Set<number>;
  /** comment id → its post id */
  comments: Map<number, number>;
}

/**
 * Collects which counts changed per channel and has ctx.publishLatest publish them: one frame per
 * channel per interval carries every post and comment whose counts changed, read when it is
 * written (so it is current, however many changes it stands for). publishLatest coalesces per
 * (channel, event); the set of changed targets is ours, since one channel shows many targets.
 */
class LiveCounts {
  readonly #ctx: SocialContext;
  readonly #dirty = new Map<string, Dirty>();

  constructor(ctx: SocialContext) {
    this.#ctx = ctx;
  }

  changed(target: ReactionTarget, id: number, postId: number): void {
    for (const channel of channelsShowing(target, postId)) {
      const dirty = this.#dirty.get(channel) ?? { posts: new Set(), comments: new Map() };
      if (target === 'post') dirty.posts.add(id);
      else dirty.comments.set(id, postId);
      this.#dirty.set(channel, dirty);
      this.#ctx.publishLatest(channel, EVENT, (db) => this.#read(db, channel), { intervalMs: this.#ctx.config.app.reactionIntervalMs });
    }
  }

  async #read(db: Kysely<SocialDb>, channel: string): Promise<ReactionsChanged> {
    const dirty = this.#dirty.get(channel) ?? { posts: new Set<number>(), comments: new Map<number, number>() };
    this.#dirty.delete(channel);
    try {
      return await readChanges(db, dirty);
    } catch (error) {
      // Not read: these targets go with the next attempt (publishLatest retries).
      const now = this.#dirty.get(channel) ?? { posts: new Set(), comments: new Map() };
      for (const id of dirty.posts) now.posts.add(id);
      for (const [id, postId] of dirty.comments) now.comments.set(id, postId);
      this.#dirty.set(channel, now);
      throw error;
    }
  }
}

/** The channels whose lists show a target's counts: a post's on the feed and its own; a comment's on its post's. */
function channelsShowing(target: ReactionTarget, postId: number): string[] {
  return target === 'post' ? [channels.feed, channels.post(postId)] : [channels.post(postId)];
}

async function readChanges(db: Kysely<SocialDb>, dirty: Dirty): Promise<ReactionsChanged> {
  const postCounts = await reactionCounts(db, 'post', [...dirty.posts]);
  const commentCounts = await reactionCounts(db, 'comment', [...dirty.comments.keys()]);
  return {
    posts: [...dirty.posts].map((id) => ({ id, reactions: postCounts.get(id) ?? {} })),
    comments: [...dirty.comments].map(([id, postId]) => ({ id, postId, reactions: commentCounts.get(id) ?? {} })),
  };
}

/** The post or live comment a reaction is on (404 otherwise). */
async function findTarget(trx: Transaction<SocialDb>, target: ReactionTarget, id: number): Promise<Found> {
  if (target === 'post') {
    const post = await postVersion(trx, id);
    if (post === undefined) throw new TandemError('not_found', `Post ${id} does not exist`);
    return { postId: id, authorId: post.authorId };
  }
  const comment = await commentOwner(trx, id);
  if (comment === undefined || comment.deleted) throw new TandemError('not_found', `Comment ${id} does not exist`);
  return { postId: comment.postId, authorId: comment.authorId };
}

/** Ids from a query's comma-separated list (the schema bounds its length); ids past 2³¹−1 name nothing. */
function idList(raw: string | undefined): number[] {
  if (raw === undefined || raw === '') return [];
  return [...new Set(raw.split(',').map(Number))].filter((id) => id <= 2_147_483_647);
}

const IdList = Type.String({
  pattern: `^[1-9][0-9]{0,9}(,[1-9][0-9]{0,9}){0,${MAX_REACTION_LOOKUP_IDS - 1}}$`,
  description: `comma-separated ids, at most ${MAX_REACTION_LOOKUP_IDS}`,
});

export function registerReactionRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { authenticate } = ctx;
  const tags = ['reactions'];
  const live = new LiveCounts(ctx);
  const settings = ctx.config.app;
  const budget = { capacity: settings.reactionBurst, refillPerMs: settings.reactionRatePerMinute / 60_000 };

  /** Appends the target's counts in the change's own transaction (TANDEM_REACTION_PUSH_EACH: one frame per change). */
  async function pushNow(trx: Transaction<SocialDb>, log: ChannelLog, target: ReactionTarget, id: number, postId: number): Promise<void> {
    const reactions = await countsOf(trx, target, id);
    const data: ReactionsChanged = target === 'post' ? { posts: [{ id, reactions }], comments: [] } : { posts: [], comments: [{ id, postId, reactions }] };
    for (const channel of channelsShowing(target, postId)) await log.append(channel, EVENT, data);
  }

  async function change(userId: number, target: ReactionTarget, id: number, reaction: ReactionName, add: boolean): Promise<ReactionState> {
    const outcome = await ctx.transaction(async (trx, log) => {
      const found = await findTarget(trx, target, id);
      const spent = await spendReactionToken(trx, ctx.dialect, userId, ctx.clock(), budget);
      if (!spent.allowed) {
        throw new TandemError('rate_limited', `Too many reactions: retry in ${spent.retryAfterSeconds} s`, { headers: { 'retry-after': String(spent.retryAfterSeconds) } });
      }
      const changed = add ? await addReaction(trx, target, id, userId, reaction) : await removeReaction(trx, target, id, userId, reaction);
      if (changed) {
        // The counts shown with the target changed: its ETag must too. The target's row is locked
        // by this; if it was deleted meanwhile (another node, after findTarget read it), nothing
        // is kept: no reaction or notification about something that is gone.
        if (!(await (target === 'post' ? touchPostCounts(trx, id) : touchCommentCounts(trx, id)))) {
          throw new TandemError('not_found', `${target === 'post' ? 'Post' : 'Comment'} ${id} does not exist`);
        }
        if (add && found.authorId !== userId && (await firstNotice(trx, target, id, userId))) {
          await notify(trx, log, { userId: found.authorId, kind: 'reaction', actorId: userId, postId: found.postId, ...(target === 'comment' ? { commentId: id } : {}) });
        }
        if (settings.reactionPushEach) await pushNow(trx, log, target, id, found.postId);
      }
      const { reactions, mine } = await stateOf(trx, target, id, userId);
      return { changed, postId: found.postId, state: { target, id, reactions, mine } };
    });
    if (outcome.changed && !settings.reactionPushEach) live.changed(target, id, outcome.postId);
    return outcome.state;
  }

  for (const target of ['post', 'comment'] as const) {
    const path = `/api/${target}s/:id/reactions/:reaction`;
    const params = Type.Object({ id: Id, reaction: ReactionNameSchema });
    const what = target === 'post' ? 'a post' : 'a comment';
    app.put(path, {
      preHandler: authenticate,
      schema: {
        tags, summary: `React to ${what} (idempotent: the same reaction again changes nothing)`, params,
        description: 'Answers the counts and the reactions you left on it. The author is notified the first time you react to it. Limited per user (429 rate_limited with Retry-After).',
        response: { 200: ReactionState, ...problems(400, 401, 404, 429) },
      },
    }, async (request, reply) => {
      const { userId } = claimsOf(request);
      reply.header('cache-control', 'no-store');
      return change(userId, target, request.params.id, request.params.reaction, true);
    });
    app.delete(path, {
      preHandler: authenticate,
      schema: {
        tags, summary: `Take back your reaction to ${what} (idempotent: none to take back is fine)`, params,
        description: 'Answers the counts and the reactions you left on it (200 with the state, whether or not there was one to take back).',
        response: { 200: ReactionState, ...problems(400, 401, 404, 429) },
      },
    }, async (request, reply) => {
      const { userId } = claimsOf(request);
      reply.header('cache-control', 'no-store');
      return change(userId, target, request.params.id, request.params.reaction, false);
    });
  }

  app.get('/api/me/reactions', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'The reactions you left on these posts and comments (private, not cached)',
      description: 'Posts and comments are cached publicly with their counts; which ones you reacted to is yours alone, so it is asked for here, for a page at a time.',
      querystring: Type.Object({ posts: Type.Optional(IdList), comments: Type.Optional(IdList) }, { additionalProperties: false }),
      response: { 200: MyReactions, ...problems(400, 401) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const [posts, comments] = await Promise.all([
      myReactions(ctx.db, userId, 'post', idList(request.query.posts)),
      myReactions(ctx.db, userId, 'comment', idList(request.query.comments)),
    ]);
    reply.header('cache-control', 'private, no-store');
    return { posts: Object.fromEntries(posts), comments: Object.fromEntries(comments) };
  });
}
