import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../src/apps/social/limits';
import { problemOf, registerUser, startServer, type TestServer } from './support/server';

/**
 * The server half of issue 11's rough edges: an unknown page answers the app's page with 404
 * (API paths keep problem+json); a session cookie only for clients that ask for one, with a
 * readable marker next to it so a signed-out page needs no refresh to know it.
 */

const INDEX = '<!doctype html><html><head><title>Tandem</title></head><body><div id="app"></div></body></html>';
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let webRoot: string;
let server: TestServer;

beforeAll(async () => {
  webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-rough-'));
  fs.mkdirSync(path.join(webRoot, 'assets'));
  fs.writeFileSync(path.join(webRoot, 'index.html'), INDEX);
  fs.writeFileSync(path.join(webRoot, 'assets', 'index-AbC123.js'), 'void 0;');
  server = await startServer({ webRoot });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(webRoot, { recursive: true, force: true });
});

describe('an unknown page', () => {
  it('answers a browser (Accept: text/html) with the app page and 404, not cached for long', async () => {
    for (const url of ['/nonexistent-page', '/posts/abc', '/a/b/c?x=1', '/messages/0']) {
      const res = await server.request(url, { headers: { accept: HTML } });
      expect(res.status, url).toBe(404);
      expect(res.headers.get('content-type'), url).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control'), url).toBe('no-cache');
      expect(res.headers.get('etag'), url).toBeNull();
      // The document's security headers (helmet's CSP with script-src 'self'), as on every page.
      expect(res.headers.get('content-security-policy'), url).toContain("script-src 'self'");
      expect(await res.text(), url).toBe(INDEX);
    }
    const head = await server.request('/nonexistent-page', { method: 'HEAD', headers: { accept: HTML } });
    expect(head.status).toBe(404);
    expect(head.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('keeps problem+json for the API, assets, other methods and clients that do not ask for HTML', async () => {
    const cases: Array<[string, RequestInit]> = [
      ['/api/nonexistent', { headers: { accept: HTML } }],
      ['/api/', { headers: { accept: HTML } }],
      ['/assets/missing-123.js', { headers: { accept: HTML } }],
      ['/nonexistent-page', { headers: { accept: 'application/json' } }],
      ['/nonexistent-page', {}],
      ['/nonexistent-page', { method: 'POST', headers: { accept: HTML, 'content-type': 'application/json' }, body: '{}' }],
      ['/nonexistent-page', { method: 'DELETE', headers: { accept: HTML } }],
    ];
    for (const [url, init] of cases) {
      const res = await server.request(url, init);
      const label = `${init.method ?? 'GET'} ${url} ${JSON.stringify(init.headers ?? {})}`;
      expect(res.status, label).toBe(404);
      expect(res.headers.get('content-type'), label).toMatch(/^application\/problem\+json/);
      expect((await problemOf(res)).code, label).toBe('not_found');
    }
  });

  it('leaves the known pages as they were (200 with an ETag)', async () => {
    const res = await server.request('/login', { headers: { accept: HTML } });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^"/);
  });
});

/** The Set-Cookie lines of an answer, by cookie name. */
function setCookies(res: Response): Map<string, string> {
  return new Map(res.headers.getSetCookie().map((line) => [line.split('=')[0]!, line]));
}

describe('the session cookies', () => {
  const PASSWORD = 'correct horse battery';
  const signIn = (username: string, headers: Record<string, string> = {}) =>
    server.request('/api/auth/login', { method: 'POST', json: { username, password: PASSWORD }, headers });

  async function account(): Promise<string> {
    const username = `rough${Math.random().toString(36).slice(2, 10)}`;
    const res = await server.request('/api/auth/register', { method: 'POST', json: { username, password: PASSWORD } });
    expect(res.status).toBe(201);
    // Register without the header: tokens in the body only, like login.
    expect(setCookies(res).size).toBe(0);
    return username;
  }

  it('are not set by a sign-in that does not ask for them (the API docs page, a script): tokens in the body only', async () => {
    const username = await account();
    const res = await signIn(username);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accessToken: string; refreshToken: string };
    expect(body.accessToken).toBeTruthy();
    expect(body.refreshToken).toBeTruthy();
    expect(res.headers.getSetCookie()).toEqual([]);
    // A body refresh without the header sets none either.
    const refreshed = await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: body.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers.getSetCookie()).toEqual([]);
  });

  it('are set with Tandem-Session: cookie: the httpOnly refresh cookie and a readable marker with the same expiry', async () => {
    const username = await account();
    const res = await signIn(username, { 'tandem-session': 'cookie' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { refreshToken: string };
    const cookies = setCookies(res);
    const refresh = cookies.get('tandem_refresh')!;
    const marker = cookies.get('tandem_session')!;
    expect(refresh.split(';')[0]).toBe(`tandem_refresh=${body.refreshToken}`);
    expect(refresh).toMatch(/;\s*HttpOnly/i);
    expect(refresh).toMatch(/;\s*Path=\/api\/auth(;|$)/);
    expect(marker.split(';')[0]).toBe('tandem_session=1');
    expect(marker).not.toMatch(/HttpOnly/i);
    expect(marker).toMatch(/;\s*Path=\/(;|$)/);
    expect(marker).toMatch(/;\s*SameSite=Strict/i);
    expect(/Expires=([^;]+)/.exec(marker)![1]).toBe(/Expires=([^;]+)/.exec(refresh)![1]);

    // A refresh by cookie (no header: a page from before) keeps both cookies going.
    const byCookie = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie: refresh.split(';')[0]! } });
    expect(byCookie.status).toBe(200);
    expect([...setCookies(byCookie).keys()].sort()).toEqual(['tandem_refresh', 'tandem_session']);
  });

  it('are cleared, marker included, by a refused refresh and by a logout', async () => {
    const username = await account();
    const first = await signIn(username, { 'tandem-session': 'cookie' });
    const cookie = setCookies(first).get('tandem_refresh')!.split(';')[0]!;
    const rotated = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie } });
    expect(rotated.status).toBe(200);
    // The old cookie again: refused (reuse), and the page is told to stop trying.
    const refused = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie, 'tandem-session': 'cookie' } });
    expect((await problemOf(refused)).code).toBe('refresh_token_reused');
    const cleared = setCookies(refused);
    expect(cleared.get('tandem_refresh')).toMatch(/^tandem_refresh=;.*Expires=Thu, 01 Jan 1970/);
    expect(cleared.get('tandem_session')).toMatch(/^tandem_session=;.*Path=\/(;|$)/);
    // Only the marker left (the refresh cookie expired first): refused, marker cleared.
    const orphan = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie: 'tandem_session=1' } });
    expect((await problemOf(orphan)).code).toBe('refresh_token_invalid');
    expect(setCookies(orphan).get('tandem_session')).toMatch(/^tandem_session=;/);
    // A body-token client's refusal touches no cookies.
    const bodyRefused = await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: 'bogus' } });
    expect(bodyRefused.status).toBe(401);
    expect(bodyRefused.headers.getSetCookie()).toEqual([]);

    const session = (await (await signIn(username, { 'tandem-session': 'cookie' })).json()) as { accessToken: string };
    const out = await server.request('/api/auth/logout', { method: 'POST', token: session.accessToken });
    expect(out.status).toBe(204);
    expect([...setCookies(out).keys()].sort()).toEqual(['tandem_refresh', 'tandem_session']);
    expect(setCookies(out).get('tandem_session')).toMatch(/^tandem_session=;/);
  });
});

