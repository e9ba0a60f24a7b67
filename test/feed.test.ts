import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { postAs } from './support/social';
import { singleNode } from './support/target';

interface Post { id: number; body: string; version: number; author: { id: number; username: string } }
interface Page<T> { items: T[]; nextCursor: string | null }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterAll(() => server.close());

const createPost = (user: TestUser, body: string) => postAs<Post>(server, user, body);

async function feed(query = ''): Promise<{ res: Response; page: Page<Post> }> {
  const res = await server.request(`/api/posts${query}`);
  expect(res.status).toBe(200);
  return { res, page: (await res.json()) as Page<Post> };
}

async function feedPosition(): Promise<number> {
  const res = await server.request('/api/posts?limit=1');
  expect(res.status).toBe(200);
  expect(res.headers.get('tandem-channel')).toBe('feed');
  const raw = res.headers.get('tandem-position');
  expect(raw).toMatch(/^\d+$/);
  return Number(raw);
}

/** The total number of posts, by walking the whole feed. */
async function countAll(): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const { page }: { page: Page<Post> } = await feed(`?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`);
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor !== null);
  return count;
}

describe('feed: GET /api/posts', () => {
  it('lists posts newest first and walks every post once with nextCursor and the Link header', async () => {
    const before = await countAll();
    const created: number[] = [];
    for (let i = 0; i < 25; i += 1) created.push((await createPost(i % 2 === 0 ? alice : bob, `walk ${i}`)).post.id);
    expect(await countAll()).toBe(before + 25);

    const seenByCursor: number[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const { res, page }: { res: Response; page: Page<Post> } = await feed(`?limit=10${cursor === null ? '' : `&cursor=${cursor}`}`);
      pageSizes.push(page.items.length);
      seenByCursor.push(...page.items.map((p) => p.id));
      if (page.nextCursor === null) {
        expect(res.headers.get('link')).toBeNull();
      } else {
        expect(res.headers.get('link')).toBe(`</api/posts?limit=10&cursor=${page.nextCursor}>; rel="next"`);
      }
      cursor = page.nextCursor;
    } while (cursor !== null);

    // Newest first, strictly decreasing: no duplicates.
    expect(seenByCursor).toEqual([...seenByCursor].sort((a, b) => b - a));
    expect(new Set(seenByCursor).size).toBe(seenByCursor.length);
    // The 25 new posts lead the feed, in reverse creation order, with no gaps.
    expect(seenByCursor.slice(0, 25)).toEqual([...created].reverse());
    expect(seenByCursor.length).toBe(before + 25);
    expect(pageSizes.slice(0, 2)).toEqual([10, 10]);
    expect(pageSizes.at(-1)).toBeGreaterThan(0);

    // Following the Link header gives exactly the same walk.
    const seenByLink: number[] = [];
    let next: string | null = '/api/posts?limit=10';
    while (next !== null) {
      const res: Response = await server.request(next);
      expect(res.status).toBe(200);
      seenByLink.push(...((await res.json()) as Page<Post>).items.map((p) => p.id));
      const link = res.headers.get('link');
      next = link === null ? null : /^<([^>]+)>; rel="next"$/.exec(link)![1]!;
    }
    expect(seenByLink).toEqual(seenByCursor);
  });

  it('returns the newest post first with its author', async () => {
    const { post } = await createPost(bob, 'the very newest');
    const { page } = await feed('?limit=2');
    expect(page.items[0]).toMatchObject({ id: post.id, body: 'the very newest', author: { id: bob.id, username: bob.username } });
    expect(page.items).toHaveLength(2);
    expect(page.items[1]!.id).toBeLessThan(post.id);
  });

  it('refuses an invalid cursor with 400 invalid_cursor', async () => {
    const valid = Buffer.from('c1:5').toString('base64url');
    expect((await server.request(`/api/posts?cursor=${valid}`)).status).toBe(200);
    const invalid = [
      'garbage', 'bm9wZQ', Buffer.from('c1:abc').toString('base64url'), Buffer.from('c2:5').toString('base64url'),
      Buffer.from('c1:05').toString('base64url'), Buffer.from('c1:-5').toString('base64url'),
      // A valid cursor with bytes the base64 decoder would skip: they must not reach the ETag header.
      `${valid}%22`, `${valid}%0d%0a`, `${valid}%20`, `${valid}==`, `${valid}..`,
    ];
    for (const cursor of invalid) {
      const res = await server.request(`/api/posts?cursor=${cursor}`);
      expect(res.status).toBe(400);
      const problem = await problemOf(res);
      expect(problem.code).toBe('invalid_cursor');
      expect(problem.status).toBe(400);
    }
  });

  it('refuses a limit out of range with 400 validation_failed naming querystring.limit', async () => {
    for (const limit of ['0', '101', '-3', 'ten']) {
      const res = await server.request(`/api/posts?limit=${limit}`);
      expect(res.status).toBe(400);
      const problem = await problemOf(res);
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors?.map((e) => e.field)).toContain('querystring.limit');
    }
    expect((await server.request('/api/posts?limit=100')).status).toBe(200);
    expect((await server.request('/api/posts?limit=1')).status).toBe(200);
  });

  it('reports Tandem-Channel: feed and a position that moves by one per create, update and delete', async () => {
    const p0 = await feedPosition();
    expect(p0).toBeGreaterThan(0);
    const { post } = await createPost(alice, 'position');
    expect(await feedPosition()).toBe(p0 + 1);
    const patched = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'position 2' } });
    expect(patched.status).toBe(200);
    expect(await feedPosition()).toBe(p0 + 2);
    const deleted = await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken });
    expect(deleted.status).toBe(204);
    expect(await feedPosition()).toBe(p0 + 3);
    // A comment changes the post's comment count shown in the feed: one post.comments event.
    const { post: other } = await createPost(alice, 'commented');
    const comment = await server.request(`/api/posts/${other.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'hi' } });
    expect(comment.status).toBe(201);
    expect(await feedPosition()).toBe(p0 + 5);
    // Refused writes do not move it.
    const refused = await server.request(`/api/posts/${other.id}`, { method: 'DELETE', token: bob.accessToken });
    expect(refused.status).toBe(403);
    expect(await feedPosition()).toBe(p0 + 5);
  });

  it('answers 304 to a current If-None-Match and changes the ETag after a create, update and delete', async () => {
    const first = await server.request('/api/posts?limit=5');
    expect(first.status).toBe(200);
    const tag = first.headers.get('etag')!;
    expect(tag).toMatch(/^"[^"]+"$/);

    const cached = await server.request('/api/posts?limit=5', { headers: { 'if-none-match': tag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('etag')).toBe(tag);
    expect(cached.headers.get('tandem-channel')).toBe('feed');
    expect(cached.headers.get('tandem-position')).toBe(first.headers.get('tandem-position'));
    // A weak form of the same tag also matches (RFC 9110 weak comparison).
    expect((await server.request('/api/posts?limit=5', { headers: { 'if-none-match': `W/${tag}` } })).status).toBe(304);
    // Another page size is another representation.
    expect((await server.request('/api/posts?limit=6', { headers: { 'if-none-match': tag } })).status).toBe(200);

    const { post } = await createPost(bob, 'etag');
    const afterCreate = await server.request('/api/posts?limit=5', { headers: { 'if-none-match': tag } });
    expect(afterCreate.status).toBe(200);
    const tag2 = afterCreate.headers.get('etag')!;
    expect(tag2).not.toBe(tag);
    expect(((await afterCreate.json()) as Page<Post>).items[0]!.id).toBe(post.id);

    await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: bob.accessToken, json: { body: 'etag edited' } });
    const afterUpdate = await server.request('/api/posts?limit=5', { headers: { 'if-none-match': tag2 } });
    expect(afterUpdate.status).toBe(200);
    const tag3 = afterUpdate.headers.get('etag')!;
    expect(tag3).not.toBe(tag2);
    expect(((await afterUpdate.json()) as Page<Post>).items[0]!.body).toBe('etag edited');

    await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: bob.accessToken });
    const afterDelete = await server.request('/api/posts?limit=5', { headers: { 'if-none-match': tag3 } });
    expect(afterDelete.status).toBe(200);
    expect(afterDelete.headers.get('etag')).not.toBe(tag3);
    expect(((await afterDelete.json()) as Page<Post>).items.map((p) => p.id)).not.toContain(post.id);
  });

  it('is publicly cacheable with s-maxage and stale-while-revalidate', async () => {
    const { res } = await feed();
    const cacheControl = res.headers.get('cache-control') ?? '';
    expect(cacheControl).toMatch(/(^|, )public(,|$)/);
    expect(cacheControl).toMatch(/s-maxage=\d+/);
    expect(cacheControl).toMatch(/stale-while-revalidate=\d+/);
    expect(cacheControl).not.toContain('private');
  });
});

describe('deleting a post', () => {
  it('answers 204 to the author; the post and its comments list are then 404 and it leaves the feed', async () => {
    const { post } = await createPost(alice, 'short-lived');
    const c = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'nice' } });
    expect(c.status).toBe(201);
    const del = await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe('');

    const got = await server.request(`/api/posts/${post.id}`);
    expect(got.status).toBe(404);
    expect((await problemOf(got)).code).toBe('not_found');
    const comments = await server.request(`/api/posts/${post.id}/comments`);
    expect(comments.status).toBe(404);
    expect((await problemOf(comments)).code).toBe('not_found');
    const { page } = await feed('?limit=100');
    expect(page.items.map((p) => p.id)).not.toContain(post.id);
    // Deleting again is a 404, and commenting on it too.
    expect((await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken })).status).toBe(404);
    expect((await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'late' } })).status).toBe(404);
  });

  it('refuses a stale If-Match with 412 and keeps the post', async () => {
    const { post, res } = await createPost(alice, 'guarded');
    const staleTag = res.headers.get('etag')!;
    const patched = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'guarded v2' } });
    expect(patched.status).toBe(200);
    const currentTag = patched.headers.get('etag')!;
    expect(currentTag).not.toBe(staleTag);

    const stale = await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken, headers: { 'if-match': staleTag } });
    expect(stale.status).toBe(412);
    expect((await problemOf(stale)).code).toBe('precondition_failed');
    expect(stale.headers.get('etag')).toBe(currentTag);
    const still = await server.request(`/api/posts/${post.id}`);
    expect(still.status).toBe(200);
    expect(((await still.json()) as Post).body).toBe('guarded v2');

    const fresh = await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken, headers: { 'if-match': currentTag } });
    expect(fresh.status).toBe(204);
    expect((await server.request(`/api/posts/${post.id}`)).status).toBe(404);
  });

  it('needs authentication', async () => {
    const { post } = await createPost(alice, 'anonymous attempt');
    const res = await server.request(`/api/posts/${post.id}`, { method: 'DELETE' });
    expect(res.status).toBe(401);
    expect((await problemOf(res)).code).toBe('unauthenticated');
    expect((await server.request(`/api/posts/${post.id}`)).status).toBe(200);
  });
});

singleNode('listens to node A’s in-process commit announcer; writes on node B announce on B').describe('commit announcements (the realtime side of the feed channel)', () => {
  interface Announced { channel: string; offset: number; event: string; data: unknown }

  function record(): { events: Announced[]; stop: () => void } {
    const events: Announced[] = [];
    const stop = server.social.announcer.on((batch) => void events.push(...batch));
    return { events, stop };
  }

  it('announces each feed change once, after commit, at the offset REST reports as Tandem-Position', async () => {
    const { events, stop } = record();
    try {
      const p0 = await feedPosition();
      const { post } = await createPost(alice, 'announced');
      await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'announced 2' } });
      await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken });
      const feedEvents = events.filter((e) => e.channel === 'feed');
      expect(feedEvents.map((e) => [e.event, e.offset])).toEqual([['post.created', p0 + 1], ['post.updated', p0 + 2], ['post.deleted', p0 + 3]]);
      expect(feedEvents[0]!.data).toMatchObject({ id: post.id, body: 'announced' });
      expect(feedEvents[2]!.data).toEqual({ id: post.id });
      expect(await feedPosition()).toBe(p0 + 3);
    } finally {
      stop();
    }
  });

  it('announces nothing for a refused or rolled-back write, nor for an idempotent replay', async () => {
    const { post } = await createPost(alice, 'quiet');
    const { events, stop } = record();
    try {
      expect((await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(403);
      expect((await server.request('/api/posts/99999999/comments', { method: 'POST', token: bob.accessToken, json: { body: 'x' } })).status).toBe(404);
      const key = 'replay-announce-key';
      expect((await server.request('/api/posts', { method: 'POST', token: bob.accessToken, json: { body: 'once' }, headers: { 'idempotency-key': key } })).status).toBe(201);
      expect(events.filter((e) => e.channel === 'feed')).toHaveLength(1);
      const replay = await server.request('/api/posts', { method: 'POST', token: bob.accessToken, json: { body: 'once' }, headers: { 'idempotency-key': key } });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(events.filter((e) => e.channel === 'feed')).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('announces concurrent creates in offset order with no gaps', async () => {
    const { events, stop } = record();
    try {
      const p0 = await feedPosition();
      const responses = await Promise.all(Array.from({ length: 15 }, (_, i) => server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: `burst ${i}` } })));
      expect(responses.map((r) => r.status)).toEqual(Array(15).fill(201));
      expect(events.filter((e) => e.channel === 'feed').map((e) => e.offset)).toEqual(Array.from({ length: 15 }, (_, i) => p0 + 1 + i));
    } finally {
      stop();
    }
  });

  it('keeps a committed write a success, and other listeners served, when a listener throws', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void (w.name === 'CommitListenerError' && warnings.push(w));
    process.on('warning', onWarning);
    const stopThrowing = server.social.announcer.on(() => {
      throw new Error('listener bug');
    });
    const { events, stop } = record();
    try {
      const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'survives a bad listener' } });
      expect(res.status).toBe(201);
      const post = (await res.json()) as Post;
      expect(events.filter((e) => e.channel === 'feed').map((e) => (e.data as Post).id)).toEqual([post.id]);
      expect((await server.request(`/api/posts/${post.id}`)).status).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.message)).toEqual(['A commit listener threw: listener bug']);
    } finally {
      stop();
      stopThrowing();
      process.off('warning', onWarning);
    }
  });
});
