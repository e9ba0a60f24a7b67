import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { PresenceUser } from '../../protocol/frames';
import type { TandemConfig } from '../config/config';
import type { ChannelItemSpec, ChannelPageSpec } from '../http/channel-page';
import type { StoredResponse } from '../http/idempotency';
import type { ChannelLog } from '../store/channel-log';
import type { Dialect, TandemTables } from '../store/database';

/** A new session's tokens (the same as a login's answer, without the user). */
export interface IssuedTokens {
  accessToken: string;
  /** ms since the epoch */
  expiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

/**
 * What an app's routes, channel policies and start hook get: the store, the configuration, and the
 * library's conventions bound to this server (transactions that publish after commit, idempotent
 * creates, lists with channel positions, presence, coalesced publications).
 */
export interface TandemContext<DB extends TandemTables = TandemTables, A = Record<never, never>> {
  readonly db: Kysely<DB>;
  readonly dialect: Dialect;
  /** The library's settings and the app's own (`config.app`). */
  readonly config: TandemConfig<A>;
  readonly log: FastifyBaseLogger;
  readonly clock: () => number;
  /**
   * The preHandler of routes that need a signed-in user: a valid access token of a live session,
   * checked on every request (a logged-out token stops working at once). Read the user with claimsOf(request).
   */
  readonly authenticate: (request: FastifyRequest) => Promise<void>;
  /**
   * Runs `work` in one transaction. Events appended to `log` get the channel's next offsets inside
   * the transaction and are published to subscribers after the commit; a failure publishes nothing.
   */
  transaction<R>(work: (trx: Transaction<DB>, log: ChannelLog) => Promise<R>): Promise<R>;
  /**
   * A create that is safe to retry: with an `Idempotency-Key` the first answer is stored with the
   * write and replayed to retries (`Idempotent-Replayed: true`); the same key with another request
   * is 422. Sends the answer's status and headers; returns its body. `scope` keeps keys apart (per user).
   */
  createOnce<T>(request: FastifyRequest, reply: FastifyReply, scope: string, work: (trx: Transaction<DB>, log: ChannelLog) => Promise<StoredResponse<T>>): Promise<T>;
  /**
   * Answers a page of a list that has a channel: ETag from the channel's position (a 304 costs one
   * lookup), `Tandem-Channel` / `Tandem-Epoch` / `Tandem-Position` from the same snapshot as the rows,
   * a next-page `Link`. Subscribing from that position misses and repeats nothing.
   */
  sendList<T extends { id: number }, X extends object = object>(request: FastifyRequest, reply: FastifyReply, spec: ChannelPageSpec<DB, T, X>): Promise<{ items: T[]; nextCursor: string | null } & X>;
  /**
   * Answers one resource that has a channel (a poll with live tallies): ETag from its version (a 304
   * costs one lookup), and `Tandem-Channel` / `Tandem-Epoch` / `Tandem-Position` read in the same
   * snapshot as the body. 404 `not_found` when `etag` finds nothing.
   */
  sendItem<T>(request: FastifyRequest, reply: FastifyReply, spec: ChannelItemSpec<DB, T>): Promise<T>;
  /**
   * Signs a user in without a password (after your own check: a magic link, single sign-on, a
   * service account): a new session with its access and refresh tokens, as login answers them.
   */
  issueSession(userId: number): Promise<IssuedTokens>;
  /**
   * Ends every session of a user but `except` (a password change, "sign out everywhere", an account
   * closed): their access and refresh tokens stop working at once and their realtime connections
   * close with 4009. Resolves with how many sessions ended.
   */
  revokeSessions(userId: number, options?: { except?: string; reason?: string }): Promise<number>;
  /** Who is present in a channel now: its users, `{n}` on a counts-only channel, [] without presence. */
  presence(channel: string): Promise<PresenceUser[] | { n: number }>;
  /**
   * Publishes the current state of something at most once per `intervalMs` (default 100), however
   * often it changes: a durable publication, appended with the state `read` returns in its own
   * transaction, so it has an offset and is recovered like any other. For counters that change in
   * bursts (votes, likes): 500 changes in a second become a handful of frames per subscriber.
   */
  publishLatest(channel: string, event: string, read: (db: Kysely<DB>) => Promise<unknown>, options?: { intervalMs?: number }): void;
}