describe('text limits and blank text', () => {
  type FieldProblem = { field: string; keyword?: string; limit?: number };
  const errorsOf = async (res: Response) => ((await problemOf(res)) as { code: string; errors?: FieldProblem[] });

  it('refuse a blank or too long post, comment or message with a field error naming the keyword and limit, and create nothing', async () => {
    const alice = await registerUser(server);
    const bob = await registerUser(server);
    const before = (await (await server.request('/api/posts?limit=100')).json()) as { items: unknown[] };
    for (const [body, keyword, limit] of [['   \n\t  ', 'pattern', undefined], ['x'.repeat(LIMITS.post + 1), 'maxLength', LIMITS.post], ['', 'minLength', 1]] as const) {
      const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body } });
      expect(res.status).toBe(400);
      const problem = await errorsOf(res);
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors).toContainEqual(expect.objectContaining({ field: 'body.body', keyword, ...(limit === undefined ? {} : { limit }) }));
    }
    // Exactly at the limit (counted in code points, as the UI counts): accepted.
    const atLimit = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: '😀'.repeat(LIMITS.post) } });
    expect(atLimit.status).toBe(201);
    const post = (await atLimit.json()) as { id: number };
    const after = (await (await server.request('/api/posts?limit=100')).json()) as { items: Array<{ id: number }> };
    expect(after.items.length).toBe(before.items.length + 1);
    expect(after.items[0]!.id).toBe(post.id);

    const comment = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'y'.repeat(LIMITS.comment + 1) } });
    expect((await errorsOf(comment)).errors).toContainEqual(expect.objectContaining({ field: 'body.body', keyword: 'maxLength', limit: LIMITS.comment }));
    const conversation = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members: [bob.username] } });
    expect(conversation.status).toBeLessThan(300);
    const { id } = (await conversation.json()) as { id: number };
    const message = await server.request(`/api/conversations/${id}/messages`, { method: 'POST', token: alice.accessToken, json: { body: 'z'.repeat(LIMITS.message + 1) } });
    expect((await errorsOf(message)).errors).toContainEqual(expect.objectContaining({ field: 'body.body', keyword: 'maxLength', limit: LIMITS.message }));
    const blank = await server.request(`/api/conversations/${id}/messages`, { method: 'POST', token: alice.accessToken, json: { body: '   ' } });
    expect((await errorsOf(blank)).errors).toContainEqual(expect.objectContaining({ field: 'body.body', keyword: 'pattern' }));
    const messages = (await (await server.request(`/api/conversations/${id}/messages`, { token: alice.accessToken })).json()) as { items: unknown[] };
    expect(messages.items).toEqual([]);
  });
});

