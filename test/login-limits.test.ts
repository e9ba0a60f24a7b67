import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginFrom as login } from './support/http';
import { LoginGuard } from '../src/server/auth/login-guard';
import { registerUser, startServer, type TestServer } from './support/server';
import { singleNode } from './support/target';

/**
 * Login limits lock out an attacker, not the account's owner (OWASP): failures are counted per
 * account *and* address. The attacker's requests come from 127.0.0.2, the owner's from 127.0.0.1
 * (two real source addresses on the loopback interface).
 */

const PASSWORD = 'correct horse battery';
let now = 1_750_000_000_000;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ env: { TANDEM_LOGIN_LIMIT_ACCOUNT: '5', TANDEM_LOGIN_WINDOW: '900' }, clock: () => now });
});
afterAll(() => server?.close());

const loginFrom = (localAddress: string, username: string, password: string) => login(server.url, localAddress, username, password);

const ATTACKER = '127.0.0.2';
const OWNER = '127.0.0.1';

describe('login limits per account and address (HTTP)', () => {
  it('five wrong passwords from one address lock that address out of the account, even with the right password', async () => {
    const victim = await registerUser(server);
    for (let i = 0; i < 5; i += 1) expect((await loginFrom(ATTACKER, victim.username, `wrong ${i}`)).code).toBe('invalid_credentials');
    const locked = await loginFrom(ATTACKER, victim.username, PASSWORD);
    expect(locked).toEqual({ status: 429, code: 'login_rate_limited', retryAfter: '180' });
  });

  it('the owner still signs in from another address while the attacker is locked out', async () => {
    const victim = await registerUser(server);
    for (let i = 0; i < 5; i += 1) await loginFrom(ATTACKER, victim.username, `wrong ${i}`);
    expect((await loginFrom(ATTACKER, victim.username, PASSWORD)).status).toBe(429);
    expect((await loginFrom(OWNER, victim.username, PASSWORD)).status).toBe(200);
    // The owner's success clears nothing for the attacker's address.
    expect((await loginFrom(ATTACKER, victim.username, PASSWORD)).status).toBe(429);
  });

  it('guesses sent all at once cannot race past the limit while the first ones are being verified', async () => {
    const victim = await registerUser(server);
    const answers = await Promise.all([
      ...Array.from({ length: 19 }, (_, i) => loginFrom(ATTACKER, victim.username, `concurrent ${i}`)),
      loginFrom(ATTACKER, victim.username, PASSWORD),
    ]);
    const verified = answers.filter((a) => a.status !== 429);
    expect(verified.length).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 429).every((a) => a.code === 'login_rate_limited' && a.retryAfter !== undefined)).toBe(true);
    // Whatever got through, the owner elsewhere is unaffected.
    expect((await loginFrom(OWNER, victim.username, PASSWORD)).status).toBe(200);
  });

  singleNode('moves the server’s injected clock; the cluster’s login guard counts time on Redis’ clock').it('each further failure after a lock doubles it, up to the window', async () => {
    const victim = await registerUser(server);
    for (let i = 0; i < 5; i += 1) await loginFrom(ATTACKER, victim.username, `wrong ${i}`);
    const waits: string[] = [];
    for (let round = 0; round < 4; round += 1) {
      const locked = await loginFrom(ATTACKER, victim.username, 'still guessing');
      waits.push(locked.retryAfter ?? '');
      now += Number(locked.retryAfter) * 1000;
      expect((await loginFrom(ATTACKER, victim.username, `guess ${round}`)).code).toBe('invalid_credentials');
    }
    expect(waits).toEqual(['180', '360', '720', '900']);
  });
});

describe('LoginGuard (unit, injected clock)', () => {
  const fail = (guard: LoginGuard, account: string, ip: string) => {
    const started = guard.begin(account, ip);
    if ('attempt' in started) started.attempt.failed();
  };
  const lock = (guard: LoginGuard, account: string, ip: string) => {
    const started = guard.begin(account, ip);
    if ('refusal' in started) return started.refusal;
    started.attempt.abandoned();
    return undefined;
  };

  it('forgets a pair after a quiet window, and a success starts it over', () => {
    let clock = 0;
    const guard = new LoginGuard({ attemptsPerIp: 1000, failuresPerAccount: 3, windowSeconds: 60, clock: () => clock });
    for (let i = 0; i < 3; i += 1) fail(guard, 'ann', 'ip1');
    expect(lock(guard, 'ann', 'ip1')).toEqual({ retryAfterSeconds: 20 });
    expect(lock(guard, 'ann', 'ip2')).toBeUndefined();
    expect(lock(guard, 'bob', 'ip1')).toBeUndefined();
    clock += 20_000 + 60_000;
    expect(lock(guard, 'ann', 'ip1')).toBeUndefined();
    fail(guard, 'ann', 'ip1');
    fail(guard, 'ann', 'ip1');
    const right = guard.begin('ann', 'ip1');
    if ('attempt' in right) right.attempt.succeeded();
    fail(guard, 'ann', 'ip1');
    fail(guard, 'ann', 'ip1');
    expect(lock(guard, 'ann', 'ip1')).toBeUndefined();
  });

  it('counts checks under way as failures: no more than the limit can be in flight at once', () => {
    const guard = new LoginGuard({ attemptsPerIp: 1000, failuresPerAccount: 3, windowSeconds: 60, clock: () => 0 });
    const started = Array.from({ length: 5 }, () => guard.begin('ann', 'ip'));
    expect(started.filter((s) => 'attempt' in s)).toHaveLength(3);
    expect(started.filter((s) => 'refusal' in s)).toHaveLength(2);
    // One of them turns out right: the slot frees, the others still count.
    const [first] = started;
    if (first !== undefined && 'attempt' in first) first.attempt.succeeded();
    expect('attempt' in guard.begin('ann', 'ip')).toBe(true);
  });

  it('holds at most maxPairs pairs however many an attacker makes up', () => {
    const guard = new LoginGuard({ attemptsPerIp: 1000, failuresPerAccount: 1, windowSeconds: 60, maxPairs: 100, clock: () => 0 });
    for (let i = 0; i < 1000; i += 1) fail(guard, `user${i}`, 'ip');
    expect(lock(guard, 'user999', 'ip')).toBeDefined();
    expect(lock(guard, 'user0', 'ip')).toBeUndefined();
  });
});
