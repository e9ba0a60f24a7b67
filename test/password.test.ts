import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket } from './support/realtime';
import { problemOf, registerUser, startServer, testEnv, type TestServer, type TestUser } from './support/server';

let server: TestServer;

beforeAll(async () => {
  // Three failures of one account from one address lock that address out of it.
  server = await startServer({ env: testEnv({ TANDEM_LOGIN_LIMIT_ACCOUNT: '3' }) });
});
afterAll(() => server.close());

interface Tokens { accessToken: string; refreshToken: string }

async function login(username: string, password: string): Promise<Response> {
  return server.request('/api/auth/login', { method: 'POST', json: { username, password } });
}

async function signIn(user: TestUser, password = user.password): Promise<Tokens> {
  const res = await login(user.username, password);
  expect(res.status).toBe(200);
  return (await res.json()) as Tokens;
}

function changePassword(token: string, json: unknown): Promise<Response> {
  return server.request('/api/auth/password', { method: 'POST', token, json });
}

describe('POST /api/auth/password', () => {
  it('changes the password, ends every other session at once (tokens refused, sockets closed with 4009) and keeps this one', async () => {
    const user = await registerUser(server);
    const other = await signIn(user); // "the laptop"
    const otherSocket = await TestSocket.connect(server, other.accessToken);
    const ownSocket = await TestSocket.connect(server, user.accessToken);
    try {
      const res = await changePassword(user.accessToken, { currentPassword: user.password, newPassword: 'a brand new secret' });
      expect(res.status).toBe(204);
      expect(res.headers.get('cache-control')).toBe('no-store');

      expect((await otherSocket.whenClosed(5_000)).code).toBe(4009);
      const refused = await server.request('/api/me', { token: other.accessToken });
      expect(refused.status).toBe(401);
      expect((await problemOf(refused)).code).toBe('session_revoked');
      const refresh = await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: other.refreshToken } });
      expect(refresh.status).toBe(401);

      // This session goes on: its token, its socket and its refresh token.
      expect((await server.request('/api/me', { token: user.accessToken })).status).toBe(200);
      expect((await ownSocket.request({ t: 'ping' })).t).toBe('pong');
      expect(ownSocket.closed).toBeUndefined();
      expect((await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: user.refreshToken } })).status).toBe(200);

      expect((await login(user.username, user.password)).status).toBe(401);
      expect((await login(user.username, 'a brand new secret')).status).toBe(200);
    } finally {
      otherSocket.close();
      ownSocket.close();
    }
  });

  it('a wrong current password is 403 current_password_wrong, changes nothing and ends no session', async () => {
    const user = await registerUser(server);
    const other = await signIn(user);
    const res = await changePassword(user.accessToken, { currentPassword: 'not my password', newPassword: 'a brand new secret' });
    expect(res.status).toBe(403);
    const problem = await problemOf(res);
    expect(problem.code).toBe('current_password_wrong');
    expect(problem.errors?.[0]?.field).toBe('body.currentPassword');
    expect((await server.request('/api/me', { token: other.accessToken })).status).toBe(200);
    expect((await login(user.username, user.password)).status).toBe(200);
  });

  it('guessing the current password with a stolen token is locked out like guessing a login', async () => {
    const user = await registerUser(server);
    for (let i = 0; i < 3; i++) {
      expect((await changePassword(user.accessToken, { currentPassword: `guess ${i}`, newPassword: 'a brand new secret' })).status).toBe(403);
    }
    const locked = await changePassword(user.accessToken, { currentPassword: user.password, newPassword: 'a brand new secret' });
    expect(locked.status).toBe(429);
    expect((await problemOf(locked)).code).toBe('login_rate_limited');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right password is refused from this address while locked; nothing changed.
    expect((await login(user.username, user.password)).status).toBe(429);
  });

  it('refuses bad input and strangers, changing nothing', async () => {
    const user = await registerUser(server);
    const cases: Array<[unknown, number, string]> = [
      [{ currentPassword: user.password, newPassword: 'short' }, 400, 'validation_failed'],
      [{ currentPassword: user.password, newPassword: 'x'.repeat(129) }, 400, 'validation_failed'],
      [{ currentPassword: user.password, newPassword: user.password }, 400, 'validation_failed'],
      [{ currentPassword: user.password }, 400, 'validation_failed'],
      [{ currentPassword: user.password, newPassword: 12345678 }, 400, 'validation_failed'],
      [{ currentPassword: user.password, newPassword: 'a brand new secret', admin: true }, 400, 'validation_failed'],
      [{ currentPassword: '', newPassword: 'a brand new secret' }, 400, 'validation_failed'],
    ];
    for (const [json, status, code] of cases) {
      const res = await changePassword(user.accessToken, json);
      expect(res.status, JSON.stringify(json)).toBe(status);
      expect((await problemOf(res)).code).toBe(code);
    }
    const anonymous = await server.request('/api/auth/password', { method: 'POST', json: { currentPassword: user.password, newPassword: 'a brand new secret' } });
    expect(anonymous.status).toBe(401);
    const forged = await changePassword('not.a.token', { currentPassword: user.password, newPassword: 'a brand new secret' });
    expect(forged.status).toBe(401);
    expect((await login(user.username, user.password)).status).toBe(200);
  });
});