describe('the web UI’s sentences for what the server refuses', () => {
  // The web UI's own wording (web/src/api.ts), fed with the real server's answers through the real client.
  it('turn every refusal a person can cause into a sentence without schema jargon', async () => {
    const { describeError, fieldMessages } = await import('../web/src/api');
    const { SocialClient } = await import('../src/apps/social/client');
    const api = new SocialClient({ baseUrl: server.url, retry: { maxAttempts: 1 } });
    const me = await registerUser(server);
    await api.login({ username: me.username, password: me.password });
    const refusal = async (call: () => Promise<unknown>) => {
      try {
        await call();
      } catch (error) {
        return { sentence: describeError(error), fields: fieldMessages(error) };
      }
      throw new Error('not refused');
    };
    const cases: Array<[() => Promise<unknown>, string, string]> = [
      [() => api.updateMe({ displayName: '   ' }), 'displayName', "Your display name can't be empty."],
      [() => api.updateMe({ displayName: '' }), 'displayName', "Your display name can't be empty."],
      [() => api.updateMe({ bio: 'b'.repeat(LIMITS.bio + 1) }), 'bio', 'Your bio is too long: at most 500 characters.'],
      [() => api.openConversation({ members: ['nobody_here'] }), 'members', 'There is no one called nobody_here.'],
      [() => api.openConversation({ members: [me.username] }), 'members', 'Name someone besides yourself.'],
      [() => api.createPost({ body: ' \n ' }), 'body', 'Write something first.'],
      [() => api.createPost({ body: 'x'.repeat(LIMITS.post + 1) }), 'body', 'The text is too long: at most 5,000 characters.'],
      [() => api.register({ username: 'no spaces', password: 'long enough 1' }), 'username', 'A username is 3 to 24 letters, digits or _ (no spaces).'],
      [() => api.register({ username: 'shortpw', password: 'short' }), 'password', 'The password needs at least 8 characters.'],
      [() => api.register({ username: me.username, password: 'long enough 1' }), 'username', 'That username is taken. Try another one.'],
    ];
    for (const [call, field, sentence] of cases) {
      const { sentence: said, fields } = await refusal(call);
      expect(fields, sentence).toContainEqual({ name: field, sentence });
      expect(said, sentence).toContain(sentence);
      expect(said).not.toMatch(/must|NOT|body\.|members\.\d|no user named/);
    }
  });
});

describe('the RestClient and the session cookies', () => {
  it('asks for the cookie session only in cookie mode (credentials: include); a body-token client works as before', async () => {
    const { RestClient } = await import('../src/client');
    const me = await registerUser(server);
    const seen: Array<{ path: string; session: string | null; cookies: string[] }> = [];
    const recording: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      seen.push({ path: new URL(String(input)).pathname, session: new Headers(init?.headers).get('tandem-session'), cookies: res.headers.getSetCookie().map((c) => c.split('=')[0]!) });
      return res;
    };
    const node = new RestClient({ baseUrl: server.url, fetch: recording });
    await node.login({ username: me.username, password: me.password });
    await node.refresh();
    expect(seen).toEqual([
      { path: '/api/auth/login', session: null, cookies: [] },
      { path: '/api/auth/refresh', session: null, cookies: [] },
    ]);
    seen.length = 0;
    const browserLike = new RestClient({ baseUrl: server.url, fetch: recording, credentials: 'include' });
    await browserLike.login({ username: me.username, password: me.password });
    expect(seen).toEqual([{ path: '/api/auth/login', session: 'cookie', cookies: ['tandem_refresh', 'tandem_session'] }]);
  });
});
