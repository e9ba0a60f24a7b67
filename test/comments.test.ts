import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { commentAs, postAs } from './support/social';

interface Post { id: number; version: number }
interface Comment {
  id: number;
  postId: number;
  parentId: number | null;
  author: { id: number; username: string };
  body: string | null;
  deleted: boolean;
  createdAt: string;
  version: number;
}
interface Page<T> { items: T[]; nextCursor: string | null }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
  carol = await registerUser(server);
});
afterAll(() => server.close());

async function createPost(user: TestUser, body = 'a post'): Promise<Post> {
  return (await postAs<Post>(server, user, body)).post;
}

async function comment(user: TestUser, postId: number, body: string, parentId?: number | null): Promise<Comment> {
  return (await commentAs<Comment>(server, user, postId, body, parentId)).comment;
}

async function listAll(postId: number): Promise<Comment[]> {
  const res = await server.request(`/api/posts/${postId}/comments?limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as Page<Comment>).items;
}

describe('creating comments', () => {
  it('creates a comment with its author, no parent and an ETag', async () => {
    const post = await createPost(alice);
    const res = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'first!' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
    const created = (await res.json()) as Comment;
    expect(created).toMatchObject({ postId: post.id, parentId: null, author: { id: bob.id, username: bob.username }, body: 'first!', deleted: false, version: 1 });
    expect(Number.isInteger(created.id)).toBe(true);
    expect(await listAll(post.id)).toEqual([created]);
  });

  it('threads a reply under its parent with parentId', async () => {
    const post = await createPost(alice);
    const parent = await comment(bob, post.id, 'parent');
    const reply = await comment(carol, post.id, 'reply', parent.id);
    expect(reply).toMatchObject({ postId: post.id, parentId: parent.id, body: 'reply', author: { id: carol.id } });
    const nested = await comment(alice, post.id, 'reply to the reply', reply.id);
    expect(nested.parentId).toBe(reply.id);
    expect((await listAll(post.id)).map((c) => [c.id, c.parentId])).toEqual([[parent.id, null], [reply.id, parent.id], [nested.id, reply.id]]);
  });

  it('accepts an explicit null parentId as a top-level comment', async () => {
    const post = await createPost(alice);
    expect((await comment(bob, post.id, 'top', null)).parentId).toBeNull();
  });

  it('refuses a parentId from another post with 400 validation_failed naming body.parentId, creating nothing', async () => {
    const post = await createPost(alice);
    const other = await createPost(alice);
    const elsewhere = await comment(bob, other.id, 'on the other post');
    const res = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: carol.accessToken, json: { body: 'misplaced', parentId: elsewhere.id } });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors?.map((e) => e.field)).toEqual(['body.parentId']);
    expect(await listAll(post.id)).toEqual([]);
    expect(await listAll(other.id)).toHaveLength(1);
  });

  it('refuses a parentId that does not exist with 400 naming body.parentId', async () => {
    const post = await createPost(alice);
    const res = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'orphan', parentId: 99_999_999 } });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors?.map((e) => e.field)).toEqual(['body.parentId']);
  });

  it('answers 404 for a comment on a missing post', async () => {
    const res = await server.request('/api/posts/99999999/comments', { method: 'POST', token: bob.accessToken, json: { body: 'into the void' } });
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe('not_found');
    const list = await server.request('/api/posts/99999999/comments');
    expect(list.status).toBe(404);
    expect((await problemOf(list)).code).toBe('not_found');
  });

  it('validates the body and needs authentication', async () => {
    const post = await createPost(alice);
    for (const json of [{ body: '' }, { body: '   ' }, { body: 'x'.repeat(2001) }, {}, { body: 'ok', extra: 1 }, { body: 'ok', parentId: 'one' }]) {
      const res = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json });
      expect(res.status).toBe(400);
      expect((await problemOf(res)).code).toBe('validation_failed');
    }
    const anonymous = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', json: { body: 'hi' } });
    expect(anonymous.status).toBe(401);
    expect(await listAll(post.id)).toEqual([]);
  });
});

describe('listing comments', () => {
  it('lists oldest first and pages with nextCursor and Link without duplicates or gaps', async () => {
    const post = await createPost(alice);
    const ids: number[] = [];
    for (let i = 0; i < 12; i += 1) ids.push((await comment(i % 2 === 0 ? bob : carol, post.id, `c${i}`)).id);

    const seen: number[] = [];
    const bodies: Array<string | null> = [];
    let next: string | null = `/api/posts/${post.id}/comments?limit=5`;
    let pages = 0;
    while (next !== null) {
      const res: Response = await server.request(next);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page<Comment>;
      pages += 1;
      seen.push(...page.items.map((c) => c.id));
      bodies.push(...page.items.map((c) => c.body));
      const link = res.headers.get('link');
      if (page.nextCursor === null) {
        expect(link).toBeNull();
        next = null;
      } else {
        expect(link).toBe(`</api/posts/${post.id}/comments?limit=5&cursor=${page.nextCursor}>; rel="next"`);
        next = /^<([^>]+)>; rel="next"$/.exec(link!)![1]!;
      }
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    expect(bodies).toEqual(ids.map((_, i) => `c${i}`));
  });

  it('refuses an invalid cursor and an out-of-range limit', async () => {
    const post = await createPost(alice);
    const badCursor = await server.request(`/api/posts/${post.id}/comments?cursor=nope`);
    expect(badCursor.status).toBe(400);
    expect((await problemOf(badCursor)).code).toBe('invalid_cursor');
    const badLimit = await server.request(`/api/posts/${post.id}/comments?limit=0`);
    expect(badLimit.status).toBe(400);
    expect((await problemOf(badLimit)).errors?.map((e) => e.field)).toContain('querystring.limit');
  });

  it('carries Tandem-Channel post:<id>, a position, public caching, and answers 304 until the comments change', async () => {
    const post = await createPost(alice);
    const first = await server.request(`/api/posts/${post.id}/comments`);
    expect(first.status).toBe(200);
    expect(first.headers.get('tandem-channel')).toBe(`post:${post.id}`);
    expect(first.headers.get('tandem-position')).toBe('0');
    expect(first.headers.get('cache-control')).toContain('public');
    const tag = first.headers.get('etag')!;
    expect(tag).toMatch(/^"[^"]+"$/);

    const cached = await server.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': tag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('tandem-channel')).toBe(`post:${post.id}`);

    const c = await comment(bob, post.id, 'changes the list');
    const afterCreate = await server.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': tag } });
    expect(afterCreate.status).toBe(200);
    expect(afterCreate.headers.get('tandem-position')).toBe('1');
    const tag2 = afterCreate.headers.get('etag')!;
    expect(tag2).not.toBe(tag);
    expect((await server.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': tag2 } })).status).toBe(304);

    expect((await server.request(`/api/comments/${c.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    const afterDelete = await server.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': tag2 } });
    expect(afterDelete.status).toBe(200);
    expect(afterDelete.headers.get('tandem-position')).toBe('2');
    expect(afterDelete.headers.get('etag')).not.toBe(tag2);

    // Another post's comments do not share the channel.
    const other = await createPost(alice);
    await comment(bob, other.id, 'elsewhere');
    expect((await server.request(`/api/posts/${post.id}/comments`)).headers.get('tandem-position')).toBe('2');
  });
});

