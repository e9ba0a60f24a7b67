import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestSocket } from '../support/realtime';
import type { TestServer, TestUser } from '../support/server';
import { sleep, until } from '../support/wait';
import { expectErr, Resources, users } from './support';

const res = new Resources();
afterEach(() => res.closeAll());

async function pingPong(socket: TestSocket, id: number): Promise<void> {
  const pong = socket.next((f) => f.t === 'pong' && f.id === id, 2_000);
  socket.sendRaw(JSON.stringify({ t: 'ping', id }));
  await pong;
}

async function login(server: TestServer, user: TestUser): Promise<{ accessToken: string; refreshToken: string }> {
  const answer = await server.request('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } });
  expect(answer.status).toBe(200);
  return (await answer.json()) as { accessToken: string; refreshToken: string };
}

async function refreshTokens(server: TestServer, refreshToken: string): Promise<{ accessToken: string; refreshToken: string; expiresAt: number }> {
  const answer = await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken } });
  expect(answer.status).toBe(200);
  return (await answer.json()) as { accessToken: string; refreshToken: string; expiresAt: number };
}

describe('the auth frame', () => {
  it('closes a connection that does not authenticate within authTimeoutMs: err auth_timeout, then 4502', async () => {
    let skewMs = 0;
    const server = await res.server({ realtimeLimits: { authTimeoutMs: 200 }, realtimeTickMs: 20, clock: () => Date.now() + skewMs });
    const [alice] = (await users(server, 1)) as [TestUser];
    const started = Date.now();
    const silent = await res.open(server);
    const prompt = await res.connect(server, alice.accessToken);
    const closed = await silent.whenClosed(3_000);
    const elapsed = Date.now() - started;
    expect(closed.code).toBe(4502);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_500);
    expect(silent.frames).toStrictEqual([{ t: 'err', c: 'auth_timeout', m: expect.any(String) }]);
    // Pings do not count as authenticating; the authenticated socket is untouched.
    // Its own auth deadline passes on the server's clock; a real wait of a few 20 ms ticks lets the gateway act on it.
    skewMs += 300;
    await sleep(100);
    expect(prompt.closed).toBeUndefined();
    await pingPong(prompt, 1);
  });

  it('closes with 4001 on an invalid or forged token', async () => {
    const server = await res.server();
    const [alice] = (await users(server, 1)) as [TestUser];
    const [header, payload, signature] = alice.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: '999' })).toString('base64url')}.${signature}`;
    const kid = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }).kid;
    const forged = await new SignJWT({ sid: claims.sid })
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .setSubject(String(alice.id))
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode('not the server secret, but long enough'));
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    for (const token of ['garbage', tampered, forged, unsigned]) {
      const socket = await res.open(server);
      expectErr(await socket.request({ t: 'auth', tok: token }), 'token_invalid', 1);
      const closed = await socket.whenClosed();
      expect(closed).toEqual({ code: 4001, reason: 'token_invalid' });
    }
    await until(() => server.social.gateway.stats().connections === 0, 'refused sockets freed', 3_000);
  });
});

describe('token lifetime on a connection (injected clock)', () => {
  const start = Date.parse('2030-01-01T00:00:00Z');
  let now = start;
  const clock = () => now;

  async function clockServer(): Promise<TestServer> {
    now = start;
    return res.server({
      clock,
      env: { TANDEM_ACCESS_TOKEN_TTL: '60' },
      realtimeLimits: { expiryWarningSeconds: 30, expiredGraceMs: 1_000 },
      realtimeTickMs: 20,
    });
  }

  it('refuses an already expired token at auth with token_expired and close 4501', async () => {
    const server = await clockServer();
    const [alice] = (await users(server, 1)) as [TestUser];
    now += 61_000;
    const socket = await res.open(server);
    expectErr(await socket.request({ t: 'auth', tok: alice.accessToken }), 'token_expired', 1);
    expect((await socket.whenClosed()).code).toBe(4501);
  });

  it('warns with exp, refuses requests after expiry, accepts a refresh, and closes with 4501 past the grace', async () => {
    const server = await clockServer();
    const [alice] = (await users(server, 1)) as [TestUser];
    const socket = await res.connect(server, alice.accessToken);
    const firstExp = (socket.frames[0]!.d as { exp: number }).exp;
    expect(firstExp).toBe(start / 1000 + 60);

    // Real waits of a few 20 ms ticks: the server must really not have warned (or closed) meanwhile.
    await sleep(100);
    expect(socket.frames.filter((f) => f.t === 'exp')).toEqual([]);
    const warned = socket.next((f) => f.t === 'exp');
    now = start + 31_000;
    expect(await warned).toStrictEqual({ t: 'exp', in: 29 });
    await sleep(100);
    expect(socket.frames.filter((f) => f.t === 'exp')).toHaveLength(1);

    // Expired, within the grace: requests are refused, ping still works, the socket stays.
    now = start + 60_000;
    expectErr(await socket.request({ t: 'sub', ch: 'feed' }), 'token_expired', 2);
    expectErr(await socket.request({ t: 'unsub', ch: 'feed' }), 'token_expired', 3);
    await pingPong(socket, 50);
    expect(socket.closed).toBeUndefined();

    // REST issues tokens by the same (injected) clock.
    const renewed = await refreshTokens(server, alice.refreshToken);
    expect(renewed.expiresAt).toBe(now + 60_000);
    expect(await socket.request({ t: 'refresh', tok: renewed.accessToken })).toStrictEqual({ t: 'ack', id: 4, d: { exp: (now + 60_000) / 1000 } });
    expect((await socket.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');

    // The new token gets its own warning.
    const again = socket.next((f) => f.t === 'exp');
    now = start + 100_000;
    expect(await again).toStrictEqual({ t: 'exp', in: 20 });

    // Without another refresh: expired at +120 s, closed once the 1 s grace is over.
    now = start + 120_500;
    await sleep(100);
    expect(socket.closed).toBeUndefined();
    const closing = socket.whenClosed();
    now = start + 121_000;
    const closed = await closing;
    expect(closed).toEqual({ code: 4501, reason: 'token_expired' });
    expect(socket.frames.at(-1)).toStrictEqual({ t: 'err', c: 'token_expired', m: expect.any(String) });
  });

  it('refuses a refresh with another user\'s token (forbidden), an invalid or an expired one, keeping the connection', async () => {
    const server = await clockServer();
    const [alice, bob] = (await users(server, 2)) as [TestUser, TestUser];
    const stale = alice.accessToken;
    now = start + 61_000;
    const fresh = await refreshTokens(server, alice.refreshToken);
    const socket = await res.connect(server, fresh.accessToken);
    expectErr(await socket.request({ t: 'refresh', tok: (await refreshTokens(server, bob.refreshToken)).accessToken }), 'forbidden', 2);
    expectErr(await socket.request({ t: 'refresh', tok: 'garbage' }), 'token_invalid', 3);
    expectErr(await socket.request({ t: 'refresh', tok: stale }), 'token_expired', 4);
    expect((await socket.request({ t: 'sub', ch: `user:${alice.id}` })).t).toBe('ack');
    expect(socket.closed).toBeUndefined();
  });

  it('keeps the message budget when the clock steps back (it refills nothing, it drains nothing)', async () => {
    const server = await clockServer();
    const [alice] = (await users(server, 1)) as [TestUser];
    const socket = await res.connect(server, alice.accessToken);
    now = start - 120_000;
    await pingPong(socket, 1);
    await pingPong(socket, 2);
    expect(socket.frames.filter((f) => f.t === 'err')).toEqual([]);
    now = start;
  });
});

describe('logout', () => {
  it('closes every socket of the session with 4009; another session of the same user stays', async () => {
    const server = await res.server();
    const [alice] = (await users(server, 1)) as [TestUser];
    const other = await login(server, alice);
    const first = await res.connect(server, alice.accessToken);
    const second = await res.connect(server, alice.accessToken);
    const survivor = await res.connect(server, other.accessToken);
    expect(server.social.gateway.stats()).toMatchObject({ connections: 3, users: 1, sessions: 2 });

    const logout = await server.request('/api/auth/logout', { method: 'POST', token: alice.accessToken, json: {} });
    expect(logout.status).toBe(204);
    expect(await first.whenClosed(3_000)).toEqual({ code: 4009, reason: 'session_revoked' });
    expect(await second.whenClosed(3_000)).toEqual({ code: 4009, reason: 'session_revoked' });
    await pingPong(survivor, 1);
    expect(survivor.closed).toBeUndefined();
    await until(() => server.social.gateway.stats().sessions === 1, 'revoked session forgotten', 3_000);

    // The revoked session's token no longer opens a connection.
    const late = await res.open(server);
    expectErr(await late.request({ t: 'auth', tok: alice.accessToken }), 'session_revoked', 1);
    expect((await late.whenClosed()).code).toBe(4009);
  });

  it('follows a refresh into the new session: the old session\'s logout no longer closes the socket', async () => {
    const server = await res.server();
    const [alice] = (await users(server, 1)) as [TestUser];
    const other = await login(server, alice);
    const socket = await res.connect(server, alice.accessToken);
    expect((await socket.request({ t: 'refresh', tok: other.accessToken })).t).toBe('ack');
    expect((await server.request('/api/auth/logout', { method: 'POST', token: alice.accessToken, json: {} })).status).toBe(204);
    // The barrier: a logout closes its sockets before it answers, so a wrong close would beat this pong.
    await pingPong(socket, 1);
    expect(socket.closed).toBeUndefined();
    expect((await server.request('/api/auth/logout', { method: 'POST', token: other.accessToken, json: {} })).status).toBe(204);
    expect((await socket.whenClosed(3_000)).code).toBe(4009);
  });
});
