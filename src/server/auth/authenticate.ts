import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TandemError } from '../errors';
import type { SessionStore } from './sessions';
import type { AccessClaims, TokenService } from './tokens';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `authenticate` preHandler on routes that require a signed-in user. */
    auth: AccessClaims | null;
  }
}

/** The bearer token of a request, if it has one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (match?.[1] === undefined) throw new TandemError('token_invalid', 'Use "Authorization: Bearer <access token>"');
  return match[1];
}

/**
 * Verifies the access token (signature, expiry) and that its session is not revoked,
 * on every request: a logged-out token stops working at once, not at its expiry.
 */
export async function verifyRequest(request: FastifyRequest, tokens: TokenService, sessions: SessionStore): Promise<AccessClaims> {
  try {
    const token = bearerToken(request);
    if (token === undefined) throw new TandemError('unauthenticated', undefined, { headers: { 'www-authenticate': 'Bearer' } });
    const claims = await tokens.verify(token);
    if (!(await sessions.isActive(claims.sessionId))) throw new TandemError('session_revoked');
    return claims;
  } catch (error) {
    throw withChallenge(error);
  }
}

/**
 * A 401 must carry a WWW-Authenticate challenge (RFC 9110 15.5.2); a bad, expired or revoked
 * bearer token is `error="invalid_token"` (RFC 6750 3.1), which tells clients to refresh.
 */
function withChallenge(error: unknown): unknown {
  if (!(error instanceof TandemError) || error.status !== 401 || error.headers?.['www-authenticate'] !== undefined) return error;
  return new TandemError(error.code, error.detail, {
    spec: error,
    ...(error.errors === undefined ? {} : { errors: error.errors }),
    headers: { ...error.headers, 'www-authenticate': 'Bearer error="invalid_token"' },
  });
}

/** Decorates requests with `auth` and returns the preHandler that requires it. */
export function installAuthentication(app: FastifyInstance, tokens: TokenService, sessions: SessionStore) {
  app.decorateRequest('auth', null);
  return async function authenticate(request: FastifyRequest): Promise<void> {
    request.auth = await verifyRequest(request, tokens, sessions);
  };
}

/** The signed-in user's claims; only valid behind the authenticate preHandler. */
export function claimsOf(request: FastifyRequest): AccessClaims {
  if (request.auth === null) throw new TandemError('unauthenticated');
  return request.auth;
}
