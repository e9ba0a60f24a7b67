import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface TokenBody {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  expiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  user: { id: number; username: string; displayName: string; bio: string; avatarUrl: string; createdAt: string; version: number };
}

const PASSWORD = 'correct horse battery';
const ACCESS_TTL_SECONDS = 10;
const REFRESH_TTL_SECONDS = 60;
/** A whole second, so token expiry boundaries fall on exact clock values. */
const CLOCK_START = 1_750_000_000_000;

let server: TestServer;
let clocked: TestServer;
let now = CLOCK_START;
let nameCounter = 0;

beforeAll(async () => {
  [server, clocked] = await Promise.all([
    startServer(),
    startServer({ env: { TANDEM_ACCESS_TOKEN_TTL: String(ACCESS_TTL_SECONDS), TANDEM_REFRESH_TOKEN_TTL: String(REFRESH_TTL_SECONDS) }, clock: () => now }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.close(), clocked?.close()]);
});

function uniqueName(prefix = 'a'): string {
  nameCounter += 1;
  return `${prefix}${process.pid % 10000}_${nameCounter}`;
}

function decodePart(part: string | undefined): Record<string, unknown> {
  if (part === undefined) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const jwtHeader = (token: string) => decodePart(token.split('.')[0]);
const jwtPayload = (token: string) => decodePart(token.split('.')[1]);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** As the web UI asks: a cookie session (without the header, tokens come in the body only; test/rough-edges.test.ts). */
const COOKIE_SESSION = { 'tandem-session': 'cookie' };

function register(target: TestServer, body: unknown, init: RequestInit = {}) {
  return target.request('/api/auth/register', { method: 'POST', json: body, headers: COOKIE_SESSION, ...init });
}

function login(target: TestServer, username: string, password: string) {
  return target.request('/api/auth/login', { method: 'POST', json: { username, password }, headers: COOKIE_SESSION });
}

function refresh(target: TestServer, refreshToken: string) {
  return target.request('/api/auth/refresh', { method: 'POST', json: { refreshToken }, headers: COOKIE_SESSION });
}

function me(target: TestServer, token: string) {
  return target.request('/api/me', { token });
}

async function loginOk(target: TestServer, username: string, password = PASSWORD): Promise<TokenBody> {
  const res = await login(target, username, password);
  expect(res.status).toBe(200);
  return (await res.json()) as TokenBody;
}

async function refreshOk(target: TestServer, refreshToken: string): Promise<TokenBody> {
  const res = await refresh(target, refreshToken);
  expect(res.status).toBe(200);
  return (await res.json()) as TokenBody;
}

/** Asserts a problem+json answer with this status and code, and returns it. */
async function expectProblem(res: Response, status: number, code: string) {
  const problem = await problemOf(res);
  expect({ status: res.status, code: problem.code, bodyStatus: problem.status }).toEqual({ status, code, bodyStatus: status });
  return problem;
}

/** A refused bearer token: the problem plus the RFC 6750 challenge that tells the client to refresh. */
async function expectTokenRefused(res: Response, code: 'token_invalid' | 'token_expired' | 'session_revoked') {
  expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  return expectProblem(res, 401, code);
}

function refreshCookieOf(res: Response): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('tandem_refresh='));
  if (cookie === undefined) throw new Error('no tandem_refresh cookie');
  return cookie;
}

