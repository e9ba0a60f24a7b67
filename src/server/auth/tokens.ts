import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, type JWTHeaderParameters } from 'jose';
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

  /** Verifies signature and expiry; throws token_expired or token_invalid. */
  async verify(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.#keyFor(header), {
        algorithms: ['HS256'],
        typ: 'at+jwt',
        currentDate: new Date(this.#clock()),
        clockTolerance: 0,
      });
      const userId = Number(payload.sub);
      if (!Number.isSafeInteger(userId) || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
        throw new TandemError('token_invalid');
      }
      return { userId, sessionId: payload.sid, expiresAt: payload.exp * 1000 };
    } catch (error) {
      if (error instanceof TandemError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new TandemError('token_expired');
      throw new TandemError('token_invalid');
    }
  }

  #keyFor(header: JWTHeaderParameters): KeyObject {
    const key = header.kid === undefined ? undefined : this.#keys.get(header.kid);
    if (key === undefined) throw new TandemError('token_invalid', 'Unknown signing key');
    return key;
  }
}
