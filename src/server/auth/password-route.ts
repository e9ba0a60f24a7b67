import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { TandemError } from '../errors';
import { limitKey } from '../http/client-address';
import { NoContent, problems } from '../http/schemas';
import { nowIso, type TandemTables } from '../store/database';
import { findAccountById, Password } from './accounts';
import { verifyRequest } from './authenticate';
import { guardedCheck, refused, type LoginLimiter } from './login-guard';
import { hashPassword, verifyPassword } from './passwords';
import type { SessionStore } from './sessions';
import type { TokenService } from './tokens';

export interface PasswordRouteDeps<DB extends TandemTables> {
  db: Kysely<DB>;
  tokens: TokenService;
  sessions: SessionStore;
  guard: LoginLimiter;
}

const ChangePasswordBody = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 128 }), newPassword: Password },
  { additionalProperties: false },
);

/**
 * `POST <path>/password`: a signed-in user changes their password. The current password is
 * checked under the login guard (a stolen access token cannot be used to guess it: failures count
 * like failed logins of that account from that address, and lock it out the same way). On success
 * the hash is replaced and every other session of the user is revoked: their access and refresh
 * tokens stop working and their realtime connections close with 4009 at once, on every node. The
 * session that asked stays signed in.
 */
export function registerPasswordRoute<DB extends TandemTables>(app: FastifyInstance, path: string, deps: PasswordRouteDeps<DB>): void {
  const { tokens, sessions, guard } = deps;
  const db = deps.db as unknown as Kysely<TandemTables>;
  app.post(`${path}/password`, {
    schema: {
      tags: ['auth'], summary: 'Change your password; signs out every other session',
      description: 'Send the current password and the new one (8-128 characters). A wrong current password is 403 current_password_wrong and counts as a failed login; '
        + 'too many lock this address out (429 login_rate_limited). On success (204) every other session of the account is revoked: their tokens stop working and their realtime connections close with 4009.',
      body: ChangePasswordBody,
      response: { 204: NoContent, ...problems(400, 401, 403, 429) },
    },
  }, async (request, reply) => {
    const claims = await verifyRequest(request, tokens, sessions);
    const { currentPassword, newPassword } = request.body as { currentPassword: string; newPassword: string };
    const address = limitKey(request.ip);
    refused(await guard.attempt(address));
    const account = await findAccountById(db, claims.userId);
    if (account === undefined) throw new TandemError('unauthenticated', 'The account no longer exists');
    if (!(await guardedCheck(guard, account.username, address, () => verifyPassword(account.password_hash, currentPassword)))) {
      throw new TandemError('current_password_wrong', 'The current password is not right', { errors: [{ field: 'body.currentPassword', message: 'is not your current password' }] });
    }
    if (newPassword === currentPassword) {
      throw new TandemError('validation_failed', 'The new password is the current one', { errors: [{ field: 'body.newPassword', message: 'must differ from the current password' }] });
    }
    // Hashed before the write: argon2id takes tens of ms, too long to hold a write lock.
    const passwordHash = await hashPassword(newPassword);
    await db.updateTable('users').set({ password_hash: passwordHash, updated_at: nowIso() }).where('id', '=', claims.userId).execute();
    await sessions.revokeAllOf(claims.userId, 'password_changed', claims.sessionId);
    return reply.code(204).header('cache-control', 'no-store').send(null);
  });
}
