import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { postAs } from './support/social';

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterAll(() => server.close());

const createPost = (user: TestUser, body: string) => postAs<{ id: number; version: number; body: string }>(server, user, body);

describe('posts', () => {
  it('creates a post and reads it back with a strong ETag and public caching', async () => {
    const { res, post } = await createPost(alice, 'hello world');
    expect(res.headers.get('location')).toBe(`/api/posts/${post.id}`);
    const got = await server.request(`/api/posts/${post.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(got.headers.get('cache-control')).toContain('public');
    expect(await got.json()).toMatchObject({ id: post.id, body: 'hello world', author: { id: alice.id, username: alice.username } });
  });

  it('answers 304 with no body for a current If-None-Match, and 200 once the post changed', async () => {
    const { post } = await createPost(alice, 'v1');
    const first = await server.request(`/api/posts/${post.id}`);
    const tag = first.headers.get('etag')!;
    const cached = await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': tag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('etag')).toBe(tag);
    const patched = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'v2' }, headers: { 'if-match': tag } });
    expect(patched.status).toBe(200);
    const after = await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': tag } });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(tag);
  });

  it('refuses a stale If-Match with 412 and changes nothing', async () => {
    const { post, res } = await createPost(alice, 'original');
    const tag = res.headers.get('etag')!;
    await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'second' } });
    const stale = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'third' }, headers: { 'if-match': tag } });
    expect(stale.status).toBe(412);
    expect((await problemOf(stale)).code).toBe('precondition_failed');
    const now = (await (await server.request(`/api/posts/${post.id}`)).json()) as { body: string };
    expect(now.body).toBe('second');
  });

  it("refuses to edit or delete another user's post", async () => {
    const { post } = await createPost(alice, 'mine');
    const patch = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: bob.accessToken, json: { body: 'yours now' } });
    expect(patch.status).toBe(403);
    expect((await problemOf(patch)).code).toBe('forbidden');
    const del = await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: bob.accessToken });
    expect(del.status).toBe(403);
    expect((await (await server.request(`/api/posts/${post.id}`)).json()) as object).toMatchObject({ body: 'mine' });
  });
});
