import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface PublicUser {
  id: number;
  username: string;
  displayName: string;
  bio: string;
  createdAt: string;
  version: number;
}

let server: TestServer;
let nameCounter = 0;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

/** A user of its own for each test, so tests never see each other's edits. */
function freshUser(): Promise<TestUser> {
  nameCounter += 1;
  return registerUser(server, `prof${process.pid % 10000}_${nameCounter}`);
}

async function expectProblem(res: Response, status: number, code: string) {
  const problem = await problemOf(res);
  expect({ status: res.status, code: problem.code, bodyStatus: problem.status }).toEqual({ status, code, bodyStatus: status });
  return problem;
}

function profile(username: string, headers: Record<string, string> = {}) {
  return server.request(`/api/users/${username}`, { headers });
}

function patchMe(user: TestUser, json: unknown, headers: Record<string, string> = {}) {
  return server.request('/api/me', { method: 'PATCH', token: user.accessToken, json, headers });
}

async function profileOk(username: string): Promise<{ etag: string; body: PublicUser }> {
  const res = await profile(username);
  expect(res.status).toBe(200);
  return { etag: res.headers.get('etag')!, body: (await res.json()) as PublicUser };
}

async function patchOk(user: TestUser, json: unknown, headers: Record<string, string> = {}): Promise<{ etag: string; body: PublicUser }> {
  const res = await patchMe(user, json, headers);
  expect(res.status).toBe(200);
  return { etag: res.headers.get('etag')!, body: (await res.json()) as PublicUser };
}

describe('GET /api/users/:username', () => {
  it('answers the public profile with a strong ETag and public caching', async () => {
    const user = await freshUser();
    const res = await profile(user.username);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
    const cacheControl = res.headers.get('cache-control')!;
    expect(cacheControl).toMatch(/(^|,\s*)public(,|$)/);
    expect(cacheControl).toMatch(/max-age=\d+/);
    expect(cacheControl).not.toMatch(/private|no-store/);
    const text = await res.text();
    expect(text).not.toMatch(/argon2|password/i);
    const body = JSON.parse(text) as PublicUser;
    expect(body).toEqual({ id: user.id, username: user.username, displayName: user.username, bio: '', avatarUrl: `/api/avatars/initials/${user.username[0]!.toUpperCase()}-${(user.id * 137) % 360}.svg`, createdAt: expect.any(String), version: 1 });
    expect(Object.keys(body).sort()).toEqual(['avatarUrl', 'bio', 'createdAt', 'displayName', 'id', 'username', 'version']);
    expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt);
  });

  it('finds the user whatever the case of the name, with the same ETag', async () => {
    const user = await freshUser();
    const lower = await profileOk(user.username);
    const upper = await profileOk(user.username.toUpperCase());
    expect(upper.body).toEqual(lower.body);
    expect(upper.etag).toBe(lower.etag);
  });

  it('gives each user a different ETag', async () => {
    const [a, b] = await Promise.all([freshUser(), freshUser()]);
    expect((await profileOk(a.username)).etag).not.toBe((await profileOk(b.username)).etag);
  });

  it('answers 304 with no body to a current If-None-Match, keeping ETag and Cache-Control', async () => {
    const user = await freshUser();
    const first = await profile(user.username);
    const tag = first.headers.get('etag')!;
    for (const ifNoneMatch of [tag, `W/${tag}`, `"stale", ${tag}`, '*']) {
      const cached = await profile(user.username, { 'if-none-match': ifNoneMatch });
      expect(cached.status).toBe(304);
      expect(await cached.text()).toBe('');
      expect(cached.headers.get('etag')).toBe(tag);
      expect(cached.headers.get('cache-control')).toBe(first.headers.get('cache-control'));
    }
    const stale = await profile(user.username, { 'if-none-match': '"user.0.v0"' });
    expect(stale.status).toBe(200);
  });

  it('answers an unknown user with 404 not_found problem+json', async () => {
    const res = await profile('nobody_by_this_name');
    const problem = await expectProblem(res, 404, 'not_found');
    expect(problem.title).toEqual(expect.any(String));
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('etag')).toBeNull();
  });
});

