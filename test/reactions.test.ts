import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Frame, TestSocket } from './support/realtime';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

/** Reactions: REST (idempotent, limited, hostile input), counts in items and lists, ETags, live coalesced frames, notifications. */

type Counts = Record<string, number>;
interface State { target: string; id: number; reactions: Counts; mine: string[] }
interface Changed { posts: Array<{ id: number; reactions: Counts }>; comments: Array<{ id: number; postId: number; reactions: Counts }> }

const BURST = 12;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  // A small budget per user, so a flood is cheap to show; a short interval, so live tests are quick.
  server = await startServer({ env: { TANDEM_REACTION_BURST: String(BURST), TANDEM_REACTION_RATE: '60', TANDEM_REACTION_INTERVAL_MS: '200' } });
  alice = await registerUser(server);
});
afterAll(() => server.close());
// Each test's reactor has a full budget of their own.
beforeEach(async () => {
  bob = await registerUser(server);
});

async function createPost(user: TestUser, body = 'a post'): Promise<{ id: number }> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number };
}

async function createComment(user: TestUser, postId: number, body = 'a comment'): Promise<{ id: number }> {
  const res = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number };
}

function react(user: TestUser, path: string, method: 'PUT' | 'DELETE' = 'PUT'): Promise<Response> {
  return server.request(`/api/${path}`, { method, token: user.accessToken });
}

async function state(res: Response): Promise<State> {
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return (await res.json()) as State;
}

async function reactionNotifications(user: TestUser): Promise<Array<{ kind: string; postId: number | null; commentId: number | null }>> {
  const res = await server.request('/api/notifications?limit=100', { token: user.accessToken });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Array<{ kind: string; postId: number | null; commentId: number | null }> }).items.filter((n) => n.kind === 'reaction');
}

