import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { TandemError } from '../errors';
import { nowIso, type TandemTables } from '../store/database';
import { ReadById } from '../store/read-by-id';

export interface IssuedSession {
  userId: number;
  sessionId: string;
  refreshToken: string;
  refreshExpiresAt: number;
}

export type SessionRevokedListener = (sessionId: string, reason: string) => void;

const liveSessionUserById = new ReadById((db: Kysely<TandemTables>, id: string) =>
  db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').select(['sessions.user_id', 'users.username']).where('sessions.id', '=', id).where('sessions.revoked_at', 'is', null));
const revokedAtById = new ReadById((db: Kysely<TandemTables>, id: string) => db.selectFrom('sessions').select('revoked_at').where('id', '=', id));

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Refresh sessions: one session per login, a chain of single-use refresh tokens inside it.
 * Presenting a refresh token that was already used revokes the whole session (theft detection).
 */
export class SessionStore {
  readonly #db: Kysely<TandemTables>;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #revokedListeners = new Set<SessionRevokedListener>();

  constructor(db: Kysely<TandemTables>, options: { refreshTtlSeconds: number; clock?: () => number }) {
    this.#db = db;
    this.#ttlMs = options.refreshTtlSeconds * 1000;
    this.#clock = options.clock ?? Date.now;
  }

  /** Called with every revoked session id (logout, reuse detection); returns an unsubscribe. */
  onRevoked(listener: SessionRevokedListener): () => void {
    this.#revokedListeners.add(listener);
    return () => this.#revokedListeners.delete(listener);
  }

  async create(userId: number): Promise<IssuedSession> {
    const sessionId = randomBytes(16).toString('base64url');
    const now = nowIso(this.#clock);
    return this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('sessions').values({ id: sessionId, user_id: userId, created_at: now, revoked_at: null, revoked_reason: null }).execute();
      return this.#issueRefresh(trx, userId, sessionId);
    });
  }

  /** Exchanges a refresh token for a new one; the old one can never be used again. */
  async rotate(refreshToken: string): Promise<IssuedSession> {
    const tokenHash = hashToken(refreshToken);
    const now = this.#clock();
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .select(['refresh_tokens.session_id', 'refresh_tokens.expires_at', 'refresh_tokens.used_at', 'sessions.user_id', 'sessions.revoked_at'])
        .where('refresh_tokens.token_hash', '=', tokenHash)
        .executeTakeFirst();
      if (row === undefined || row.revoked_at !== null || Date.parse(row.expires_at) <= now) return { kind: 'invalid' as const };
      const marked = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: nowIso(this.#clock) })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (row.used_at !== null || Number(marked.numUpdatedRows) !== 1) {
        await this.#revokeIn(trx, row.session_id, 'refresh_token_reused');
        return { kind: 'reused' as const, sessionId: row.session_id };
      }
      return { kind: 'ok' as const, issued: await this.#issueRefresh(trx, Number(row.user_id), row.session_id) };
    });
    if (outcome.kind === 'invalid') throw new TandemError('refresh_token_invalid');
    if (outcome.kind === 'reused') {
      this.#announceRevoked(outcome.sessionId, 'refresh_token_reused');
      throw new TandemError('refresh_token_reused');
    }
    return outcome.issued;
  }

  /** Revokes a session and every refresh token in it. Idempotent. */
  async revoke(sessionId: string, reason: string): Promise<void> {
    await this.#db.transaction().execute((trx) => this.#revokeIn(trx, sessionId, reason));
    this.#announceRevoked(sessionId, reason);
  }

  /**
   * Revokes every live session of a user (a password change, "sign out everywhere", an account
   * closed), but `except` if given; their tokens stop working and their sockets close. Returns how many.
   */
  async revokeAllOf(userId: number, reason: string, except?: string): Promise<number> {
    let query = this.#db.updateTable('sessions').set({ revoked_at: nowIso(this.#clock), revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (except !== undefined) query = query.where('id', '!=', except);
    const revoked = await query.returning('id').execute();
    for (const { id } of revoked) this.#announceRevoked(id, reason);
    return revoked.length;
  }

  /** The session id a refresh token belongs to, if the token is known. */
  async sessionOfRefreshToken(refreshToken: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('refresh_tokens').select('session_id').where('token_hash', '=', hashToken(refreshToken)).executeTakeFirst();
    return row?.session_id;
  }

  /** On every authenticated request: compiled once. */
  async isActive(sessionId: string): Promise<boolean> {
    const row = await revokedAtById.first(this.#db, sessionId);
    return row !== undefined && row.revoked_at === null;
  }

  /**
   * The account name of a live session of `userId`, in one query (a realtime handshake needs both:
   * the check that the session was not revoked, and the name presence shows); undefined when the
   * session was revoked, does not exist, or is not that user's.
   */
  async activeUserName(sessionId: string, userId: number): Promise<string | undefined> {
    const row = await liveSessionUserById.first(this.#db, sessionId);
    return row?.user_id === userId ? row.username : undefined;
  }

  async #issueRefresh(trx: Kysely<TandemTables>, userId: number, sessionId: string): Promise<IssuedSession> {
    const refreshToken = randomBytes(32).toString('base64url');
    const refreshExpiresAt = this.#clock() + this.#ttlMs;
    await trx
      .insertInto('refresh_tokens')
      .values({ token_hash: hashToken(refreshToken), session_id: sessionId, created_at: nowIso(this.#clock), expires_at: new Date(refreshExpiresAt).toISOString(), used_at: null })
      .execute();
    return { userId, sessionId, refreshToken, refreshExpiresAt };
  }

  async #revokeIn(trx: Kysely<TandemTables>, sessionId: string, reason: string): Promise<void> {
    await trx.updateTable('sessions').set({ revoked_at: nowIso(this.#clock), revoked_reason: reason }).where('id', '=', sessionId).where('revoked_at', 'is', null).execute();
  }

  #announceRevoked(sessionId: string, reason: string): void {
    for (const listener of this.#revokedListeners) listener(sessionId, reason);
  }
}
