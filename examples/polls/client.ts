import { RestClient, type ApiResponse, type CallOptions, type CreateOptions, type ListResult, type PageOptions, type WriteOptions } from 'tandem/client';
import type { Static } from 'typebox';
import type { MyVote, Poll, Tally } from './model';

export type { Poll, Tally } from './model';

/** A poll as its GET answers it: the poll, its ETag (for If-Match) and where it was read in its channel. */
export type PollRead = ApiResponse<Poll>;

/**
 * The polls app's typed client: the generic core of tandem/client (tokens, ETag cache with 304s,
 * Idempotency-Keys kept across retries, retries, typed errors) plus one method per route, typed
 * from the schemas the server validates with.
 */
export class PollsClient extends RestClient {
  listPolls(page: PageOptions = {}): Promise<ListResult<Pick<Poll, 'id' | 'author' | 'question' | 'closed' | 'createdAt'>>> {
    return this.list('/api/polls', page, { auth: 'none' });
  }

  /** The whole answer: `body` is the poll, `etag` its version, `channel` and `position` where to follow it from. */
  readPoll(id: number, options: CallOptions = {}): Promise<PollRead> {
    return this.request<Poll>({ method: 'GET', path: `/api/polls/${id}`, auth: 'none', ...options });
  }

  async openPoll(input: { question: string; options: string[] }, options: CreateOptions = {}): Promise<Poll> {
    return (await this.request<Poll>({ method: 'POST', path: '/api/polls', body: input, create: true, ...options })).body;
  }

  async editPoll(id: number, changes: { question?: string; closed?: boolean }, options: WriteOptions = {}): Promise<Poll> {
    return (await this.request<Poll>({ method: 'PATCH', path: `/api/polls/${id}`, body: changes, ...options })).body;
  }

  /** Safe to repeat (a PUT): the same vote again changes nothing. */
  async vote(id: number, optionId: number, options: CallOptions = {}): Promise<Static<typeof MyVote>> {
    return (await this.request<Static<typeof MyVote>>({ method: 'PUT', path: `/api/polls/${id}/vote`, body: { optionId }, ...options })).body;
  }

  async withdrawVote(id: number, options: CallOptions = {}): Promise<void> {
    await this.request<void>({ method: 'DELETE', path: `/api/polls/${id}/vote`, ...options });
  }
}

/** Applies a live tally to a poll on screen (tallies are whole states: the newer version wins). */
export function withTally(poll: Poll, tally: Tally): Poll {
  if (tally.pollId !== poll.id || tally.version < poll.version) return poll;
  const votes = new Map(tally.options.map((o) => [o.id, o.votes]));
  return { ...poll, options: poll.options.map((o) => ({ ...o, votes: votes.get(o.id) ?? o.votes })), totalVotes: tally.totalVotes, version: tally.version };
}
