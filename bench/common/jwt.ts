/**
 * The bench floors' JWT (HS256, typ at+jwt, kid), verified as Tandem verifies its access tokens:
 * three base64url segments, a JSON-object header with alg HS256, typ at+jwt, a known kid and no
 * crit, a constant-time check of the canonical signature, a JSON-object payload with a numeric exp
 * in the future and string sub and sid. Used by the REST floor (`/api/me`) and the realtime
 * handshake floor, so both price exactly the checks Tandem must make.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The claims of a valid token, or undefined. `keys` maps kid to its secret. */
export function verifyJwt(token: string, keys: ReadonlyMap<string, Buffer | KeyObject>): { sub: string; sid: string; exp: number } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return undefined;
  const header = jsonObject(parts[0]!);
  if (header?.alg !== 'HS256' || header.typ !== 'at+jwt' || 'crit' in header || typeof header.kid !== 'string') return undefined;
  const key = keys.get(header.kid);
  if (key === undefined) return undefined;
  const expected = Buffer.from(createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest('base64url'));
  const given = Buffer.from(parts[2]!);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const payload = jsonObject(parts[1]!);
  if (typeof payload?.exp !== 'number' || payload.exp <= Math.floor(Date.now() / 1000) || typeof payload.sid !== 'string' || typeof payload.sub !== 'string') return undefined;
  return { sub: payload.sub, sid: payload.sid, exp: payload.exp };
}

/** Signs a token of that shape (the handshake floor issues its own). */
export function signJwt(kid: string, key: Buffer, claims: { sub: string; sid: string; exp: number }): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${encode({ alg: 'HS256', kid, typ: 'at+jwt' })}.${encode({ sid: claims.sid, sub: claims.sub, iat: Math.floor(Date.now() / 1000), exp: claims.exp })}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}
