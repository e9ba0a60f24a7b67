import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Kysely } from 'kysely';
import { TandemError } from '../errors';
import { nowIso, type TandemTables } from '../store/database';

export interface AccessClaims {
  userId: number;
  sessionId: string;
  /** Expiry, in milliseconds since the epoch. */
  expiresAt: number;
}

/** Keys are imported once as KeyObjects: jose would otherwise re-import raw bytes on every sign and verify. */
interface SigningKey {
  kid: string;
  key: KeyObject;
}

/**
 * Issues and verifies short-lived access tokens (JWT, HS256) signed with a key that has a key id.
 * Keys come from TANDEM_JWT_SECRET or, when it is unset, from the store (created on first start),
 * so every node on the same store verifies every other node's tokens.
 */
export class TokenService {
  readonly #signing: SigningKey;
  readonly #keys: Map<string, KeyObject>;
  readonly #ttlSeconds: number;
  readonly #clock: () => number;

  private constructor(keys: SigningKey[], ttlSeconds: number, clock: () => number) {
    const newest = keys[keys.length - 1];
    if (newest === undefined) throw new Error('TokenService needs at least one key');
    this.#signing = newest;
    this.#keys = new Map(keys.map((k) => [k.kid, k.key]));
    this.#ttlSeconds = ttlSeconds;
    this.#clock = clock;
  }

  static async open(
    db: Kysely<TandemTables>,
    options: { secret: string | undefined; ttlSeconds: number; clock?: () => number },
  ): Promise<TokenService> {
    const clock = options.clock ?? Date.now;
    if (options.secret !== undefined) {
      const kid = createHash('sha256').update(options.secret).digest('base64url').slice(0, 16);
      return new TokenService([{ kid, key: createSecretKey(Buffer.from(options.secret)) }], options.ttlSeconds, clock);
    }
    let rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
    if (rows.length === 0) {
      // One fixed kid: nodes starting together on an empty store all insert the same row, the
      // first one wins, and every node reads the winner (random kids would leave each node its own key).
      const row = { kid: 'k1', secret: randomBytes(32).toString('base64url'), created_at: nowIso(clock) };
      await db.insertInto('signing_keys').values(row).onConflict((oc) => oc.doNothing()).execute();
      rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
    }
    const keys = rows.map((r) => ({ kid: r.kid, key: createSecretKey(Buffer.from(r.secret, 'base64url')) }));
    return new TokenService(keys, options.ttlSeconds, clock);
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  async issue(userId: number, sessionId: string): Promise<{ token: string; expiresAt: number }> {
    const nowSeconds = Math.floor(this.#clock() / 1000);
    const exp = nowSeconds + this.#ttlSeconds;
    const token = await new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: 'HS256', kid: this.#signing.kid, typ: 'at+jwt' })
      .setSubject(String(userId))
      .setIssuedAt(nowSeconds)
      .setExpirationTime(exp)
      .sign(this.#signing.key);
    return { token, expiresAt: exp * 1000 };
  }

  /**
   * Verifies signature and expiry; throws token_expired or token_invalid.
   *
   * Synchronous HMAC (node:crypto) rather than jose's jwtVerify, whose WebCrypto path is a thread-pool
   * job per token: 54–92 µs of CPU per verify against ~6 µs here, on every authenticated request and
   * every realtime handshake. The checks are jose's for this profile (RFC 7515/7519, RFC 9068 typ):
   * three base64url segments; a header that is a JSON object with alg HS256, typ at+jwt, a known kid
   * and no crit; the signature compared in constant time against the canonical encoding of the MAC
   * (so no second spelling of a signature verifies); a payload that is a JSON object whose exp, and
   * nbf and iat when present, are numbers; exp in the future and nbf not.
   */
  async verify(token: string): Promise<AccessClaims> {
    // Longer than any token this service issues (~300 B): refused before any work on the event loop.
    const parts = typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
    if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) throw new TandemError('token_invalid');
    const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];
    const header = jsonObject(encodedHeader);
    if (header === undefined || header.alg !== 'HS256' || normalizedTyp(header.typ) !== 'at+jwt' || 'crit' in header) throw new TandemError('token_invalid');
    const key = typeof header.kid === 'string' ? this.#keys.get(header.kid) : undefined;
    if (key === undefined) throw new TandemError('token_invalid', 'Unknown signing key');
    const expected = Buffer.from(createHmac('sha256', key).update(`${encodedHeader}.${encodedPayload}`).digest('base64url'));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TandemError('token_invalid');
    const payload = jsonObject(encodedPayload);
    if (payload === undefined) throw new TandemError('token_invalid');
    const { exp, nbf, iat, sub, sid } = payload;
    if (typeof exp !== 'number' || (nbf !== undefined && typeof nbf !== 'number') || (iat !== undefined && typeof iat !== 'number')) throw new TandemError('token_invalid');
    const now = Math.floor(this.#clock() / 1000);
    if (nbf !== undefined && nbf > now) throw new TandemError('token_invalid', 'The token is not valid yet');
    if (exp <= now) throw new TandemError('token_expired');
    const userId = typeof sub === 'string' && /^[0-9]{1,15}$/.test(sub) ? Number(sub) : Number.NaN;
    if (!Number.isSafeInteger(userId) || typeof sid !== 'string') throw new TandemError('token_invalid');
    return { userId, sessionId: sid, expiresAt: exp * 1000 };
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 4096;

/** A base64url segment that decodes to a JSON object (not an array, not null), or undefined. */
function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 9068's typ, compared as jose does: case-insensitive, with or without the `application/` prefix. */
function normalizedTyp(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