describe('deleting comments', () => {
  it('lets the author delete: the comment stays with deleted: true and body null, its replies intact', async () => {
    const post = await createPost(alice);
    const parent = await comment(bob, post.id, 'I will regret this');
    const reply = await comment(carol, post.id, 'a reply', parent.id);
    const res = await server.request(`/api/comments/${parent.id}`, { method: 'DELETE', token: bob.accessToken });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');

    const list = await listAll(post.id);
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ id: parent.id, deleted: true, body: null, parentId: null, author: { id: bob.id } });
    expect(list[0]!.version).toBe(parent.version + 1);
    expect(list[1]).toEqual(reply);
    expect(JSON.stringify(list)).not.toContain('I will regret this');
  });

  it('refuses a reply to a deleted comment', async () => {
    const post = await createPost(alice);
    const gone = await comment(bob, post.id, 'soon gone');
    expect((await server.request(`/api/comments/${gone.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    const res = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: carol.accessToken, json: { body: 'too late', parentId: gone.id } });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors?.map((e) => e.field)).toEqual(['body.parentId']);
  });

  it("refuses another user's delete with 403 forbidden and changes nothing", async () => {
    const post = await createPost(alice);
    const mine = await comment(bob, post.id, 'mine');
    const before = await server.request(`/api/posts/${post.id}/comments`);
    const tag = before.headers.get('etag')!;
    // Not even the post's author may delete someone else's comment.
    for (const user of [carol, alice]) {
      const res = await server.request(`/api/comments/${mine.id}`, { method: 'DELETE', token: user.accessToken });
      expect(res.status).toBe(403);
      expect((await problemOf(res)).code).toBe('forbidden');
    }
    expect(await listAll(post.id)).toEqual([mine]);
    expect((await server.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': tag } })).status).toBe(304);
  });

  it('answers 404 to deleting twice, and to a comment that never existed', async () => {
    const post = await createPost(alice);
    const c = await comment(bob, post.id, 'once');
    expect((await server.request(`/api/comments/${c.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    const again = await server.request(`/api/comments/${c.id}`, { method: 'DELETE', token: bob.accessToken });
    expect(again.status).toBe(404);
    expect((await problemOf(again)).code).toBe('not_found');
    const never = await server.request('/api/comments/99999999', { method: 'DELETE', token: bob.accessToken });
    expect(never.status).toBe(404);
    expect((await server.request(`/api/posts/${post.id}/comments`)).headers.get('tandem-position')).toBe('2');
  });

  it('honours If-Match on delete: a stale tag is 412 and the comment stays', async () => {
    const post = await createPost(alice);
    const res = await server.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: bob.accessToken, json: { body: 'guarded' } });
    const c = (await res.json()) as Comment;
    const tag = res.headers.get('etag')!;
    const stale = await server.request(`/api/comments/${c.id}`, { method: 'DELETE', token: bob.accessToken, headers: { 'if-match': '"comment.0.v0"' } });
    expect(stale.status).toBe(412);
    expect((await problemOf(stale)).code).toBe('precondition_failed');
    expect((await listAll(post.id))[0]).toMatchObject({ deleted: false, body: 'guarded' });
    expect((await server.request(`/api/comments/${c.id}`, { method: 'DELETE', token: bob.accessToken, headers: { 'if-match': tag } })).status).toBe(204);
  });

  it('needs authentication', async () => {
    const post = await createPost(alice);
    const c = await comment(bob, post.id, 'safe');
    const res = await server.request(`/api/comments/${c.id}`, { method: 'DELETE' });
    expect(res.status).toBe(401);
    expect((await listAll(post.id))[0]!.deleted).toBe(false);
  });
});
