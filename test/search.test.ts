import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocialClient } from '../src/apps/social/client';
import { problemOf, startServer, type TestServer, type TestUser } from './support/server';

/**
 * GET /api/users?q= and GET /api/search/posts?q=: results, hostile queries, limits, caching.
 * (The store-level contract, on both stores, is test/search-store.test.ts.)
 */

let server: TestServer;
/** A run-unique lower-case prefix, so this file's people and words meet nobody else's. */
const tag = `s${randomBytes(4).toString('hex').replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]!)}`;
let alice: TestUser;
let bob: TestUser;

async function register(username: string, displayName: string): Promise<TestUser> {
  const password = 'correct horse battery';
  const res = await server.request('/api/auth/register', { method: 'POST', json: { username, password, displayName } });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { accessToken: string; refreshToken: string; user: { id: number; username: string } };
  return { id: body.user.id, username: body.user.username, password, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

async function post(user: TestUser, body: string): Promise<{ id: number; etag: string }> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return { id: ((await res.json()) as { id: number }).id, etag: res.headers.get('etag')! };
}

const people = (q: string, extra = '') => server.request(`/api/users?q=${encodeURIComponent(q)}${extra}`);
const names = async (res: Response) => ((await res.json()) as { items: Array<{ username: string }> }).items.map((u) => u.username);
const searchPosts = (q: string, extra = '') => server.request(`/api/search/posts?q=${encodeURIComponent(q)}${extra}`);
const ids = async (res: Response) => ((await res.json()) as { items: Array<{ id: number }> }).items.map((p) => p.id);

beforeAll(async () => {
  server = await startServer();
  alice = await register(`${tag}_alice`, 'Alice Liddell');
  bob = await register(`${tag}_bob`, `${tag} Bob`);
  await register(`${tag}_al`, 'Al');
  await register(`${tag}_a_b`, '100% Ab');
  await register(`${tag}_ab`, 'Plain');
});
afterAll(() => server.close());

describe('GET /api/users?q= (people)', () => {
  it('matches the start of usernames and display names, the exact username first, as UserRefs', async () => {
    const res = await people(`${tag}_al`);
    expect(res.status).toBe(200);
    expect(await names(res)).toEqual([`${tag}_al`, `${tag}_alice`]);
    expect(await names(await people(tag.toUpperCase()))).toEqual([`${tag}_a_b`, `${tag}_ab`, `${tag}_al`, `${tag}_alice`, `${tag}_bob`]);
    expect(await names(await people(`@${tag}_BOB`))).toEqual([`${tag}_bob`]);
    const byName = await people(`${tag} bo`); // "<tag> Bob", the display name
    const [ref] = ((await byName.json()) as { items: Array<Record<string, unknown>> }).items;
    expect(ref).toEqual({ id: bob.id, username: `${tag}_bob`, displayName: `${tag} Bob`, avatarUrl: expect.stringMatching(/^\/api\/avatars\//) });
  });

  it('takes LIKE wildcards literally and caps the page', async () => {
    expect(await names(await people(`${tag}_a_`))).toEqual([`${tag}_a_b`]); // not <tag>_ab
    expect(await names(await people('%'))).not.toContain(`${tag}_ab`);
    expect(await names(await people('100%'))).toContain(`${tag}_a_b`);
    expect(await names(await people(`${tag}`, '&limit=2'))).toHaveLength(2);
    for (const hostile of ['\\', '"', "' or 1=1 --", 'NEAR(a b)', '🙂', '*', '\u0000', `${tag}\u0000`, '\uFFFD', '\u202E']) expect((await people(hostile)).status, hostile).toBe(200);
    expect((await server.request('/api/users?q=%ED%A0%80')).status).toBe(200); // a lone surrogate, as UTF-8
  });

  it('refuses an empty, blank or too long query and a limit over 20 with validation_failed', async () => {
    for (const extra of ['', 'q=', 'q=%20%20%20', `q=${'a'.repeat(65)}`, 'q=al&limit=21', 'q=al&limit=0', 'q=al&limit=x']) {
      const res = await server.request(`/api/users?${extra}`);
      expect(res.status, extra).toBe(400);
      expect((await problemOf(res)).code).toBe('validation_failed');
    }
  });

  it('is public and cacheable: a strong ETag, a 304, and a new answer after a profile edit', async () => {
    const first = await people(`${tag}_bo`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"people\.[^"]+"$/);
    expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    expect(first.headers.get('vary') ?? '').not.toMatch(/authorization/i);
    const again = await server.request(`/api/users?q=${tag}_bo`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const edit = await server.request('/api/me', { method: 'PATCH', token: bob.accessToken, json: { displayName: 'Robert' } });
    expect(edit.status).toBe(200);
    const after = await server.request(`/api/users?q=${tag}_bo`, { headers: { 'if-none-match': etag } });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { items: Array<{ displayName: string }> }).items[0]!.displayName).toBe('Robert');
    await server.request('/api/me', { method: 'PATCH', token: bob.accessToken, json: { displayName: `${tag} Bob` } });
  });
});

describe('GET /api/search/posts?q= (posts)', () => {
  const word = (name: string) => `${tag}${name}`;

  it('finds posts by every word (the last as a prefix), best first, and follows create, edit and delete', async () => {
    for (let i = 0; i < 5; i++) await post(alice, `warm-up ${i}`); // post ids apart from user ids (see the avatar check)
    const a = await post(alice, `The ${word('kiwi')} orchard ${word('kiwi')} ${word('kiwi')}`);
    const b = await post(bob, `A long post about many things, among them one ${word('kiwi')}, and ${word('pear')} too, and more words after`);
    expect(await ids(await searchPosts(word('kiwi')))).toEqual([a.id, b.id]);
    expect(await ids(await searchPosts(`${word('kiwi')} ${word('pe')}`))).toEqual([b.id]);
    const hit = (await (await searchPosts(word('pear'))).json()) as { items: Array<Record<string, unknown>> };
    expect(hit.items[0]).toMatchObject({ id: b.id, author: { id: bob.id, username: bob.username, displayName: `${tag} Bob` } });
    // The author's avatar is bob's own (the same URL as people search gives), not one made from the post's id.
    const [bobRef] = ((await (await people(`${tag}_bob`)).json()) as { items: Array<{ avatarUrl: string }> }).items;
    expect((hit.items[0] as { author: { avatarUrl: string } }).author.avatarUrl).toBe(bobRef!.avatarUrl);

    const edit = await server.request(`/api/posts/${b.id}`, { method: 'PATCH', token: bob.accessToken, json: { body: `now about ${word('plum')}` }, headers: { 'if-match': b.etag } });
    expect(edit.status).toBe(200);
    expect(await ids(await searchPosts(word('pear')))).toEqual([]);
    expect(await ids(await searchPosts(word('plum')))).toEqual([b.id]);
    // A hit carries its reaction counts, as the feed's posts do.
    expect((await server.request(`/api/posts/${b.id}/reactions/like`, { method: 'PUT', token: alice.accessToken })).status).toBe(200);
    const liked = (await (await searchPosts(word('plum'))).json()) as { items: Array<{ reactions: Record<string, number> }> };
    expect(liked.items[0]!.reactions).toEqual({ like: 1 });
    const gone = await server.request(`/api/posts/${a.id}`, { method: 'DELETE', token: alice.accessToken });
    expect(gone.status).toBe(204);
    expect(await ids(await searchPosts(word('kiwi')))).toEqual([]);
  });

  it('reads FTS and tsquery syntax as words: never an error, never an operator', async () => {
    const p = await post(alice, `${word('syntax')} "OR" NEAR (AND) body:x 100% a-b`);
    const hostile = [
      '"', '"unbalanced', '*', `${word('syntax')}*`, 'NEAR(a b)', 'OR', 'AND', 'NOT x', 'a OR b', `-${word('syntax')}`, 'body:x', ':', '(', ')', '((a)', '^a',
      "'; drop table posts; --", "' or 1=1 --", '\\', '%', '_', '&', '|', '!', '<->', 'a:*', '🙂🙂🙂', '...', '"""', 'x'.repeat(200), 'ǅ', '\u0301',
      '\u0000', `${word('syntax')}\u0000`, '\uFFFD', 'x\u0000y',
    ];
    for (const q of hostile) {
      const res = await searchPosts(q);
      expect(res.status, q).toBe(200);
      expect(Array.isArray(((await res.json()) as { items: unknown[] }).items), q).toBe(true);
    }
    expect(await ids(await searchPosts(`"${word('syntax')} OR`))).toEqual([p.id]); // OR is a word of the post
    expect(await ids(await searchPosts(`-${word('syntax')}`))).toEqual([p.id]); // not a negation
    expect(await ids(await searchPosts(`${word('syntax')} NEAR (and)`))).toEqual([p.id]);
    expect(await ids(await searchPosts(`${word('syntax')} nowhere`))).toEqual([]);
    expect(await ids(await searchPosts('!!! ... ???'))).toEqual([]); // only punctuation: nothing to find
    expect((await searchPosts(`${word('syntax')}`)).status).toBe(200); // the table is still there
  });

  it('refuses an empty, blank or oversized query, a bad cursor and a limit over 50, with coded problems', async () => {
    const cases: Array<[string, string]> = [
      ['', 'validation_failed'], ['q=', 'validation_failed'], ['q=%20%09', 'validation_failed'], [`q=${'word '.repeat(2000)}`, 'validation_failed'],
      ['q=a&limit=51', 'validation_failed'], ['q=a&limit=-1', 'validation_failed'], ['q=a&cursor=nonsense!', 'invalid_cursor'], ['q=a&cursor=YWJj', 'invalid_cursor'],
    ];
    for (const [query, code] of cases) {
      const res = await server.request(`/api/search/posts?${query}`);
      expect(res.status, query.slice(0, 40)).toBe(400);
      expect((await problemOf(res)).code, query.slice(0, 40)).toBe(code);
    }
  });

  it('pages by cursor with a Link to the next page, without repeats or gaps', async () => {
    const made: number[] = [];
    for (let i = 0; i < 5; i++) made.push((await post(bob, `${word('mango')} number ${i}`)).id);
    const seen: number[] = [];
    let next: string | null = `/api/search/posts?q=${word('mango')}&limit=2`;
    while (next !== null) {
      const res = await server.request(next);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Array<{ id: number }>; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((p) => p.id));
      next = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
      expect(next === null).toBe(page.nextCursor === null);
    }
    expect(seen).toEqual([...made].reverse()); // equal rank: newest first
  });

  it('is public and cacheable: ETag from the feed position and the query, 304, stale after any post change', async () => {
    await post(alice, `${word('cache')} me`);
    const first = await searchPosts(word('cache'));
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"search\.[^"]+"$/);
    expect(first.headers.get('cache-control')).toMatch(/^public, /);
    expect(first.headers.get('vary') ?? '').not.toMatch(/authorization/i);
    expect(first.headers.get('tandem-channel')).toBe('feed');
    const other = await searchPosts(word('other'));
    expect(other.headers.get('etag')).not.toBe(etag); // the query is part of the tag
    const cached = await server.request(`/api/search/posts?q=${word('cache')}`, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    await post(bob, 'an unrelated post moves the feed');
    const stale = await server.request(`/api/search/posts?q=${word('cache')}`, { headers: { 'if-none-match': etag } });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('etag')).not.toBe(etag);
  });

  it('is reachable through SocialClient.searchPeople and searchPosts', async () => {
    const api = new SocialClient({ baseUrl: server.url });
    const p = await post(alice, `${word('client')} side`);
    expect((await api.searchPeople(`${tag}_ali`)).map((u) => u.username)).toEqual([`${tag}_alice`]);
    const found = await api.searchPosts(word('clie'), { limit: 5 });
    expect(found.items.map((x) => x.id)).toEqual([p.id]);
    expect(found.channel).toBe('feed');
  });
});
