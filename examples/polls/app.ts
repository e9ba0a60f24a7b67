import type { Kysely } from 'kysely';
import {
  assertIfMatch, Cached, CachedList, claimsOf, ConditionalHeaders, Created, defineApp, etag, IdempotencyHeaders, IfMatchHeaders, NoContent,
  NotModifiedWithPosition, nowIso, Page, PageQuery, problems, TandemError, Written, type SettingsOf, type TandemContext, type TandemHttpApp,
} from 'tandem/server';
import { Type, type Static } from 'typebox';
import {
  insertPoll, MyVote, NewPoll, Poll, PollChange, pollErrors, pollMigrations, PollParams, pollSettings, pollVersion, readPoll, readTally, Tally,
  VoteBody, type PollsDb,
} from './model';

/**
 * A live poll app on the public toolkit API alone: REST creates polls and takes votes (cached reads,
 * If-Match on edits, idempotent creates and votes), the realtime channel pushes tallies (coalesced:
 * a burst of votes is a few frames) and shows who is watching.
 */

type Ctx = TandemContext<PollsDb, SettingsOf<typeof pollSettings>>;

const PollSummary = Type.Object(
  { id: Type.Integer(), author: Poll.properties.author, question: Type.String(), closed: Type.Boolean(), createdAt: Type.String({ format: 'date-time' }) },
  { title: 'PollSummary', description: 'A poll in the list: no counts (they change with every vote; GET the poll, or follow its channel)' },
);
type PollSummary = Static<typeof PollSummary>;

const summaryOf = (poll: Poll): PollSummary => ({ id: poll.id, author: poll.author, question: poll.question, closed: poll.closed, createdAt: poll.createdAt });
const pollEtag = (id: number, version: number) => etag('poll', id, `v${version}`);
const channels = { polls: 'polls', poll: (id: number) => `poll:${id}` };

async function listPolls(db: Kysely<PollsDb>, beforeId: number | undefined, limit: number): Promise<PollSummary[]> {
  let query = db
    .selectFrom('polls')
    .innerJoin('users', 'users.id', 'polls.author_id')
    .select(['polls.id', 'polls.author_id', 'users.username', 'polls.question', 'polls.closed', 'polls.created_at'])
    .orderBy('polls.id', 'desc')
    .limit(limit + 1);
  if (beforeId !== undefined) query = query.where('polls.id', '<', beforeId);
  return (await query.execute()).map((r) => ({ id: r.id, author: { id: r.author_id, username: r.username }, question: r.question, closed: r.closed === 1, createdAt: r.created_at }));
}

/** A vote changed the counts: its tally reaches the poll's subscribers, coalesced per interval. */
function tallyChanged(ctx: Ctx, pollId: number): void {
  ctx.publishLatest(channels.poll(pollId), 'poll.tally', (db) => readTally(db, pollId), { intervalMs: ctx.config.app.tallyIntervalMs });
}