describe('reacting over REST', () => {
  it('is idempotent: PUT twice counts once, DELETE takes it back, DELETE of nothing answers the same state', async () => {
    const carol = await registerUser(server);
    const post = await createPost(alice);
    expect(await state(await react(bob, `posts/${post.id}/reactions/like`))).toEqual({ target: 'post', id: post.id, reactions: { like: 1 }, mine: ['like'] });
    expect(await state(await react(bob, `posts/${post.id}/reactions/like`))).toEqual({ target: 'post', id: post.id, reactions: { like: 1 }, mine: ['like'] });
    expect(await state(await react(carol, `posts/${post.id}/reactions/love`))).toEqual({ target: 'post', id: post.id, reactions: { like: 1, love: 1 }, mine: ['love'] });
    expect(await state(await react(bob, `posts/${post.id}/reactions/love`))).toMatchObject({ reactions: { like: 1, love: 2 }, mine: ['like', 'love'] });
    expect(await state(await react(bob, `posts/${post.id}/reactions/like`, 'DELETE'))).toMatchObject({ reactions: { love: 2 }, mine: ['love'] });
    expect(await state(await react(bob, `posts/${post.id}/reactions/like`, 'DELETE'))).toMatchObject({ reactions: { love: 2 }, mine: ['love'] });
    // Nobody takes back another's reaction: a DELETE only ever names the caller's own.
    expect(await state(await react(alice, `posts/${post.id}/reactions/love`, 'DELETE'))).toMatchObject({ reactions: { love: 2 }, mine: [] });
    const read = (await (await server.request(`/api/posts/${post.id}`)).json()) as { reactions: Counts };
    expect(read.reactions).toEqual({ love: 2 });
  });

  it('works on comments, and their counts are in the comment list', async () => {
    const post = await createPost(alice);
    const first = await createComment(alice, post.id, 'first');
    const second = await createComment(bob, post.id, 'second');
    const listTag = (await server.request(`/api/posts/${post.id}/comments`)).headers.get('etag')!;
    await state(await react(bob, `comments/${first.id}/reactions/laugh`));
    await state(await react(alice, `comments/${first.id}/reactions/laugh`));
    await state(await react(alice, `comments/${second.id}/reactions/wow`));
    const list = (await (await server.request(`/api/posts/${post.id}/comments`)).json()) as { items: Array<{ id: number; reactions: Counts }> };
    expect(list.items.map((c) => [c.id, c.reactions])).toEqual([[first.id, { laugh: 2 }], [second.id, { wow: 1 }]]);
    // The list's ETag follows post:<id>, which the coalesced frame moved.
    let revalidated = 304;
    for (let i = 0; i < 50 && revalidated === 304; i++) {
      revalidated = (await server.request(`/api/posts/${post.id}/comments`, { headers: { 'if-none-match': listTag } })).status;
      if (revalidated === 304) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(revalidated).toBe(200);
    const postRead = (await (await server.request(`/api/posts/${post.id}`)).json()) as { reactions: Counts };
    expect(postRead.reactions).toEqual({});
  });

  it('shows counts in the feed, only the non-zero ones, and changes the ETags of the post and of the feed', async () => {
    const post = await createPost(alice);
    const untouched = await createPost(alice, 'nobody reacts to this one');
    const item = await server.request(`/api/posts/${post.id}`);
    const itemTag = item.headers.get('etag')!;
    const feedTag = (await server.request('/api/posts')).headers.get('etag')!;
    await state(await react(bob, `posts/${post.id}/reactions/sad`));
    const after = await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': itemTag } });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { reactions: Counts }).reactions).toEqual({ sad: 1 });
    // The feed's ETag follows its channel: the coalesced frame moves it within the interval.
    let feed: Response | undefined;
    for (let i = 0; i < 50; i++) {
      feed = await server.request('/api/posts', { headers: { 'if-none-match': feedTag } });
      if (feed.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(feed!.status).toBe(200);
    const items = ((await feed!.json()) as { items: Array<{ id: number; reactions: Counts }> }).items;
    expect(items.find((p) => p.id === post.id)!.reactions).toEqual({ sad: 1 });
    expect(items.find((p) => p.id === untouched.id)!.reactions).toEqual({});
    // Unreacting changes the post's tag again (a cached copy never shows the old count).
    const tagged = (await server.request(`/api/posts/${post.id}`)).headers.get('etag')!;
    await state(await react(bob, `posts/${post.id}/reactions/sad`, 'DELETE'));
    expect((await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': tagged } })).status).toBe(200);
    // A PUT that changes nothing leaves the tag alone.
    const still = (await server.request(`/api/posts/${post.id}`)).headers.get('etag')!;
    await state(await react(bob, `posts/${post.id}/reactions/sad`, 'DELETE'));
    expect((await server.request(`/api/posts/${post.id}`, { headers: { 'if-none-match': still } })).status).toBe(304);
  });

  it('answers your own reactions privately, for bounded lists of ids', async () => {
    const post = await createPost(alice);
    const other = await createPost(alice);
    const comment = await createComment(alice, post.id);
    await state(await react(bob, `posts/${post.id}/reactions/wow`));
    await state(await react(bob, `posts/${post.id}/reactions/like`));
    await state(await react(bob, `comments/${comment.id}/reactions/love`));
    const res = await server.request(`/api/me/reactions?posts=${post.id},${other.id}&comments=${comment.id}`, { token: bob.accessToken });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(await res.json()).toEqual({ posts: { [post.id]: ['like', 'wow'] }, comments: { [comment.id]: ['love'] } });
    const alices = await server.request(`/api/me/reactions?posts=${post.id}`, { token: alice.accessToken });
    expect(await alices.json()).toEqual({ posts: {}, comments: {} });
    expect((await server.request(`/api/me/reactions?posts=${post.id}`)).status).toBe(401);
    const many = Array.from({ length: 101 }, (_, i) => i + 1).join(',');
    const tooMany = await server.request(`/api/me/reactions?posts=${many}`, { token: bob.accessToken });
    expect(tooMany.status).toBe(400);
    expect((await problemOf(tooMany)).code).toBe('validation_failed');
    for (const bad of ['posts=abc', 'posts=1,,2', 'posts=-1', 'posts=01', 'posts=99999999999', 'users=1']) {
      const res = await server.request(`/api/me/reactions?${bad}`, { token: bob.accessToken });
      expect(res.status, bad).toBe(400);
    }
    // Ids past any id name nothing (and do not fail).
    expect(await (await server.request('/api/me/reactions?posts=9999999999', { token: bob.accessToken })).json()).toEqual({ posts: {}, comments: {} });
  });
});

describe('hostile reactions', () => {
  it('refuses unknown reactions, other types and impossible ids with a coded error, and changes nothing', async () => {
    const post = await createPost(alice);
    for (const path of [
      `posts/${post.id}/reactions/angry`, `posts/${post.id}/reactions/LIKE`, `posts/${post.id}/reactions/%F0%9F%91%8D`, `posts/${post.id}/reactions/${'x'.repeat(90)}`,
      'posts/abc/reactions/like', 'posts/0/reactions/like', 'posts/-3/reactions/like', 'posts/1.5/reactions/like', 'posts/99999999999999999999/reactions/like',
      'comments/2147483648/reactions/like',
    ]) {
      const res = await react(bob, path);
      expect(res.status, path).toBe(400);
      expect((await problemOf(res)).code, path).toBe('validation_failed');
    }
    // A path too long for any route is not one.
    const huge = await react(bob, `posts/${post.id}/reactions/${'x'.repeat(5000)}`);
    expect(huge.status).toBe(404);
    expect((await problemOf(huge)).code).toBe('not_found');
    const body = await server.request(`/api/posts/${post.id}/reactions/like`, { method: 'PUT', token: bob.accessToken, json: { reaction: 'love', count: 1000 } });
    expect(body.status).toBe(200); // a body is ignored: the reaction is in the path
    expect(((await body.json()) as State).reactions).toEqual({ like: 1 });
    const read = (await (await server.request(`/api/posts/${post.id}`)).json()) as { reactions: Counts };
    expect(read.reactions).toEqual({ like: 1 });
  });

  it('needs a session', async () => {
    const post = await createPost(alice);
    const res = await server.request(`/api/posts/${post.id}/reactions/like`, { method: 'PUT' });
    expect(res.status).toBe(401);
    const forged = await server.request(`/api/posts/${post.id}/reactions/like`, { method: 'PUT', token: 'not.a.token' });
    expect(forged.status).toBe(401);
    expect(((await (await server.request(`/api/posts/${post.id}`)).json()) as { reactions: Counts }).reactions).toEqual({});
  });

  it('answers 404 for missing, deleted posts and deleted comments, and deleting takes their reactions along', async () => {
    expect((await problemOf(await react(bob, 'posts/2147483647/reactions/like'))).code).toBe('not_found');
    expect((await react(bob, 'comments/2147483647/reactions/like')).status).toBe(404);
    const post = await createPost(alice);
    const comment = await createComment(bob, post.id);
    await state(await react(bob, `posts/${post.id}/reactions/like`));
    await state(await react(alice, `comments/${comment.id}/reactions/love`));
    expect((await server.request(`/api/comments/${comment.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    const gone = await react(alice, `comments/${comment.id}/reactions/wow`);
    expect(gone.status).toBe(404);
    expect((await problemOf(gone)).code).toBe('not_found');
    const list = (await (await server.request(`/api/posts/${post.id}/comments`)).json()) as { items: Array<{ id: number; deleted: boolean; reactions: Counts }> };
    expect(list.items[0]).toMatchObject({ id: comment.id, deleted: true, reactions: {} });
    expect(await (await server.request(`/api/me/reactions?comments=${comment.id}`, { token: alice.accessToken })).json()).toEqual({ posts: {}, comments: {} });

    const comment2 = await createComment(bob, post.id);
    await state(await react(alice, `comments/${comment2.id}/reactions/love`));
    expect((await server.request(`/api/posts/${post.id}`, { method: 'DELETE', token: alice.accessToken })).status).toBe(204);
    expect((await react(bob, `posts/${post.id}/reactions/like`)).status).toBe(404);
    expect((await react(bob, `posts/${post.id}/reactions/like`, 'DELETE')).status).toBe(404);
    expect((await react(alice, `comments/${comment2.id}/reactions/like`)).status).toBe(404);
    const left = await server.social.db.selectFrom('reactions').select('target_id').where((eb) => eb.or([
      eb.and([eb('target', '=', 'post'), eb('target_id', '=', post.id)]),
      eb.and([eb('target', '=', 'comment'), eb('target_id', 'in', [comment.id, comment2.id])]),
    ])).execute();
    expect(left).toEqual([]);
  });

  it('refuses a flood from one user with 429 rate_limited and Retry-After, and counts nothing beyond the limit', async () => {
    const flooder = await registerUser(server);
    const posts = await Promise.all(Array.from({ length: 6 }, () => createPost(alice)));
    const paths = posts.flatMap((p) => ['like', 'love', 'laugh', 'wow', 'sad'].map((r) => `posts/${p.id}/reactions/${r}`));
    const answers = await Promise.all(paths.map((path) => react(flooder, path)));
    const allowed = answers.filter((res) => res.status === 200).length;
    const refused = answers.filter((res) => res.status === 429);
    expect(allowed + refused.length).toBe(paths.length);
    // The budget is the burst (a token may come back while the flood runs: 1 per second here).
    expect(allowed).toBeGreaterThanOrEqual(BURST);
    expect(allowed).toBeLessThanOrEqual(BURST + 2);
    const problem = await problemOf(refused[0]!);
    expect(problem.code).toBe('rate_limited');
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const stored = await server.social.db.selectFrom('reactions').select('target_id').where('user_id', '=', flooder.id).execute();
    expect(stored.length).toBe(allowed);
    // Another user is not held back by the flooder.
    expect((await react(bob, `posts/${posts[0]!.id}/reactions/like`)).status).toBe(200);
  });
});

describe('the author is told', () => {
  it('once per person and target, not for toggles, unreactions or their own reactions', async () => {
    const author = await registerUser(server);
    const carol = await registerUser(server);
    const post = await createPost(author);
    const comment = await createComment(author, post.id);
    await state(await react(bob, `posts/${post.id}/reactions/like`));
    await state(await react(bob, `posts/${post.id}/reactions/like`, 'DELETE'));
    await state(await react(bob, `posts/${post.id}/reactions/like`));
    await state(await react(bob, `posts/${post.id}/reactions/love`));
    await state(await react(author, `posts/${post.id}/reactions/like`));
    await state(await react(carol, `posts/${post.id}/reactions/wow`, 'DELETE'));
    await state(await react(carol, `comments/${comment.id}/reactions/laugh`));
    const told = await reactionNotifications(author);
    // bob on the post (once) and carol on the comment; D's grouping may fold bob's into one row anyway.
    expect(told.filter((n) => n.commentId === null && n.postId === post.id).length).toBe(1);
    expect(told.filter((n) => n.commentId === comment.id).length).toBe(1);
    expect(await reactionNotifications(bob)).toEqual([]);
  });
});

describe('live counts', () => {
  it('coalesces a burst: many reactions become a handful of frames on post:<id> and on feed, the last one current', async () => {
    const post = await createPost(alice);
    const comment = await createComment(alice, post.id);
    const people = await Promise.all(Array.from({ length: 30 }, () => registerUser(server)));
    const watcher = await TestSocket.connect(server, alice.accessToken);
    try {
      expect((await watcher.request({ t: 'sub', ch: `post:${post.id}` })).t).toBe('ack');
      expect((await watcher.request({ t: 'sub', ch: 'feed' })).t).toBe('ack');
      const started = performance.now();
      await Promise.all(people.map(async (p) => state(await react(p, `posts/${post.id}/reactions/like`))));
      await Promise.all(people.slice(0, 10).map(async (p) => state(await react(p, `comments/${comment.id}/reactions/love`))));
      const final = (f: Frame) => {
        if (f.t !== 'pub' || f.ev !== 'reactions.changed') return false;
        const d = f.d as Changed;
        return d.comments.some((c) => c.id === comment.id && c.reactions.love === 10);
      };
      if (!watcher.frames.some(final)) await watcher.next(final, 5_000);
      const onFeed = () => watcher.publications('feed').filter((f) => f.ev === 'reactions.changed');
      const lastFeed = (f: Frame) => (f.d as Changed).posts.some((p) => p.id === post.id && p.reactions.like === 30);
      if (!onFeed().some(lastFeed)) await watcher.next((f) => f.t === 'pub' && f.ch === 'feed' && f.ev === 'reactions.changed' && lastFeed(f), 5_000);
      const elapsed = performance.now() - started;
      const onPost = watcher.publications(`post:${post.id}`).filter((f) => f.ev === 'reactions.changed');
      // 40 changes on post:<id> (30 on feed) became at most one frame per 200 ms interval, not one each.
      const intervals = Math.ceil(elapsed / 200) + 1;
      expect(onPost.length).toBeLessThanOrEqual(Math.min(intervals, 20));
      expect(onFeed().length).toBeLessThanOrEqual(Math.min(intervals, 15));
      const lastPost = onPost.map((f) => f.d as Changed).flatMap((d) => d.posts).filter((p) => p.id === post.id).at(-1);
      expect(lastPost?.reactions).toEqual({ like: 30 });
      expect(onFeed().every((f) => (f.d as Changed).comments.length === 0)).toBe(true);
    } finally {
      watcher.close();
    }
  });
});

describe('the naive side (TANDEM_REACTION_PUSH_EACH, for the benchmark)', () => {
  it('appends one frame per change, in the change’s own transaction', async () => {
    const naive = await startServer({ env: { TANDEM_REACTION_PUSH_EACH: 'true' } });
    const watcher = await (async () => {
      const author = await registerUser(naive);
      const created = await naive.request('/api/posts', { method: 'POST', token: author.accessToken, json: { body: 'each' } });
      const post = (await created.json()) as { id: number };
      const socket = await TestSocket.connect(naive, author.accessToken);
      return { socket, post };
    })();
    try {
      const { socket, post } = watcher;
      expect((await socket.request({ t: 'sub', ch: `post:${post.id}` })).t).toBe('ack');
      const people = await Promise.all(Array.from({ length: 5 }, () => registerUser(naive)));
      for (const p of people) expect((await naive.request(`/api/posts/${post.id}/reactions/like`, { method: 'PUT', token: p.accessToken })).status).toBe(200);
      // A second PUT changes nothing, so it publishes nothing.
      expect((await naive.request(`/api/posts/${post.id}/reactions/like`, { method: 'PUT', token: people[0]!.accessToken })).status).toBe(200);
      const last = (f: Frame) => f.t === 'pub' && f.ev === 'reactions.changed' && (f.d as Changed).posts[0]?.reactions.like === 5;
      if (!socket.frames.some(last)) await socket.next(last);
      const frames = socket.publications(`post:${post.id}`).filter((f) => f.ev === 'reactions.changed');
      expect(frames.map((f) => (f.d as Changed).posts[0]!.reactions.like)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      watcher.socket.close();
      await naive.close();
    }
  });
});
