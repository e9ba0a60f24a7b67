import { createHash, createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenService } from '../../src/server/auth/tokens';

/**
 * The access-token verifier (sync HMAC, jose's checks for HS256 at+jwt). Every token here is built
 * by hand with the service's own secret, so only the property under test is wrong.
 */
const SECRET = 'a test secret that is long enough for HS256';
const KID = createHash('sha256').update(SECRET).digest('base64url').slice(0, 16);
let now = Date.UTC(2026, 11, 7, 12);

async function service(): Promise<TokenService> {
  return TokenService.open(undefined as never, { secret: SECRET, ttlSeconds: 600, clock: () => now });
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const mac = (input: string, secret = SECRET) => createHmac('sha256', secret).update(input).digest('base64url');

function token(header: Record<string, unknown> = {}, payload: Record<string, unknown> = {}, secret = SECRET): string {
  const h = b64({ alg: 'HS256', typ: 'at+jwt', kid: KID, ...header });
  const p = b64({ sub: '7', sid: 'session-1', iat: now / 1000, exp: now / 1000 + 600, ...payload });
  return `${h}.${p}.${mac(`${h}.${p}`, secret)}`;
}

async function refusal(tokens: TokenService, value: string): Promise<string> {
  return tokens.verify(value).then(() => 'accepted', (error: { code?: string }) => error.code ?? 'threw');
}

describe('TokenService.verify', () => {
  it('accepts what it issued, and a hand-built token with the same claims (jose-compatible)', async () => {
    const tokens = await service();
    const issued = await tokens.issue(7, 'session-1');
    expect(await tokens.verify(issued.token)).toEqual({ userId: 7, sessionId: 'session-1', expiresAt: issued.expiresAt });
    expect(await tokens.verify(token())).toMatchObject({ userId: 7, sessionId: 'session-1' });
    expect(await tokens.verify(token({ typ: 'application/AT+JWT' }))).toMatchObject({ userId: 7 });
    // And jose's own signature over the same header and claims.
    const jose = await new SignJWT({ sid: 's' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: KID }).setSubject('9').setExpirationTime(now / 1000 + 60).sign(new TextEncoder().encode(SECRET));
    expect(await tokens.verify(jose)).toMatchObject({ userId: 9, sessionId: 's' });
  });

  it('says token_expired from exp on, only for an authentic token', async () => {
    const tokens = await service();
    const value = token();
    now += 599_000;
    expect(await refusal(tokens, value)).toBe('accepted');
    now += 1_000;
    expect(await refusal(tokens, value)).toBe('token_expired');
    expect(await refusal(tokens, token({}, { exp: now / 1000 - 1 }, 'another secret, also long enough'))).toBe('token_invalid');
    now -= 600_000;
  });

  it('refuses headers it does not accept: alg none or another alg, wrong or missing typ, unknown kid, crit', async () => {
    const tokens = await service();
    const cases: Array<Record<string, unknown>> = [{ alg: 'none' }, { alg: 'HS512' }, { alg: 'RS256' }, { typ: 'JWT' }, { typ: undefined }, { kid: 'someone else' }, { kid: undefined }, { crit: ['exp'] }, { b64: false, crit: ['b64'] }];
    for (const header of cases) expect(await refusal(tokens, token(header)), JSON.stringify(header)).toBe('token_invalid');
    const unsigned = token({ alg: 'none' }).split('.').slice(0, 2).join('.') + '.';
    expect(await refusal(tokens, unsigned)).toBe('token_invalid');
  });

  it('refuses a signature that is wrong, from another key, or another spelling of the right one', async () => {
    const tokens = await service();
    const good = token();
    const [h, p, s] = good.split('.') as [string, string, string];
    const flipped = s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    for (const value of [`${h}.${p}.${flipped}`, token({}, {}, 'not the server secret, long enough too'), `${h}.${p}.${s}=`, `${h}.${p}.${s}A`, `${h}.${p}.${s.slice(0, -1)}`, `${h}.${p}`, `${h}.${p}.${s}.x`, `${h}.${b64({ sub: '1', sid: 'x', exp: 9e9 })}.${s}`]) {
      expect(await refusal(tokens, value), value).toBe('token_invalid');
    }
    // A last character whose low bits do not count in base64url decodes to the same bytes: refused too.
    const canonical = Buffer.from(s, 'base64url');
    const alternatives = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').map((c) => s.slice(0, -1) + c).filter((alt) => alt !== s && Buffer.from(alt, 'base64url').equals(canonical));
    expect(alternatives.length).toBeGreaterThan(0);
    for (const alt of alternatives) expect(await refusal(tokens, `${h}.${p}.${alt}`)).toBe('token_invalid');
  });

  it('refuses claims of the wrong shape, a token not valid yet, and text that is not a JWT', async () => {
    const tokens = await service();
    const payloads: Array<Record<string, unknown>> = [{ exp: String(now / 1000 + 60) }, { exp: undefined }, { nbf: now / 1000 + 60 }, { nbf: 'soon' }, { iat: 'then' }, { sub: 'seven' }, { sub: 7 }, { sub: '-7' }, { sub: '9007199254740993' }, { sid: undefined }, { sid: 42 }];
    for (const payload of payloads) expect(await refusal(tokens, token({}, payload)), JSON.stringify(payload)).toBe('token_invalid');
    const h = b64({ alg: 'HS256', typ: 'at+jwt', kid: KID });
    for (const body of ['[1,2]', 'null', '"text"', 'not json']) {
      const p = b64(body);
      expect(await refusal(tokens, `${h}.${p}.${mac(`${h}.${p}`)}`), body).toBe('token_invalid');
    }
    for (const text of ['', 'garbage', 'a.b.c', '..', `${h}..sig`, 'e30.e30.e30', `${h}.${b64({})}.$$$`]) expect(await refusal(tokens, text), text).toBe('token_invalid');
    for (const value of [undefined, null, 42, { length: 3 }]) expect(await refusal(tokens, value as unknown as string)).toBe('token_invalid');
    // A header with __proto__ changes nothing; an expired token from an unknown key is invalid, not expired.
    expect(await refusal(tokens, token({ ['__proto__']: { alg: 'none' } }))).toBe('accepted');
    expect(await refusal(tokens, token({ kid: 'unknown' }, { exp: now / 1000 - 60 }))).toBe('token_invalid');
    // Oversized: refused before it is parsed (a real kid, a valid signature over a huge payload).
    expect(await refusal(tokens, token({}, { pad: 'x'.repeat(5_000) }))).toBe('token_invalid');
  });
});