describe('GET /api/me', () => {
  it('answers your own profile with private caching that varies on Authorization', async () => {
    const user = await freshUser();
    const res = await server.request('/api/me', { token: user.accessToken });
    expect(res.status).toBe(200);
    const cacheControl = res.headers.get('cache-control')!;
    expect(cacheControl).toMatch(/private|no-cache/);
    expect(cacheControl).not.toMatch(/public/);
    const vary = (res.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase());
    expect(vary).toContain('authorization');
    expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(await res.json()).toEqual((await profileOk(user.username)).body);
  });

  it('answers 304 to a current If-None-Match', async () => {
    const user = await freshUser();
    const first = await server.request('/api/me', { token: user.accessToken });
    const tag = first.headers.get('etag')!;
    const cached = await server.request('/api/me', { token: user.accessToken, headers: { 'if-none-match': tag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('etag')).toBe(tag);
  });

  it('requires a signed-in user', async () => {
    const res = await server.request('/api/me');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    await expectProblem(res, 401, 'unauthenticated');
  });
});

describe('PATCH /api/me', () => {
  it('changes the display name and bio, bumps the version and the ETag', async () => {
    const user = await freshUser();
    const before = await profileOk(user.username);
    const res = await patchMe(user, { displayName: 'Ada Lovelace', bio: 'Analytical engines.' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const etag = res.headers.get('etag')!;
    const body = (await res.json()) as PublicUser;
    expect(body).toEqual({ ...before.body, displayName: 'Ada Lovelace', bio: 'Analytical engines.', version: 2, avatarUrl: expect.stringMatching(/^\/api\/avatars\/initials\/AL-/) });
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(etag).not.toBe(before.etag);

    const after = await profileOk(user.username);
    expect(after.body).toEqual(body);
    expect(after.etag).toBe(etag);
    const me = await server.request('/api/me', { token: user.accessToken });
    expect(me.headers.get('etag')).toBe(etag);
    expect(await me.json()).toEqual(body);
  });

  it('changes only the fields sent', async () => {
    const user = await freshUser();
    await patchOk(user, { displayName: 'Grace', bio: 'COBOL' });
    const bioOnly = await patchOk(user, { bio: 'Compilers' });
    expect(bioOnly.body).toMatchObject({ displayName: 'Grace', bio: 'Compilers', version: 3 });
    const nameOnly = await patchOk(user, { displayName: 'Grace Hopper' });
    expect(nameOnly.body).toMatchObject({ displayName: 'Grace Hopper', bio: 'Compilers', version: 4 });
    const cleared = await patchOk(user, { bio: '' });
    expect(cleared.body).toMatchObject({ displayName: 'Grace Hopper', bio: '', version: 5 });
  });

  it('makes the old public ETag stale: If-None-Match with it answers 200 with the new ETag', async () => {
    const user = await freshUser();
    const before = await profileOk(user.username);
    const patched = await patchOk(user, { bio: 'new bio' });
    const res = await profile(user.username, { 'if-none-match': before.etag });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(patched.etag);
    expect(((await res.json()) as PublicUser).bio).toBe('new bio');
  });

  it('keeps version and ETag when the PATCH changes nothing', async () => {
    const user = await freshUser();
    const changed = await patchOk(user, { displayName: 'Same Name', bio: 'same bio' });
    const noop = await patchOk(user, { displayName: 'Same Name', bio: 'same bio' });
    expect(noop.body).toEqual(changed.body);
    expect(noop.etag).toBe(changed.etag);
    const partialNoop = await patchOk(user, { bio: 'same bio' });
    expect(partialNoop.etag).toBe(changed.etag);
    const pub = await profile(user.username, { 'if-none-match': changed.etag });
    expect(pub.status).toBe(304);
  });

  it('refuses a stale If-Match with 412 precondition_failed and changes nothing', async () => {
    const user = await freshUser();
    const original = await profileOk(user.username);
    const current = await patchOk(user, { bio: 'second' }, { 'if-match': original.etag });
    const stale = await patchMe(user, { bio: 'third' }, { 'if-match': original.etag });
    expect(stale.headers.get('etag')).toBe(current.etag);
    const problem = await expectProblem(stale, 412, 'precondition_failed');
    expect(problem.detail).toContain(current.etag);
    const now = await profileOk(user.username);
    expect(now.body).toEqual(current.body);
    expect(now.etag).toBe(current.etag);
  });

  it('compares If-Match strongly: a weak tag never matches, * and a tag in a list do', async () => {
    const user = await freshUser();
    const { etag } = await profileOk(user.username);
    await expectProblem(await patchMe(user, { bio: 'weak' }, { 'if-match': `W/${etag}` }), 412, 'precondition_failed');
    expect((await profileOk(user.username)).body.version).toBe(1);
    const listed = await patchOk(user, { bio: 'listed' }, { 'if-match': `"other", ${etag}` });
    expect(listed.body.version).toBe(2);
    const star = await patchOk(user, { bio: 'star' }, { 'if-match': '*' });
    expect(star.body.version).toBe(3);
  });

  it('refuses an empty body {} with 400 validation_failed', async () => {
    const user = await freshUser();
    const problem = await expectProblem(await patchMe(user, {}), 400, 'validation_failed');
    expect(problem.errors!.length).toBeGreaterThan(0);
    expect(problem.errors!.every((e) => e.field.startsWith('body'))).toBe(true);
    expect((await profileOk(user.username)).body.version).toBe(1);
  });

  const invalid: Array<[string, unknown, string]> = [
    ['a bio over 500 characters', { bio: 'b'.repeat(501) }, 'body.bio'],
    ['a bio that is not a string', { bio: 42 }, 'body.bio'],
    ['an empty display name', { displayName: '' }, 'body.displayName'],
    ['a blank display name', { displayName: '  \t ' }, 'body.displayName'],
    ['a display name over 50 characters', { displayName: 'd'.repeat(51) }, 'body.displayName'],
    ['a null display name', { displayName: null }, 'body.displayName'],
    ['an unknown field', { bio: 'ok', username: 'renamed' }, 'body.username'],
  ];
  it.each(invalid)('refuses %s with 400 naming the field, changing nothing', async (_label, body, field) => {
    const user = await freshUser();
    const problem = await expectProblem(await patchMe(user, body), 400, 'validation_failed');
    expect([...new Set(problem.errors!.map((e) => e.field))]).toEqual([field]);
    const now = await profileOk(user.username);
    expect(now.body).toMatchObject({ username: user.username, displayName: user.username, bio: '', version: 1 });
  });

  it('accepts a bio of exactly 500 characters and a display name of exactly 50', async () => {
    const user = await freshUser();
    const { body } = await patchOk(user, { bio: 'b'.repeat(500), displayName: 'd'.repeat(50) });
    expect(body.bio).toHaveLength(500);
    expect(body.displayName).toHaveLength(50);
  });

  it('leaves other users alone', async () => {
    const [a, b] = await Promise.all([freshUser(), freshUser()]);
    const bBefore = await profileOk(b.username);
    await patchOk(a, { bio: 'only mine' });
    const bAfter = await profileOk(b.username);
    expect(bAfter).toEqual(bBefore);
  });

  it('requires a signed-in user and a JSON body', async () => {
    const user = await freshUser();
    await expectProblem(await server.request('/api/me', { method: 'PATCH', json: { bio: 'anon' } }), 401, 'unauthenticated');
    const form = await server.request('/api/me', { method: 'PATCH', token: user.accessToken, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'bio=x' });
    await expectProblem(form, 415, 'unsupported_media_type');
    const broken = await server.request('/api/me', { method: 'PATCH', token: user.accessToken, headers: { 'content-type': 'application/json' }, body: '{"bio":' });
    await expectProblem(broken, 400, 'malformed_json');
    expect((await profileOk(user.username)).body.version).toBe(1);
  });

  it('stops working once the session is logged out', async () => {
    const user = await freshUser();
    expect((await server.request('/api/auth/logout', { method: 'POST', token: user.accessToken })).status).toBe(204);
    const res = await patchMe(user, { bio: 'after logout' });
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    await expectProblem(res, 401, 'session_revoked');
    expect((await profileOk(user.username)).body.bio).toBe('');
  });
});

describe('private answers behind CORS', () => {
  it('keep Vary: Origin from CORS and add Authorization', async () => {
    const corsServer = await startServer({ env: { TANDEM_CORS_ORIGINS: 'https://app.example.com' } });
    try {
      const user = await registerUser(corsServer);
      const res = await corsServer.request('/api/me', { token: user.accessToken, headers: { origin: 'https://app.example.com' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      const vary = (res.headers.get('vary') ?? '').split(',').map((f) => f.trim().toLowerCase());
      expect(vary).toContain('origin');
      expect(vary).toContain('authorization');
    } finally {
      await corsServer.close();
    }
  });
});
