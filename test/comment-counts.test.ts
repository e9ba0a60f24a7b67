import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket } from './support/realtime';
import { registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { commentAs, postAs } from './support/social';

/** Each post carries its live comment count (posts.comment_count), pushed on `feed` as post.comments. */

interface Post { id: number; commentCount: number }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterAll(() => server.close());

async function createPost(): Promise<Post> {
  return (await postAs<Post>(server, alice, 'count my comments')).post;
}

async function comment(postId: number, body = 'a comment', parentId?: number): Promise<{ id: number }> {
  return (await commentAs(server, bob, postId, body, parentId)).comment;
}

async function feedCount(postId: number): Promise<number | undefined> {
  const page = (await (await server.request('/api/posts?limit=100')).json()) as { items: Post[] };
  return page.items.find((p) => p.id === postId)?.commentCount;
}

describe('comment counts', () => {
  it('starts at 0, counts comments and replies, and a deleted comment no longer counts (feed and GET agree)', async () => {
    const post = await createPost();
    expect(post.commentCount).toBe(0);
    const first = await comment(post.id);
    await comment(post.id, 'a reply', first.id);
    await comment(post.id);
    expect(await feedCount(post.id)).toBe(3);
    expect((await server.request(`/api/comments/${first.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    expect(await feedCount(post.id)).toBe(2);
    expect(((await (await server.request(`/api/posts/${post.id}`)).json()) as Post).commentCount).toBe(2);
    // A refused delete (not the author) counts nothing down.
    const other = await comment(post.id);
    expect((await server.request(`/api/comments/${other.id}`, { method: 'DELETE', token: alice.accessToken })).status).toBe(403);
    expect(await feedCount(post.id)).toBe(3);
  });

  it("a cached feed page and a cached post revalidate to 200 with the new count after a comment", async () => {
    const post = await createPost();
    const feed = await server.request('/api/posts?limit=100');
    const feedTag = feed.headers.get('etag')!;
    const one = await server.request(`/api/posts/${post.id}`);
    const postTag = one.headers.get('etag')!;
    expect((await server.request('/api/posts?limit=100', { headers: { 'if-none-match': feedTag } })).status).toBe(304);
    await comment(post.id);
    const feedAgain = await server.request('/api/posts?limit=100', { headers: { 'if-none-match': feedTag } });
    expect(feedAgain.status).toBe(200);
    expect(((await feedAgain.json()) as { items: Post[] }).items.find((p) => p.id === post.id)?.commentCount).toBe(1);
    const postAgain = await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': postTag } });
    expect(postAgain.status).toBe(200);
    expect(((await postAgain.json()) as Post).commentCount).toBe(1);
  });

  it('pushes post.comments {id, commentCount} on feed for each comment created and deleted', async () => {
    const post = await createPost();
    const socket = await TestSocket.connect(server, alice.accessToken);
    try {
      expect((await socket.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
      const counted = (n: number) => socket.next((f) => f.t === 'pub' && f.ch === 'feed' && f.ev === 'post.comments' && (f.d as Post).id === post.id && (f.d as Post).commentCount === n);
      const one = counted(1);
      const created = await comment(post.id);
      expect((await one).d).toEqual({ id: post.id, commentCount: 1 });
      const zero = counted(0);
      await server.request(`/api/comments/${created.id}`, { method: 'DELETE', token: bob.accessToken });
      await zero;
    } finally {
      socket.close();
    }
  });
});