function routes(app: TandemHttpApp, ctx: Ctx): void {
  const tags = ['polls'];
  const { authenticate } = ctx;

  app.get('/api/polls', {
    schema: { tags, summary: 'Polls, newest first', querystring: PageQuery, headers: ConditionalHeaders, response: { 200: CachedList(Page(PollSummary)), 304: NotModifiedWithPosition, ...problems(400) } },
  }, async (request, reply) => ctx.sendList(request, reply, { channel: channels.polls, scope: 'polls', policy: 'publicList', query: request.query, load: listPolls }));

  app.post('/api/polls', {
    preHandler: authenticate,
    schema: { tags, summary: 'Open a poll', headers: IdempotencyHeaders, body: NewPoll, response: { 201: Created(Poll, { location: true, etag: true }), ...problems(400, 401, 409, 413, 415, 422, 429) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    return ctx.createOnce(request, reply, `user:${userId}`, async (trx, log) => {
      const poll = (await readPoll(trx, await insertPoll(trx, userId, request.body)))!;
      await log.append(channels.polls, 'poll.created', summaryOf(poll));
      return { status: 201, body: poll, headers: { location: `/api/polls/${poll.id}`, etag: pollEtag(poll.id, poll.version) } };
    });
  });

  app.get('/api/polls/:id', {
    schema: { tags, summary: 'A poll with its counts, and its channel position', params: PollParams, headers: ConditionalHeaders, response: { 200: Cached(Poll, { channel: true }), 304: NotModifiedWithPosition, ...problems(404) } },
  }, async (request, reply) => {
    const { id } = request.params;
    return ctx.sendItem(request, reply, {
      channel: channels.poll(id),
      policy: 'publicItem',
      etag: async (db) => { const current = await pollVersion(db, id); return current && pollEtag(id, current.version); },
      load: (db) => readPoll(db, id),
      missing: `Poll ${id} does not exist`,
    });
  });

  app.patch('/api/polls/:id', {
    preHandler: authenticate,
    schema: { tags, summary: 'Edit or close your poll (send If-Match)', params: PollParams, headers: IfMatchHeaders, body: PollChange, response: { 200: Written(Poll), ...problems(400, 401, 403, 404, 412) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    const poll = await ctx.transaction(async (trx, log) => {
      const current = await pollVersion(trx, id);
      if (current === undefined) throw new TandemError('not_found', `Poll ${id} does not exist`);
      if (current.authorId !== userId) throw new TandemError('forbidden', 'Only its author may change a poll');
      assertIfMatch(request, pollEtag(id, current.version));
      const { question, closed } = request.body;
      await trx.updateTable('polls').set((eb) => ({
        ...(question === undefined ? {} : { question }), ...(closed === undefined ? {} : { closed: closed ? 1 : 0 }), updated_at: nowIso(), version: eb('version', '+', 1),
      })).where('id', '=', id).execute();
      const changed = (await readPoll(trx, id))!;
      await log.append(channels.poll(id), 'poll.updated', changed);
      await log.append(channels.polls, 'poll.updated', summaryOf(changed));
      return changed;
    });
    reply.header('etag', pollEtag(id, poll.version));
    return poll;
  });

  app.put('/api/polls/:id/vote', {
    preHandler: authenticate,
    schema: { tags, summary: 'Vote (idempotent: the same vote again changes nothing; another option moves your vote)', params: PollParams, body: VoteBody, response: { 200: MyVote, ...problems(400, 401, 404, 409, 422) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    const { optionId } = request.body;
    const changed = await ctx.transaction(async (trx) => {
      const current = await pollVersion(trx, id);
      if (current === undefined) throw new TandemError('not_found', `Poll ${id} does not exist`);
      if (current.closed) throw pollErrors.error('poll_closed');
      const option = await trx.selectFrom('poll_options').select('id').where('id', '=', optionId).where('poll_id', '=', id).executeTakeFirst();
      if (option === undefined) throw pollErrors.error('unknown_option', `Poll ${id} has no option ${optionId}`);
      const previous = await trx.selectFrom('votes').select('option_id').where('poll_id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      if (previous?.option_id === optionId) return false;
      await trx.insertInto('votes').values({ poll_id: id, user_id: userId, option_id: optionId, voted_at: nowIso() })
        .onConflict((oc) => oc.columns(['poll_id', 'user_id']).doUpdateSet({ option_id: optionId, voted_at: nowIso() })).execute();
      await trx.updateTable('polls').set((eb) => ({ version: eb('version', '+', 1) })).where('id', '=', id).execute();
      return true;
    });
    if (changed) tallyChanged(ctx, id);
    reply.header('cache-control', 'no-store');
    return { pollId: id, optionId };
  });

  app.delete('/api/polls/:id/vote', {
    preHandler: authenticate,
    schema: { tags, summary: 'Withdraw your vote (idempotent)', params: PollParams, response: { 204: NoContent, ...problems(401, 404, 409) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    const changed = await ctx.transaction(async (trx) => {
      const current = await pollVersion(trx, id);
      if (current === undefined) throw new TandemError('not_found', `Poll ${id} does not exist`);
      if (current.closed) throw pollErrors.error('poll_closed');
      const removed = await trx.deleteFrom('votes').where('poll_id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      if (Number(removed.numDeletedRows) === 0) return false;
      await trx.updateTable('polls').set((eb) => ({ version: eb('version', '+', 1) })).where('id', '=', id).execute();
      return true;
    });
    if (changed) tallyChanged(ctx, id);
    return reply.code(204).send(null);
  });

  app.get('/api/polls/:id/vote', {
    preHandler: authenticate,
    schema: { tags, summary: 'Your vote on a poll (private, not cached)', params: PollParams, response: { 200: MyVote, ...problems(401, 404) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    if ((await pollVersion(ctx.db, id)) === undefined) throw new TandemError('not_found', `Poll ${id} does not exist`);
    const vote = await ctx.db.selectFrom('votes').select('option_id').where('poll_id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    reply.header('cache-control', 'private, no-store');
    return { pollId: id, optionId: vote?.option_id ?? null };
  });
}

export const pollsApp = defineApp<PollsDb, typeof pollSettings>({
  name: 'polls',
  api: { title: 'Tandem polls', version: '1.0.0', description: 'A live poll app built on tandem/server (examples/polls).' },
  migrations: pollMigrations,
  settings: pollSettings,
  errors: pollErrors,
  channels: {
    polls: {
      description: 'Polls as they are opened, edited or closed. Anyone signed in.',
      events: { 'poll.created': { description: 'A new poll', data: PollSummary }, 'poll.updated': { description: 'A poll was edited or closed', data: PollSummary } },
    },
    poll: {
      description: 'One poll: its live tallies and edits, and who is watching. Anyone signed in, while it exists.',
      param: 'id',
      presence: 'users',
      canSubscribe: async ({ param }, ctx) => /^[1-9]\d{0,9}$/.test(param) && (await pollVersion(ctx.db, Number(param))) !== undefined,
      events: {
        'poll.tally': { description: 'The counts after a burst of votes (at most one per POLLS_TALLY_INTERVAL_MS)', data: Tally },
        'poll.updated': { description: 'The poll was edited or closed', data: Poll },
      },
    },
  },
  routes,
});
