import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket } from './support/realtime';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface UserRef { id: number; username: string; displayName: string; avatarUrl: string }
interface PublicUser extends UserRef { bio: string; createdAt: string; version: number }
interface Post { id: number; author: UserRef; body: string }
interface Page<T> { items: T[]; nextCursor: string | null }

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

async function post(user: TestUser, body: string): Promise<Post> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return (await res.json()) as Post;
}

async function rename(user: TestUser, displayName: string): Promise<PublicUser> {
  const res = await server.request('/api/me', { method: 'PATCH', token: user.accessToken, json: { displayName } });
  expect(res.status).toBe(200);
  return (await res.json()) as PublicUser;
}

async function uploadAvatar(user: TestUser): Promise<PublicUser> {
  const png = await sharp({ create: { width: 120, height: 80, channels: 3, background: { r: 10, g: Math.floor(Math.random() * 256), b: 200 } } }).png().toBuffer();
  const res = await fetch(`${server.url}/api/me/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'image/png' }, body: new Uint8Array(png) });
  expect(res.status).toBe(200);
  return (await res.json()) as PublicUser;
}

describe("a user's posts (GET /api/users/:username/posts)", () => {
  it('lists only their posts, newest first, paged, publicly cached on the feed channel', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const mine = [await post(alice, 'one'), await post(bob, 'not hers'), await post(alice, 'two'), await post(alice, 'three')].filter((p) => p.author.id === alice.id);
    const res = await server.request(`/api/users/${alice.username.toUpperCase()}/posts?limit=2`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=0, s-maxage=5, stale-while-revalidate=30');
    expect(res.headers.get('tandem-channel')).toBe('feed');
    const page = (await res.json()) as Page<Post>;
    expect(page.items.map((p) => p.body)).toEqual(['three', 'two']);
    expect(page.items.every((p) => p.author.username === alice.username)).toBe(true);
    const rest = (await (await server.request(`/api/users/${alice.username}/posts?limit=2&cursor=${page.nextCursor}`)).json()) as Page<Post>;
    expect(rest).toEqual({ items: [expect.objectContaining({ id: mine[0]!.id, body: 'one' })], nextCursor: null });
    const again = await server.request(`/api/users/${alice.username.toUpperCase()}/posts?limit=2`, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('an unknown user is 404; hostile names are refused', async () => {
    const res = await server.request('/api/users/nobody_here_at_all/posts');
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe('not_found');
    for (const bad of ['x'.repeat(65), "'%20OR%201=1--", '..%2F..%2Fetc']) {
      const answer = await server.request(`/api/users/${bad}/posts`);
      expect([400, 404], bad).toContain(answer.status);
    }
    expect((await server.request('/api/users/nobody/posts?limit=0')).status).toBe(400);
    expect((await server.request('/api/users/nobody/posts?cursor=%00')).status).toBeGreaterThanOrEqual(400);
  });
});

describe('profile edits: live, and never stale in a cache', () => {
  it('a rename or an avatar reaches everyone subscribed to people as profile.updated', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const socket = await TestSocket.connect(server, bob.accessToken);
    try {
      expect((await socket.request({ t: 'sub', ch: 'people' })).t).toBe('ack');
      const renamed = await rename(alice, 'Alice Liddell');
      const frame = await socket.next((f) => f.t === 'pub' && f.ch === 'people' && (f.d as PublicUser).id === alice.id);
      expect(frame.ev).toBe('profile.updated');
      expect(frame.d).toEqual(renamed);
      const pictured = await uploadAvatar(alice);
      const second = await socket.next((f) => f.t === 'pub' && f.ch === 'people' && (f.d as PublicUser).avatarUrl === pictured.avatarUrl);
      expect(second.d).toEqual(pictured);
      // A PATCH that changes nothing announces nothing.
      await rename(alice, 'Alice Liddell');
      const bio = await server.request('/api/me', { method: 'PATCH', token: alice.accessToken, json: { bio: 'Down the rabbit hole' } });
      const third = await socket.next((f) => f.t === 'pub' && f.ch === 'people');
      expect((third.d as PublicUser).bio).toBe('Down the rabbit hole');
      expect((third.d as PublicUser).version).toBe(((await bio.json()) as PublicUser).version);
      expect(socket.publications('people').filter((f) => (f.d as PublicUser).id === alice.id)).toHaveLength(3);
    } finally {
      socket.close();
    }
  });

  it('answers that embed the person change their ETag after a rename: feed, comments, a post, a comment, their posts, notifications, conversations', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const hers = await post(alice, 'embedded author');
    const comment = await server.request(`/api/posts/${hers.id}/comments`, { method: 'POST', token: alice.accessToken, json: { body: 'and a comment' } });
    expect(comment.status).toBe(201);
    const commentId = ((await comment.json()) as { id: number }).id;
    await server.request(`/api/posts/${(await post(bob, "bob's post")).id}/comments`, { method: 'POST', token: alice.accessToken, json: { body: 'notify bob' } });
    const opened = await server.request('/api/conversations', { method: 'POST', token: bob.accessToken, json: { members: [alice.username] } });
    const conversationId = ((await opened.json()) as { id: number }).id;
    const urls: Array<[string, string | undefined]> = [
      ['/api/posts?limit=50', undefined],
      [`/api/posts/${hers.id}/comments`, undefined],
      [`/api/posts/${hers.id}`, undefined],
      [`/api/comments/${commentId}`, undefined],
      [`/api/users/${alice.username}/posts`, undefined],
      ['/api/notifications', bob.accessToken],
      ['/api/conversations', bob.accessToken],
      [`/api/conversations/${conversationId}`, bob.accessToken],
    ];
    const before = await Promise.all(urls.map(async ([url, token]) => {
      const res = await server.request(url, token === undefined ? {} : { token });
      expect(res.status, url).toBe(200);
      return res.headers.get('etag')!;
    }));
    await rename(alice, 'Alice Renamed');
    for (const [i, [url, token]] of urls.entries()) {
      const res = await server.request(url, { ...(token === undefined ? {} : { token }), headers: { 'if-none-match': before[i]! } });
      expect(res.status, url).toBe(200);
      expect(res.headers.get('etag'), url).not.toBe(before[i]);
      expect(await res.text(), url).toContain('Alice Renamed');
    }
  });

  it("an edit with the post's tag from before its author's rename is refused (412): the tag covers the embedded author", async () => {
    const alice = await registerUser(server);
    const hers = await post(alice, 'first words');
    const tag = (await server.request(`/api/posts/${hers.id}`)).headers.get('etag')!;
    const pictured = await uploadAvatar(alice);
    const stale = await server.request(`/api/posts/${hers.id}`, { method: 'PATCH', token: alice.accessToken, headers: { 'if-match': tag }, json: { body: 'second words' } });
    expect(stale.status).toBe(412);
    const current = await server.request(`/api/posts/${hers.id}`);
    expect(((await current.json()) as Post).author.avatarUrl).toBe(pictured.avatarUrl);
    const fresh = await server.request(`/api/posts/${hers.id}`, { method: 'PATCH', token: alice.accessToken, headers: { 'if-match': current.headers.get('etag')! }, json: { body: 'second words' } });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).toBe((await server.request(`/api/posts/${hers.id}`)).headers.get('etag'));
  });

  it('the public profile carries the avatar URL and changes its ETag with it', async () => {
    const alice = await registerUser(server);
    const first = await server.request(`/api/users/${alice.username}`);
    const before = (await first.json()) as PublicUser;
    expect(before.avatarUrl).toMatch(/^\/api\/avatars\/initials\//);
    const pictured = await uploadAvatar(alice);
    const after = await server.request(`/api/users/${alice.username}`, { headers: { 'if-none-match': first.headers.get('etag')! } });
    expect(after.status).toBe(200);
    expect(((await after.json()) as PublicUser).avatarUrl).toBe(pictured.avatarUrl);
  });
});
