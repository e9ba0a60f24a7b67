import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Type, type TSchema } from 'typebox';
import { TandemError } from '../errors';
import { NoContent, problems } from '../http/schemas';
import type { TandemTables } from '../store/database';
import { AccountSchema, createAccount, DisplayName, findAccountById, findAccountByUsername, normalizeUsername, Password, toAccount, Username } from './accounts';
import { bearerToken } from './authenticate';
import { limitKey } from '../http/client-address';
import { guardedCheck, refused, type LoginLimiter } from './login-guard';
import { hashPassword, verifyPassword } from './passwords';
import { registerPasswordRoute } from './password-route';
import type { IssuedSession, SessionStore } from './sessions';
import type { TokenService } from './tokens';

/** How an app shapes the account module (defineApp's `accounts`). */
export interface AccountOptions<DB extends TandemTables = TandemTables> {
  /** Where the routes are: `<path>/register`, `/login`, `/refresh`, `/logout`; the refresh cookie is scoped to it. Default `/api/auth`. */
  path?: string;
  /** Whether anyone may register. Default true. */
  registration?: boolean;
  /**
   * The user representation the token answers carry (`user`): its schema and how to read it.
   * Default: the library's Account (id, username, displayName, createdAt, version).
   */
  profile?: { schema: TSchema; read(db: Kysely<DB>, userId: number): Promise<object | undefined> };
}

const REFRESH_COOKIE = 'tandem_refresh';
/**
 * Set (and cleared) with the refresh cookie, for the whole site and readable by scripts: it holds
 * no secret, only "this browser may have a session", so a signed-out page load skips the refresh
 * that could only fail (and log a 401 in the console).
 */
const SESSION_MARKER_COOKIE = 'tandem_session';
/** `Tandem-Session: cookie`: the client keeps its session in the cookies (a web app); without it, tokens in the body only. */
const SESSION_HEADER = 'tandem-session';

/**
 * Whether to answer with the session cookies. Only when the client asks (the header): a sign-in on
 * the API docs page (Swagger's Try-it-out) or by a script must not sign that browser into the app.
 * A refresh that came with the cookie (and no body token) is a cookie session, header or not.
 */
function wantsCookieSession(request: FastifyRequest, refreshedFromCookie = false): boolean {
  return request.headers[SESSION_HEADER] === 'cookie' || refreshedFromCookie;
}

const RefreshBody = Type.Object({ refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false });

function tokenResponse(user: TSchema) {
  return Type.Object({
    accessToken: Type.String(),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
    expiresAt: Type.Integer({ description: 'Access token expiry, ms since the epoch' }),
    refreshToken: Type.String({ description: `Single-use; also set as the httpOnly ${REFRESH_COOKIE} cookie when the request says \`Tandem-Session: cookie\`` }),
    refreshExpiresAt: Type.Integer(),
    user,
  }, { headers: { 'cache-control': Type.String({ description: 'no-store' }), 'set-cookie': Type.String({ description: `Only for a request with \`Tandem-Session: cookie\` (or a refresh by cookie): the refresh token, httpOnly, SameSite=Strict, scoped to the account routes' path (${REFRESH_COOKIE}), and the readable marker ${SESSION_MARKER_COOKIE}=1 (path /, same expiry) that tells a page a session may exist` }) } });
}

/**
 * A cookie-only refresh or logout sends no body, which Fastify would validate as null against
 * the object schema (Type.Optional does not make a root schema optional): treat it as `{}`.
 */
async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

export interface AccountRouteDeps<DB extends TandemTables> {
  db: Kysely<DB>;
  tokens: TokenService;
  sessions: SessionStore;
  guard: LoginLimiter;
  options: AccountOptions<DB>;
}

