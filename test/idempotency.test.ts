import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface Post { id: number; body: string; author: { id: number } }
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

function post(user: TestUser, body: unknown, key?: string, pathname = '/api/posts'): Promise<Response> {
  return server.request(pathname, { method: 'POST', token: user.accessToken, json: body, headers: key === undefined ? {} : { 'idempotency-key': key } });
}

/** Every post in the feed (walks all pages). */
async function allPosts(): Promise<Post[]> {
  const posts: Post[] = [];
  let cursor: string | null = null;
  do {
    const res: Response = await server.request(`/api/posts?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`);
    const page = (await res.json()) as Page<Post>;
    posts.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return posts;
}

async function newPost(user: TestUser, body = 'a post'): Promise<Post> {
  const res = await post(user, { body });
  expect(res.status).toBe(201);
  return (await res.json()) as Post;
}

describe('Idempotency-Key on POST /api/posts', () => {
  it('replays a retried create with the same status, body and headers, marked Idempotent-Replayed, creating no duplicate', async () => {
    const key = randomUUID();
    const before = (await allPosts()).length;
    const first = await post(alice, { body: 'exactly once' }, key);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const firstBody = await first.text();
    const created = JSON.parse(firstBody) as Post;

    const retry = await post(alice, { body: 'exactly once' }, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(firstBody);
    expect(retry.headers.get('location')).toBe(`/api/posts/${created.id}`);
    expect(retry.headers.get('etag')).toBe(first.headers.get('etag'));

    const third = await post(alice, { body: 'exactly once' }, key);
    expect(third.status).toBe(201);
    expect(((await third.json()) as Post).id).toBe(created.id);

    const posts = await allPosts();
    expect(posts).toHaveLength(before + 1);
    expect(posts.filter((p) => p.body === 'exactly once').map((p) => p.id)).toEqual([created.id]);
  });

  it('replays the original answer even after the post changed', async () => {
    const key = randomUUID();
    const first = await post(alice, { body: 'original' }, key);
    const created = (await first.json()) as Post;
    await server.request(`/api/posts/${created.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'edited' } });
    const retry = await post(alice, { body: 'original' }, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as Post)).toMatchObject({ id: created.id, body: 'original' });
  });

  it('refuses the same key with a different body with 422 idempotency_key_reused, creating nothing', async () => {
    const key = randomUUID();
    expect((await post(alice, { body: 'one' }, key)).status).toBe(201);
    const before = (await allPosts()).length;
    const reused = await post(alice, { body: 'two' }, key);
    expect(reused.status).toBe(422);
    const problem = await problemOf(reused);
    expect(problem.code).toBe('idempotency_key_reused');
    expect(problem.status).toBe(422);
    expect(reused.headers.get('idempotent-replayed')).toBeNull();
    const posts = await allPosts();
    expect(posts).toHaveLength(before);
    expect(posts.some((p) => p.body === 'two')).toBe(false);
    // The original request still replays.
    expect((await post(alice, { body: 'one' }, key)).headers.get('idempotent-replayed')).toBe('true');
  });

  it('scopes keys per user: bob using alice’s key creates his own post', async () => {
    const key = randomUUID();
    const a = await post(alice, { body: 'shared key' }, key);
    expect(a.status).toBe(201);
    const b = await post(bob, { body: 'shared key' }, key);
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    const alicePost = (await a.json()) as Post;
    const bobPost = (await b.json()) as Post;
    expect(bobPost.id).not.toBe(alicePost.id);
    expect(bobPost.author.id).toBe(bob.id);
    // And bob's different body under the same key is his own business, not a reuse of alice's.
    const key2 = randomUUID();
    expect((await post(alice, { body: 'alice body' }, key2)).status).toBe(201);
    expect((await post(bob, { body: 'bob body' }, key2)).status).toBe(201);
  });

  it('serialises two concurrent requests with the same key: one post, both answers name it', async () => {
    for (let round = 0; round < 5; round += 1) {
      const key = randomUUID();
      const body = `concurrent ${round} ${key}`;
      const before = (await allPosts()).length;
      const [r1, r2] = await Promise.all([post(alice, { body }, key), post(alice, { body }, key)]);
      expect([r1.status, r2.status]).toEqual([201, 201]);
      const [p1, p2] = [(await r1.json()) as Post, (await r2.json()) as Post];
      expect(p1.id).toBe(p2.id);
      expect([r1.headers.get('idempotent-replayed'), r2.headers.get('idempotent-replayed')].sort()).toEqual(['true', null].sort());
      const posts = await allPosts();
      expect(posts).toHaveLength(before + 1);
      expect(posts.filter((p) => p.body === body)).toHaveLength(1);
    }
  });

  it('refuses an invalid key with 400 invalid_idempotency_key, creating nothing', async () => {
    const before = (await allPosts()).length;
    for (const key of ['short', 'has spaces in it', 'x'.repeat(256), 'bad/slash-key', 'ünïcödé-key']) {
      const res = await server.request('/api/posts', {
        method: 'POST',
        token: alice.accessToken,
        json: { body: 'invalid key' },
        headers: { 'idempotency-key': encodeURI(key) === key ? key : Buffer.from(key).toString('latin1') },
      });
      expect(res.status).toBe(400);
      expect((await problemOf(res)).code).toBe('invalid_idempotency_key');
    }
    expect((await allPosts()).length).toBe(before);
    expect((await post(alice, { body: 'valid key' }, 'abcdefgh')).status).toBe(201);
    expect((await post(alice, { body: 'valid key 2' }, 'A.b_c:d-1')).status).toBe(201);
  });

  it('treats a retry that re-serializes the same JSON (other key order, trailing slash) as the same request', async () => {
    const target = await newPost(alice);
    const key = randomUUID();
    const raw = (text: string, pathname: string) =>
      server.request(pathname, { method: 'POST', token: bob.accessToken, body: text, headers: { 'content-type': 'application/json', 'idempotency-key': key } });
    const first = await raw('{"body":"ordered","parentId":null}', `/api/posts/${target.id}/comments`);
    expect(first.status).toBe(201);
    const created = (await first.json()) as { id: number };
    const reordered = await raw('{ "parentId": null, "body": "ordered" }', `/api/posts/${target.id}/comments/`);
    expect(reordered.status).toBe(201);
    expect(reordered.headers.get('idempotent-replayed')).toBe('true');
    expect(((await reordered.json()) as { id: number }).id).toBe(created.id);
    // A different value is still a different request.
    const changed = await raw('{"parentId":null,"body":"ordered!"}', `/api/posts/${target.id}/comments`);
    expect(changed.status).toBe(422);
    const list = (await (await server.request(`/api/posts/${target.id}/comments`)).json()) as Page<{ id: number }>;
    expect(list.items.map((c) => c.id)).toEqual([created.id]);
  });

  it('without a key, every POST creates a post', async () => {
    const before = (await allPosts()).length;
    await post(alice, { body: 'no key' });
    await post(alice, { body: 'no key' });
    expect((await allPosts()).length).toBe(before + 2);
  });

  it('does not store validation failures under the key', async () => {
    const key = randomUUID();
    const bad = await post(alice, { body: '' }, key);
    expect(bad.status).toBe(400);
    const good = await post(alice, { body: 'after a 400' }, key);
    expect(good.status).toBe(201);
    expect(good.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('Idempotency-Key on comments', () => {
  it('replays a retried comment and creates one comment', async () => {
    const target = await newPost(alice);
    const key = randomUUID();
    const path = `/api/posts/${target.id}/comments`;
    const first = await post(bob, { body: 'once' }, key, path);
    expect(first.status).toBe(201);
    const firstBody = await first.text();
    const retry = await post(bob, { body: 'once' }, key, path);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(firstBody);
    const list = (await (await server.request(path)).json()) as Page<{ id: number }>;
    expect(list.items).toHaveLength(1);
    // Alice was notified once.
    const notes = (await (await server.request('/api/notifications', { token: alice.accessToken })).json()) as { items: Array<{ postId: number }> };
    expect(notes.items.filter((n) => n.postId === target.id)).toHaveLength(1);
  });

  it('does not burn the key on a failed create (404 post): the same key then works on a real post', async () => {
    const key = randomUUID();
    const missing = await post(bob, { body: 'hello?' }, key, '/api/posts/99999999/comments');
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).code).toBe('not_found');
    // The same request again is evaluated afresh (404 again), not replayed.
    const again = await post(bob, { body: 'hello?' }, key, '/api/posts/99999999/comments');
    expect(again.status).toBe(404);
    expect(again.headers.get('idempotent-replayed')).toBeNull();

    const target = await newPost(alice);
    const ok = await post(bob, { body: 'hello?' }, key, `/api/posts/${target.id}/comments`);
    expect(ok.status).toBe(201);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
  });

  it('does not burn the key on a refused parentId', async () => {
    const target = await newPost(alice);
    const other = await newPost(alice);
    const foreign = (await (await post(bob, { body: 'elsewhere' }, undefined, `/api/posts/${other.id}/comments`)).json()) as { id: number };
    const key = randomUUID();
    const path = `/api/posts/${target.id}/comments`;
    expect((await post(bob, { body: 'x', parentId: foreign.id }, key, path)).status).toBe(400);
    expect((await post(bob, { body: 'x' }, key, path)).status).toBe(201);
  });
});

describe('Idempotency-Key on conversations and messages', () => {
  it('replays opening a conversation (201 then replayed 201) while a keyless re-open answers 200', async () => {
    const carol = await registerUser(server);
    const key = randomUUID();
    const first = await post(carol, { members: [alice.username] }, key, '/api/conversations');
    expect(first.status).toBe(201);
    const convo = (await first.json()) as { id: number };
    const retry = await post(carol, { members: [alice.username] }, key, '/api/conversations');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { id: number }).id).toBe(convo.id);
    const reopen = await post(carol, { members: [alice.username] }, undefined, '/api/conversations');
    expect(reopen.status).toBe(200);
    expect(((await reopen.json()) as { id: number }).id).toBe(convo.id);
  });

  it('refuses an invalid key on conversations before anything else', async () => {
    for (const members of [[bob.username], ['nobody_by_that_name'], [alice.username]]) {
      const res = await post(alice, { members }, 'bad key', '/api/conversations');
      expect(res.status).toBe(400);
      expect((await problemOf(res)).code).toBe('invalid_idempotency_key');
    }
  });

  it('does not burn the key on a refused conversation (unknown member)', async () => {
    const key = randomUUID();
    const refused = await post(alice, { members: ['nobody_by_that_name'] }, key, '/api/conversations');
    expect(refused.status).toBe(400);
    expect((await problemOf(refused)).code).toBe('validation_failed');
    const ok = await post(alice, { members: [bob.username] }, key, '/api/conversations');
    expect([200, 201]).toContain(ok.status);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
  });

  it('replays a retried message, sends it once, and counts it unread once', async () => {
    const dave = await registerUser(server);
    const erin = await registerUser(server);
    const convo = (await (await post(dave, { members: [erin.username] }, undefined, '/api/conversations')).json()) as { id: number };
    const path = `/api/conversations/${convo.id}/messages`;
    const key = randomUUID();
    const [r1, r2] = await Promise.all([post(dave, { body: 'just once' }, key, path), post(dave, { body: 'just once' }, key, path)]);
    expect([r1.status, r2.status]).toEqual([201, 201]);
    const [m1, m2] = [(await r1.json()) as { id: number }, (await r2.json()) as { id: number }];
    expect(m1.id).toBe(m2.id);
    const retry = await post(dave, { body: 'just once' }, key, path);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { id: number }).id).toBe(m1.id);

    const list = (await (await server.request(path, { token: erin.accessToken })).json()) as Page<{ id: number; body: string }>;
    expect(list.items.map((m) => m.body)).toEqual(['just once']);
    // Messages count on the conversation (the Messages badge), not on the bell.
    const inbox = (await (await server.request(`/api/conversations/${convo.id}`, { token: erin.accessToken })).json()) as { unreadCount: number };
    expect(inbox.unreadCount).toBe(1);

    const reused = await post(dave, { body: 'something else' }, key, path);
    expect(reused.status).toBe(422);
    expect((await problemOf(reused)).code).toBe('idempotency_key_reused');
  });

  it('a non-member cannot replay or learn anything through a member’s key, and does not burn their own', async () => {
    const dave = await registerUser(server);
    const erin = await registerUser(server);
    const outsider = await registerUser(server);
    const convo = (await (await post(dave, { members: [erin.username] }, undefined, '/api/conversations')).json()) as { id: number };
    const path = `/api/conversations/${convo.id}/messages`;
    const key = randomUUID();
    expect((await post(dave, { body: 'private' }, key, path)).status).toBe(201);
    const sneaky = await post(outsider, { body: 'private' }, key, path);
    expect(sneaky.status).toBe(404);
    expect(await sneaky.text()).not.toContain('private');
    // The outsider's key was not burned by the 404: it works for their own post.
    const own = await post(outsider, { body: 'private' }, key, '/api/posts');
    expect(own.status).toBe(201);
  });
});
