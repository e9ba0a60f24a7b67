import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { bearerToken } from '../../../server/auth/authenticate';
import { hashPassword, verifyPassword } from '../../../server/auth/passwords';
import type { IssuedSession } from '../../../server/auth/sessions';
import { TandemError } from '../../../server/errors';
import { KeyedRateLimiter } from '../../../server/limits/rate-limiter';
import type { SocialContext } from '../context';
import { createUser, findUserById, findUserByUsername, normalizeUsername, toPublicUser } from '../repos/users';
import { DisplayName, Password, TokenResponse, Username } from '../schemas';
import { NoContent, problems } from './common';

const REFRESH_COOKIE = 'tandem_refresh';
const RefreshBody = Type.Object({ refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false });

/**
 * A cookie-only refresh or logout sends no body, which Fastify would validate as null against
 * the object schema (Type.Optional does not make a root schema optional): treat it as `{}`.
 */
async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

export function registerAuthRoutes(ctx: SocialContext): void {
  const { app, db, tokens, sessions, config } = ctx;
  const tags = ['auth'];
  const windowRefill = (capacity: number) => capacity / config.loginWindowSeconds;
  const perIp = new KeyedRateLimiter({ capacity: config.loginAttemptsPerIp, refillPerSecond: windowRefill(config.loginAttemptsPerIp) });
  const perAccount = new KeyedRateLimiter({ capacity: config.loginFailuresPerAccount, refillPerSecond: windowRefill(config.loginFailuresPerAccount) });

  function limit(limiter: KeyedRateLimiter, key: string, consume: boolean): void {
    const decision = consume ? limiter.consume(key) : limiter.peek(key);
    if (!decision.allowed) {
      throw new TandemError('login_rate_limited', `Try again in ${decision.retryAfterSeconds} s`, { headers: { 'retry-after': String(decision.retryAfterSeconds) } });
    }
  }

  async function answerWithTokens(request: FastifyRequest, reply: FastifyReply, issued: IssuedSession) {
    const user = await findUserById(db, issued.userId);
    if (user === undefined) throw new TandemError('refresh_token_invalid', 'The account no longer exists');
    const access = await tokens.issue(issued.userId, issued.sessionId);
    reply
      .header('cache-control', 'no-store')
      .setCookie(REFRESH_COOKIE, issued.refreshToken, {
        httpOnly: true, sameSite: 'strict', path: '/api/auth', secure: request.protocol === 'https', expires: new Date(issued.refreshExpiresAt),
      });
    return {
      accessToken: access.token,
      tokenType: 'Bearer' as const,
      expiresIn: tokens.ttlSeconds,
      expiresAt: access.expiresAt,
      refreshToken: issued.refreshToken,
      refreshExpiresAt: issued.refreshExpiresAt,
      user: toPublicUser(user),
    };
  }

  app.post('/api/auth/register', {
    schema: {
      tags, summary: 'Create an account and sign in',
      body: Type.Object({ username: Username, password: Password, displayName: Type.Optional(DisplayName) }, { additionalProperties: false }),
      response: { 201: TokenResponse, ...problems(400, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    limit(perIp, request.ip, true);
    const { username, password, displayName } = request.body;
    const passwordHash = await hashPassword(password);
    const user = await db.transaction().execute((trx) => createUser(trx, { username, passwordHash, displayName: displayName ?? username }));
    const body = await answerWithTokens(request, reply, await sessions.create(user.id));
    return reply.code(201).send(body);
  });

  app.post('/api/auth/login', {
    schema: {
      tags, summary: 'Sign in: a short-lived access token and a rotating refresh token',
      description: 'Rate-limited per IP and per account far more strictly than other routes.',
      body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
      response: { 200: TokenResponse, ...problems(400, 401, 429) },
    },
  }, async (request, reply) => {
    const account = normalizeUsername(request.body.username);
    limit(perIp, request.ip, true);
    limit(perAccount, account, false);
    const user = await findUserByUsername(db, account);
    if (!(await verifyPassword(user?.password_hash, request.body.password)) || user === undefined) {
      perAccount.consume(account);
      throw new TandemError('invalid_credentials');
    }
    perAccount.reset(account);
    return answerWithTokens(request, reply, await sessions.create(user.id));
  });

  app.post('/api/auth/refresh', {
    preValidation: absentBodyIsEmpty,
    schema: {
      tags, summary: 'Exchange a refresh token (body or cookie) for new tokens; each works once',
      description: 'Presenting an already-used refresh token revokes its whole session.',
      body: RefreshBody,
      response: { 200: TokenResponse, ...problems(400, 401) },
    },
  }, async (request, reply) => {
    const token = request.body.refreshToken ?? request.cookies[REFRESH_COOKIE];
    if (token === undefined) throw new TandemError('refresh_token_invalid', 'Send refreshToken in the body or the tandem_refresh cookie');
    return answerWithTokens(request, reply, await sessions.rotate(token));
  });

  app.post('/api/auth/logout', {
    preValidation: absentBodyIsEmpty,
    schema: {
      tags, summary: 'Sign out: revokes the session of the access token or refresh token given',
      body: RefreshBody,
      response: { 204: NoContent, ...problems(400, 401) },
    },
  }, async (request, reply) => {
    const sessionId = await sessionToRevoke(ctx, request, request.body.refreshToken ?? request.cookies[REFRESH_COOKIE]);
    await sessions.revoke(sessionId, 'logout');
    reply.clearCookie(REFRESH_COOKIE, { path: '/api/auth' });
    return reply.code(204).send(null);
  });
}

async function sessionToRevoke(ctx: SocialContext, request: FastifyRequest, refreshToken: string | undefined): Promise<string> {
  const access = bearerToken(request);
  if (access !== undefined) {
    // With an expired access token, fall back to the refresh token; a forged one is refused.
    try {
      return (await ctx.tokens.verify(access)).sessionId;
    } catch (error) {
      if (!(error instanceof TandemError && error.code === 'token_expired' && refreshToken !== undefined)) throw error;
    }
  }
  if (refreshToken !== undefined) {
    const sessionId = await ctx.sessions.sessionOfRefreshToken(refreshToken);
    if (sessionId !== undefined) return sessionId;
    throw new TandemError('refresh_token_invalid');
  }
  throw new TandemError('unauthenticated', 'Send the access token or the refresh token of the session to end');
}