/** Registration, login, password change (revokes the other sessions), refresh (rotating; reuse revokes the session) and logout. */
export function registerAccountRoutes<DB extends TandemTables>(app: FastifyInstance, deps: AccountRouteDeps<DB>): void {
  const { db, tokens, sessions, guard } = deps;
  const path = deps.options.path ?? '/api/auth';
  const profile = deps.options.profile ?? { schema: AccountSchema, read: async (d: Kysely<DB>, id: number) => { const row = await findAccountById(d, id); return row && toAccount(row); } };
  const TokenResponse = tokenResponse(profile.schema);
  const tags = ['auth'];

  /** Both session cookies gone: after a logout, or a refresh the server refused. */
  function clearSessionCookies(reply: FastifyReply): void {
    reply.clearCookie(REFRESH_COOKIE, { path }).clearCookie(SESSION_MARKER_COOKIE, { path: '/' });
  }

  async function answerWithTokens(request: FastifyRequest, reply: FastifyReply, issued: IssuedSession, cookie = wantsCookieSession(request)) {
    const user = await profile.read(db, issued.userId);
    if (user === undefined) throw new TandemError('refresh_token_invalid', 'The account no longer exists');
    const access = await tokens.issue(issued.userId, issued.sessionId);
    reply.header('cache-control', 'no-store');
    if (cookie) {
      const expires = new Date(issued.refreshExpiresAt);
      const secure = request.protocol === 'https';
      reply
        .setCookie(REFRESH_COOKIE, issued.refreshToken, { httpOnly: true, sameSite: 'strict', path, secure, expires })
        .setCookie(SESSION_MARKER_COOKIE, '1', { httpOnly: false, sameSite: 'strict', path: '/', secure, expires });
    }
    return {
      accessToken: access.token,
      tokenType: 'Bearer' as const,
      expiresIn: tokens.ttlSeconds,
      expiresAt: access.expiresAt,
      refreshToken: issued.refreshToken,
      refreshExpiresAt: issued.refreshExpiresAt,
      user,
    };
  }

  if (deps.options.registration !== false) {
    app.post(`${path}/register`, {
      schema: {
        tags, summary: 'Create an account and sign in',
        body: Type.Object({ username: Username, password: Password, displayName: Type.Optional(DisplayName) }, { additionalProperties: false }),
        response: { 201: TokenResponse, ...problems(400, 409, 413, 415, 429) },
      },
    }, async (request, reply) => {
      refused(await guard.attempt(limitKey(request.ip)));
      const { username, password, displayName } = request.body as { username: string; password: string; displayName?: string };
      const passwordHash = await hashPassword(password);
      const user = await db.transaction().execute((trx) => createAccount(trx, { username, passwordHash, displayName: displayName ?? username }));
      const body = await answerWithTokens(request, reply, await sessions.create(user.id));
      return reply.code(201).send(body);
    });
  }

  app.post(`${path}/login`, {
    schema: {
      tags, summary: 'Sign in: a short-lived access token and a rotating refresh token',
      description: 'Limited per IP, and per account and IP: repeated failures lock that address out of that account for a growing time (429 login_rate_limited with Retry-After), without stopping the owner from signing in elsewhere.',
      body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
      response: { 200: TokenResponse, ...problems(400, 401, 429) },
    },
  }, async (request, reply) => {
    const body = request.body as { username: string; password: string };
    const account = normalizeUsername(body.username);
    const address = limitKey(request.ip);
    refused(await guard.attempt(address));
    let user: Awaited<ReturnType<typeof findAccountByUsername>>;
    const verified = await guardedCheck(guard, account, address, async () => {
      user = await findAccountByUsername(db, account);
      return (await verifyPassword(user?.password_hash, body.password)) && user !== undefined;
    });
    if (!verified || user === undefined) throw new TandemError('invalid_credentials');
    return answerWithTokens(request, reply, await sessions.create(user.id));
  });

  registerPasswordRoute(app, path, deps);

  app.post(`${path}/refresh`, {
    preValidation: absentBodyIsEmpty,
    schema: {
      tags, summary: 'Exchange a refresh token (body or cookie) for new tokens; each works once',
      description: 'Presenting an already-used refresh token revokes its whole session.',
      body: RefreshBody,
      response: { 200: TokenResponse, ...problems(400, 401) },
    },
  }, async (request, reply) => {
    const inBody = (request.body as { refreshToken?: string }).refreshToken;
    const token = inBody ?? request.cookies[REFRESH_COOKIE];
    const cookie = wantsCookieSession(request, inBody === undefined && token !== undefined);
    try {
      if (token === undefined) throw new TandemError('refresh_token_invalid', `Send refreshToken in the body or the ${REFRESH_COOKIE} cookie`);
      return await answerWithTokens(request, reply, await sessions.rotate(token), cookie);
    } catch (error) {
      // A cookie session that will never refresh again: its cookies go, so the page stops trying.
      // Only when the refused token was the cookie's (or there was none): a body token refused (a
      // script, the docs page's Try-it-out) says nothing of the browser's own cookie session.
      if (error instanceof TandemError && error.status === 401 && inBody === undefined && (cookie || request.cookies[SESSION_MARKER_COOKIE] !== undefined)) clearSessionCookies(reply);
      throw error;
    }
  });

  app.post(`${path}/logout`, {
    preValidation: absentBodyIsEmpty,
    schema: {
      tags, summary: 'Sign out: revokes the session of the access token or refresh token given',
      body: RefreshBody,
      response: { 204: NoContent, ...problems(400, 401) },
    },
  }, async (request, reply) => {
    const sessionId = await sessionToRevoke(deps, request, (request.body as { refreshToken?: string }).refreshToken ?? request.cookies[REFRESH_COOKIE]);
    await sessions.revoke(sessionId, 'logout');
    clearSessionCookies(reply);
    return reply.code(204).send(null);
  });
}

async function sessionToRevoke<DB extends TandemTables>(deps: AccountRouteDeps<DB>, request: FastifyRequest, refreshToken: string | undefined): Promise<string> {
  const access = bearerToken(request);
  if (access !== undefined) {
    // With an expired access token, fall back to the refresh token; a forged one is refused.
    try {
      return (await deps.tokens.verify(access)).sessionId;
    } catch (error) {
      if (!(error instanceof TandemError && error.code === 'token_expired' && refreshToken !== undefined)) throw error;
    }
  }
  if (refreshToken !== undefined) {
    const sessionId = await deps.sessions.sessionOfRefreshToken(refreshToken);
    if (sessionId !== undefined) return sessionId;
    throw new TandemError('refresh_token_invalid');
  }
  throw new TandemError('unauthenticated', 'Send the access token or the refresh token of the session to end');
}