describe('register', () => {
  it('creates the account: 201 with a kid-headed access token, a refresh token and the public user', async () => {
    const username = uniqueName('Reg');
    const res = await register(server, { username, password: PASSWORD, displayName: 'Regina' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text).not.toMatch(/argon2|password/i);
    const body = JSON.parse(text) as TokenBody;
    expect(body.tokenType).toBe('Bearer');
    expect(body.expiresIn).toBe(server.config.auth.accessTokenTtlSeconds);
    expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(body.user).toEqual({ id: expect.any(Number), username: username.toLowerCase(), displayName: 'Regina', bio: '', avatarUrl: expect.stringMatching(/^\/api\/avatars\/initials\/R-\d+\.svg$/), createdAt: expect.any(String), version: 1 });
    expect(Object.keys(body.user).sort()).toEqual(['avatarUrl', 'bio', 'createdAt', 'displayName', 'id', 'username', 'version']);

    const header = jwtHeader(body.accessToken);
    expect(header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(header.kid).toEqual(expect.any(String));
    expect((header.kid as string).length).toBeGreaterThan(0);
    const payload = jwtPayload(body.accessToken);
    expect(payload.sub).toBe(String(body.user.id));
    expect(payload.exp).toBe(Math.floor(body.expiresAt / 1000));
    expect((payload.exp as number) - (payload.iat as number)).toBe(server.config.auth.accessTokenTtlSeconds);

    const self = await me(server, body.accessToken);
    expect(self.status).toBe(200);
    expect(await self.json()).toEqual(body.user);
  });

  it('defaults the display name to the username as typed', async () => {
    const username = uniqueName('Mixed');
    const res = await register(server, { username, password: PASSWORD });
    expect(res.status).toBe(201);
    const body = (await res.json()) as TokenBody;
    expect(body.user.username).toBe(username.toLowerCase());
    expect(body.user.displayName).toBe(username);
  });

  it('sets the refresh token as an HttpOnly, SameSite=Strict cookie scoped to /api/auth', async () => {
    const res = await register(server, { username: uniqueName(), password: PASSWORD });
    const body = (await res.json()) as TokenBody;
    const cookie = refreshCookieOf(res);
    expect(cookie.split(';')[0]).toBe(`tandem_refresh=${body.refreshToken}`);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).toMatch(/;\s*Path=\/api\/auth(;|$)/);
    expect(cookie).not.toMatch(/;\s*Secure/i); // plain-HTTP test server
  });

  it('refuses a username that is taken, whatever its case, with 409 username_taken', async () => {
    const username = uniqueName('dup');
    expect((await register(server, { username, password: PASSWORD })).status).toBe(201);
    for (const variant of [username, username.toUpperCase()]) {
      const res = await register(server, { username: variant, password: 'another password' });
      await expectProblem(res, 409, 'username_taken');
    }
  });

  it('gives exactly one of two concurrent registrations of the same name', async () => {
    const username = uniqueName('race');
    const results = await Promise.all([register(server, { username, password: PASSWORD }), register(server, { username: username.toUpperCase(), password: PASSWORD })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const loser = results.find((r) => r.status === 409)!;
    await expectProblem(loser, 409, 'username_taken');
  });

  const invalidBodies: Array<[string, unknown, string[]]> = [
    ['a short password', { username: 'shortpw', password: 'seven77' }, ['body.password']],
    ['a too long password', { username: 'longpw', password: 'x'.repeat(129) }, ['body.password']],
    ['a username with bad characters', { username: 'bad-name!', password: PASSWORD }, ['body.username']],
    ['a too short username', { username: 'ab', password: PASSWORD }, ['body.username']],
    ['a too long username', { username: 'u'.repeat(25), password: PASSWORD }, ['body.username']],
    ['an unknown extra field', { username: 'extrafield', password: PASSWORD, isAdmin: true }, ['body.isAdmin']],
    ['wrong types', { username: 42, password: ['x'] }, ['body.username', 'body.password']],
    ['missing fields', {}, ['body.username', 'body.password']],
    ['an empty display name', { username: 'emptydisplay', password: PASSWORD, displayName: '' }, ['body.displayName']],
    ['a blank display name', { username: 'blankdisplay', password: PASSWORD, displayName: '   ' }, ['body.displayName']],
    ['an array body', [], ['body']],
    ['a null body', null, ['body']],
  ];
  it.each(invalidBodies)('refuses %s with 400 validation_failed naming the field', async (_label, body, fields) => {
    const res = await register(server, body);
    const problem = await expectProblem(res, 400, 'validation_failed');
    expect([...new Set(problem.errors!.map((e) => e.field))].sort()).toEqual([...fields].sort());
    for (const error of problem.errors!) expect(error.message).toEqual(expect.any(String));
  });

  it('refuses a request with no body at all with 400 validation_failed', async () => {
    const res = await server.request('/api/auth/register', { method: 'POST' });
    const problem = await expectProblem(res, 400, 'validation_failed');
    expect(problem.errors!.map((e) => e.field)).toContain('body');
  });

  it('refuses an empty application/json body with 400 malformed_json', async () => {
    const res = await server.request('/api/auth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
    await expectProblem(res, 400, 'malformed_json');
  });

  it('refuses malformed JSON with 400 malformed_json', async () => {
    const res = await server.request('/api/auth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username": "x",' });
    await expectProblem(res, 400, 'malformed_json');
  });

  it.each(['application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x'])('refuses a %s body with 415 unsupported_media_type', async (type) => {
    const res = await server.request('/api/auth/register', { method: 'POST', headers: { 'content-type': type }, body: 'username=formuser&password=correct+horse' });
    await expectProblem(res, 415, 'unsupported_media_type');
  });

  it('creates no account when the request is refused', async () => {
    const username = uniqueName('none');
    await register(server, { username, password: 'short' });
    const res = await server.request(`/api/users/${username}`);
    await expectProblem(res, 404, 'not_found');
  });
});

describe('login', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await registerUser(server, uniqueName('login'));
  });

  it('signs in with the right password, case-insensitively on the username', async () => {
    for (const name of [user.username, user.username.toUpperCase()]) {
      const res = await login(server, name, PASSWORD);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const text = await res.text();
      expect(text).not.toMatch(/argon2|password/i);
      const body = JSON.parse(text) as TokenBody;
      expect(body.user.id).toBe(user.id);
      expect(refreshCookieOf(res).split(';')[0]).toBe(`tandem_refresh=${body.refreshToken}`);
      expect((await me(server, body.accessToken)).status).toBe(200);
    }
  });

  it('gives each login its own session and tokens', async () => {
    const a = await loginOk(server, user.username);
    const b = await loginOk(server, user.username);
    expect(a.refreshToken).not.toBe(b.refreshToken);
    expect(jwtPayload(a.accessToken).sid).not.toBe(jwtPayload(b.accessToken).sid);
  });

  it('answers a wrong password and an unknown user with the same 401 invalid_credentials', async () => {
    const wrong = await login(server, user.username, 'not the password');
    const wrongHeaders = { type: wrong.headers.get('content-type'), www: wrong.headers.get('www-authenticate') };
    const wrongBody = await expectProblem(wrong, 401, 'invalid_credentials');
    const unknown = await login(server, user.username.replace('login', 'ghost'), 'not the password');
    const unknownHeaders = { type: unknown.headers.get('content-type'), www: unknown.headers.get('www-authenticate') };
    const unknownBody = await expectProblem(unknown, 401, 'invalid_credentials');
    expect(unknownBody).toEqual(wrongBody);
    expect(unknownHeaders).toEqual(wrongHeaders);
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it('validates the login body', async () => {
    const res = await server.request('/api/auth/login', { method: 'POST', json: { username: user.username } });
    const problem = await expectProblem(res, 400, 'validation_failed');
    expect(problem.errors!.map((e) => e.field)).toEqual(['body.password']);
    const extra = await server.request('/api/auth/login', { method: 'POST', json: { username: user.username, password: PASSWORD, remember: true } });
    expect((await expectProblem(extra, 400, 'validation_failed')).errors!.map((e) => e.field)).toEqual(['body.remember']);
  });
});

describe('login rate limits', () => {
  let perIp: TestServer | undefined;
  let perAccount: TestServer | undefined;
  afterAll(async () => {
    await Promise.all([perIp?.close(), perAccount?.close()]);
  });

  it('limits attempts per IP: 429 login_rate_limited with Retry-After, even for the right password', async () => {
    perIp = await startServer({ env: { TANDEM_LOGIN_LIMIT_IP: '3' } });
    for (let i = 0; i < 3; i += 1) {
      await expectProblem(await login(perIp, `nobody${i}`, 'whatever1'), 401, 'invalid_credentials');
    }
    const limited = await login(perIp, 'nobody3', 'whatever1');
    // 3 attempts per 900 s window: one attempt comes back every 300 s.
    expect(limited.headers.get('retry-after')).toBe('300');
    await expectProblem(limited, 429, 'login_rate_limited');
    const again = await login(perIp, 'nobody0', 'whatever1');
    await expectProblem(again, 429, 'login_rate_limited');
  });

  it('limits failures per account: after 2 the right password is refused, other accounts still sign in', async () => {
    perAccount = await startServer({ env: { TANDEM_LOGIN_LIMIT_ACCOUNT: '2' } });
    const victim = await registerUser(perAccount, uniqueName('victim'));
    const other = await registerUser(perAccount, uniqueName('other'));
    // The right password before any failure is fine and does not count against the account.
    await loginOk(perAccount, victim.username);
    await expectProblem(await login(perAccount, victim.username, 'wrong password 1'), 401, 'invalid_credentials');
    // The account key is the normalised username: a change of case is the same account.
    await expectProblem(await login(perAccount, victim.username.toUpperCase(), 'wrong password 2'), 401, 'invalid_credentials');
    const refused = await login(perAccount, victim.username, PASSWORD);
    expect(refused.headers.get('retry-after')).toBe('450');
    await expectProblem(refused, 429, 'login_rate_limited');
    expect(refused.headers.getSetCookie()).toEqual([]);
    await loginOk(perAccount, other.username);
    // A session that already existed keeps working.
    expect((await me(perAccount, victim.accessToken)).status).toBe(200);
  });
});

describe('access token', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await registerUser(server, uniqueName('tok'));
  });

  it('opens GET /api/me', async () => {
    const res = await me(server, user.accessToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: user.id, username: user.username });
  });

  it('accepts the scheme name in any case', async () => {
    const res = await server.request('/api/me', { headers: { authorization: `bearer ${user.accessToken}` } });
    expect(res.status).toBe(200);
  });

  it('answers no Authorization header with 401 unauthenticated and WWW-Authenticate: Bearer', async () => {
    const res = await server.request('/api/me');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    await expectProblem(res, 401, 'unauthenticated');
  });

  it.each(['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'Token abc.def.ghi', 'Bearer "abc"'])('answers the malformed header %j with 401 token_invalid', async (authorization) => {
    const res = await server.request('/api/me', { headers: { authorization } });
    await expectTokenRefused(res, 'token_invalid');
  });

  it('refuses a token whose signature was tampered with', async () => {
    const [h, p, s] = user.accessToken.split('.') as [string, string, string];
    const bytes = Buffer.from(s, 'base64url');
    bytes[0] = bytes[0]! ^ 0xff;
    const res = await me(server, `${h}.${p}.${bytes.toString('base64url')}`);
    await expectTokenRefused(res, 'token_invalid');
  });

  it('refuses a token whose claims were changed under the original signature', async () => {
    const [h, , s] = user.accessToken.split('.') as [string, string, string];
    const payload = { ...jwtPayload(user.accessToken), sub: String(user.id + 1) };
    await expectTokenRefused(await me(server, `${h}.${b64(payload)}.${s}`), 'token_invalid');
  });

  it('refuses a token signed with another secret, even under the real key id', async () => {
    const { kid } = jwtHeader(user.accessToken) as { kid: string };
    const forged = await new SignJWT({ sid: jwtPayload(user.accessToken).sid as string })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setSubject(String(user.id))
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('an attacker secret that is long enough'));
    await expectTokenRefused(await me(server, forged), 'token_invalid');
  });

  it('refuses an unsigned (alg none) token', async () => {
    const { kid } = jwtHeader(user.accessToken) as { kid: string };
    const payload = jwtPayload(user.accessToken);
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, kid, typ: 'at+jwt' })}.${b64(payload)}.`;
      await expectTokenRefused(await server.request('/api/me', { headers: { authorization: `Bearer ${token}` } }), 'token_invalid');
    }
  });

  it('refuses a token minted by another server (another signing key)', async () => {
    const foreign = await registerUser(clocked, uniqueName('foreign'));
    await expectTokenRefused(await me(server, foreign.accessToken), 'token_invalid');
  });

  it('refuses a refresh token used as an access token', async () => {
    await expectTokenRefused(await me(server, user.refreshToken), 'token_invalid');
  });

  it('expires exactly TANDEM_ACCESS_TOKEN_TTL seconds after issue: 401 token_expired', async () => {
    now = CLOCK_START;
    const body = (await (await register(clocked, { username: uniqueName('exp'), password: PASSWORD })).json()) as TokenBody;
    expect(body.expiresIn).toBe(ACCESS_TTL_SECONDS);
    expect(body.expiresAt).toBe(CLOCK_START + ACCESS_TTL_SECONDS * 1000);
    now = CLOCK_START + ACCESS_TTL_SECONDS * 1000 - 1;
    expect((await me(clocked, body.accessToken)).status).toBe(200);
    now = CLOCK_START + ACCESS_TTL_SECONDS * 1000;
    await expectTokenRefused(await me(clocked, body.accessToken), 'token_expired');
    now = CLOCK_START + 3600_000;
    await expectTokenRefused(await me(clocked, body.accessToken), 'token_expired');
    // The refresh token outlives the access token and yields a fresh, working one.
    now = CLOCK_START + 30_000;
    const renewed = await refreshOk(clocked, body.refreshToken);
    expect(renewed.expiresAt).toBe(CLOCK_START + 30_000 + ACCESS_TTL_SECONDS * 1000);
    expect((await me(clocked, renewed.accessToken)).status).toBe(200);
    now = CLOCK_START;
  });
});

describe('refresh', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await registerUser(server, uniqueName('ref'));
  });

  it('rotates: a new refresh token and a working access token for the same session', async () => {
    const session = await loginOk(server, user.username);
    const res = await refresh(server, session.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const rotated = (await res.json()) as TokenBody;
    expect(rotated.refreshToken).not.toBe(session.refreshToken);
    expect(rotated.user).toEqual(session.user);
    expect(refreshCookieOf(res).split(';')[0]).toBe(`tandem_refresh=${rotated.refreshToken}`);
    expect(jwtPayload(rotated.accessToken).sid).toBe(jwtPayload(session.accessToken).sid);
    expect((await me(server, rotated.accessToken)).status).toBe(200);
    // Rotating again with the newest token keeps working.
    const third = await refreshOk(server, rotated.refreshToken);
    expect(third.refreshToken).not.toBe(rotated.refreshToken);
    expect((await me(server, third.accessToken)).status).toBe(200);
  });

  it('treats a reused refresh token as theft: 401 refresh_token_reused and the whole session is revoked', async () => {
    const session = await loginOk(server, user.username);
    const rotated = await refreshOk(server, session.refreshToken);
    expect((await me(server, rotated.accessToken)).status).toBe(200);

    await expectProblem(await refresh(server, session.refreshToken), 401, 'refresh_token_reused');
    await expectProblem(await refresh(server, rotated.refreshToken), 401, 'refresh_token_invalid');
    await expectTokenRefused(await me(server, rotated.accessToken), 'session_revoked');
    await expectTokenRefused(await me(server, session.accessToken), 'session_revoked');
    // Once revoked, the stolen token stays dead.
    await expectProblem(await refresh(server, session.refreshToken), 401, 'refresh_token_invalid');
  });

  it('only revokes the session the reused token belongs to', async () => {
    const victim = await loginOk(server, user.username);
    const other = await loginOk(server, user.username);
    await refreshOk(server, victim.refreshToken);
    await expectProblem(await refresh(server, victim.refreshToken), 401, 'refresh_token_reused');
    expect((await me(server, other.accessToken)).status).toBe(200);
    await refreshOk(server, other.refreshToken);
  });

  it('reads the refresh token from the tandem_refresh cookie', async () => {
    const res = await login(server, user.username, PASSWORD);
    const cookie = refreshCookieOf(res).split(';')[0]!;
    const viaCookie = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie } });
    expect(viaCookie.status).toBe(200);
    const rotated = (await viaCookie.json()) as TokenBody;
    expect(`tandem_refresh=${rotated.refreshToken}`).not.toBe(cookie);
    expect(refreshCookieOf(viaCookie).split(';')[0]).toBe(`tandem_refresh=${rotated.refreshToken}`);
    expect((await me(server, rotated.accessToken)).status).toBe(200);
    // The cookie is single-use like the body token.
    await expectProblem(await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie } }), 401, 'refresh_token_reused');
  });

  it('answers an unknown refresh token with 401 refresh_token_invalid', async () => {
    await expectProblem(await refresh(server, 'not-a-token-we-issued'), 401, 'refresh_token_invalid');
    await expectProblem(await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie: 'tandem_refresh=bogus' } }), 401, 'refresh_token_invalid');
  });

  it('answers a request with no refresh token with 401 refresh_token_invalid', async () => {
    await expectProblem(await server.request('/api/auth/refresh', { method: 'POST' }), 401, 'refresh_token_invalid');
    await expectProblem(await server.request('/api/auth/refresh', { method: 'POST', json: {} }), 401, 'refresh_token_invalid');
  });

  it('validates the refresh body', async () => {
    const res = await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: 12 } });
    expect((await expectProblem(res, 400, 'validation_failed')).errors!.map((e) => e.field)).toEqual(['body.refreshToken']);
  });

  it('lets exactly one of two concurrent refreshes with the same token succeed', async () => {
    const session = await loginOk(server, user.username);
    const results = await Promise.all([refresh(server, session.refreshToken), refresh(server, session.refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const loser = results.find((r) => r.status === 401)!;
    await expectProblem(loser, 401, 'refresh_token_reused');
  });

  it('refuses a refresh token after its TTL with 401 refresh_token_invalid', async () => {
    now = CLOCK_START;
    const body = (await (await register(clocked, { username: uniqueName('rexp'), password: PASSWORD })).json()) as TokenBody;
    expect(body.refreshExpiresAt).toBe(CLOCK_START + REFRESH_TTL_SECONDS * 1000);
    now = CLOCK_START + REFRESH_TTL_SECONDS * 1000;
    await expectProblem(await refresh(clocked, body.refreshToken), 401, 'refresh_token_invalid');
    now = CLOCK_START;
  });
});

describe('logout', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await registerUser(server, uniqueName('out'));
  });

  it('with the access token: 204, then the access and refresh tokens are dead, other sessions live', async () => {
    const session = await loginOk(server, user.username);
    const other = await loginOk(server, user.username);
    const res = await server.request('/api/auth/logout', { method: 'POST', token: session.accessToken });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const cleared = refreshCookieOf(res);
    expect(cleared).toMatch(/^tandem_refresh=;/);
    expect(cleared).toMatch(/;\s*Path=\/api\/auth(;|$)/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);

    await expectTokenRefused(await me(server, session.accessToken), 'session_revoked');
    await expectProblem(await refresh(server, session.refreshToken), 401, 'refresh_token_invalid');
    expect((await me(server, other.accessToken)).status).toBe(200);
    await refreshOk(server, other.refreshToken);
  });

  it('with the refresh token only (body or cookie): 204 and the session is revoked', async () => {
    const viaBody = await loginOk(server, user.username);
    const res = await server.request('/api/auth/logout', { method: 'POST', json: { refreshToken: viaBody.refreshToken } });
    expect(res.status).toBe(204);
    await expectTokenRefused(await me(server, viaBody.accessToken), 'session_revoked');
    await expectProblem(await refresh(server, viaBody.refreshToken), 401, 'refresh_token_invalid');

    const viaCookie = await loginOk(server, user.username);
    const cookieRes = await server.request('/api/auth/logout', { method: 'POST', headers: { cookie: `tandem_refresh=${viaCookie.refreshToken}` } });
    expect(cookieRes.status).toBe(204);
    await expectTokenRefused(await me(server, viaCookie.accessToken), 'session_revoked');
  });

  it('is idempotent for the same session', async () => {
    const session = await loginOk(server, user.username);
    expect((await server.request('/api/auth/logout', { method: 'POST', json: { refreshToken: session.refreshToken } })).status).toBe(204);
    expect((await server.request('/api/auth/logout', { method: 'POST', json: { refreshToken: session.refreshToken } })).status).toBe(204);
  });

  it('needs a credential: 401 unauthenticated without one, refresh_token_invalid for an unknown one, token_invalid for a forged one', async () => {
    await expectProblem(await server.request('/api/auth/logout', { method: 'POST' }), 401, 'unauthenticated');
    await expectProblem(await server.request('/api/auth/logout', { method: 'POST', json: { refreshToken: 'unknown-token' } }), 401, 'refresh_token_invalid');
    const [h, p] = user.accessToken.split('.');
    await expectProblem(await server.request('/api/auth/logout', { method: 'POST', token: `${h}.${p}.AAAA` }), 401, 'token_invalid');
    expect((await me(server, user.accessToken)).status).toBe(200);
  });

  it('with an expired access token falls back to the refresh token', async () => {
    now = CLOCK_START;
    const body = (await (await register(clocked, { username: uniqueName('oexp'), password: PASSWORD })).json()) as TokenBody;
    now = CLOCK_START + ACCESS_TTL_SECONDS * 1000;
    await expectProblem(await clocked.request('/api/auth/logout', { method: 'POST', token: body.accessToken }), 401, 'token_expired');
    const res = await clocked.request('/api/auth/logout', { method: 'POST', token: body.accessToken, json: { refreshToken: body.refreshToken } });
    expect(res.status).toBe(204);
    await expectProblem(await refresh(clocked, body.refreshToken), 401, 'refresh_token_invalid');
    now = CLOCK_START;
  });
});
