import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocialClient } from '../src/apps/social/client';
import { TandemClientError } from '../src/client/index';
import { TestSocket } from './support/realtime';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { commentAs, postAs } from './support/social';

/** Editing comments (PATCH /api/comments/:id with If-Match), reading one, and edits of posts racing. */

interface Post { id: number; body: string; version: number; commentCount: number; createdAt: string; updatedAt: string }
interface Comment { id: number; postId: number; body: string | null; deleted: boolean; createdAt: string; editedAt: string | null; version: number }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterAll(() => server.close());

async function createPost(user: TestUser, body = 'a post'): Promise<{ post: Post; etag: string }> {
  const { res, post } = await postAs<Post>(server, user, body);
  return { post, etag: res.headers.get('etag')! };
}

async function comment(user: TestUser, postId: number, body: string): Promise<Comment> {
  return (await commentAs<Comment>(server, user, postId, body)).comment;
}

/** The comment as GET answers it, with its ETag. */
async function read(id: number): Promise<{ status: number; comment: Comment; etag: string }> {
  const res = await server.request(`/api/comments/${id}`);
  return { status: res.status, comment: res.status === 200 ? ((await res.json()) as Comment) : ({} as Comment), etag: res.headers.get('etag') ?? '' };
}

function edit(user: TestUser, id: number, body: unknown, ifMatch?: string): Promise<Response> {
  return server.request(`/api/comments/${id}`, {
    method: 'PATCH', token: user.accessToken, json: { body }, headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
  });
}

describe('GET /api/comments/:id', () => {
  it('answers one comment with a strong ETag, editedAt null, and 304 on revalidation', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'hello');
    const first = await read(created.id);
    expect(first.status).toBe(200);
    expect(first.comment).toMatchObject({ id: created.id, postId: post.id, body: 'hello', editedAt: null, version: 1 });
    expect(first.etag).toBe(`"comment.${created.id}.v1.c0.a1"`);
    const again = await server.request(`/api/comments/${created.id}`, { headers: { 'if-none-match': first.etag } });
    expect(again.status).toBe(304);
  });

  it('answers 404 not_found for a missing or deleted comment', async () => {
    expect((await problemOf(await server.request('/api/comments/999999'))).code).toBe('not_found');
    const { post } = await createPost(alice);
    const gone = await comment(bob, post.id, 'soon gone');
    expect((await server.request(`/api/comments/${gone.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    const res = await server.request(`/api/comments/${gone.id}`);
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe('not_found');
  });
});

describe('PATCH /api/comments/:id', () => {
  it('edits your comment with the current ETag: new text, editedAt set, version up, a new ETag that GET agrees with', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'frist');
    const { etag } = await read(created.id);
    const res = await edit(bob, created.id, 'first (typo fixed)', etag);
    expect(res.status).toBe(200);
    const edited = (await res.json()) as Comment;
    expect(edited).toMatchObject({ id: created.id, body: 'first (typo fixed)', version: 2, deleted: false });
    expect(edited.editedAt).not.toBeNull();
    expect(Date.parse(edited.editedAt!)).toBeGreaterThanOrEqual(Date.parse(created.createdAt));
    const now = await read(created.id);
    expect(res.headers.get('etag')).toBe(now.etag);
    expect(now.comment.body).toBe('first (typo fixed)');
    const listed = (await (await server.request(`/api/posts/${post.id}/comments`)).json()) as { items: Comment[] };
    expect(listed.items.find((c) => c.id === created.id)).toMatchObject({ body: 'first (typo fixed)', editedAt: edited.editedAt });
  });

  it('without If-Match edits as PATCH /api/posts/:id does (the header is optional; no 428)', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'no tag');
    const res = await edit(bob, created.id, 'edited without a tag');
    expect(res.status).toBe(200);
    expect(((await res.json()) as Comment).body).toBe('edited without a tag');
  });

  it('refuses a stale ETag with 412 precondition_failed, names the current one, and changes nothing', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'v1');
    const stale = (await read(created.id)).etag;
    expect((await edit(bob, created.id, 'v2', stale)).status).toBe(200);
    const current = await read(created.id);
    const res = await edit(bob, created.id, 'v3 from a stale copy', stale);
    expect(res.status).toBe(412);
    expect((await problemOf(res)).code).toBe('precondition_failed');
    expect(res.headers.get('etag')).toBe(current.etag);
    expect(await read(created.id)).toEqual(current);
  });

  it('refuses a weak tag (strong comparison) and a tag of another comment with 412', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'strong only');
    const other = await comment(bob, post.id, 'another');
    const { etag } = await read(created.id);
    const before = await read(created.id);
    for (const tag of [`W/${etag}`, (await read(other.id)).etag, '"garbage"', 'not even quoted']) {
      const res = await edit(bob, created.id, 'should not land', tag);
      expect(res.status, tag).toBe(412);
      expect((await problemOf(res)).code).toBe('precondition_failed');
    }
    expect(await read(created.id)).toEqual(before);
  });

  it("refuses someone else's comment with 403 forbidden, even with the right tag", async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, "bob's words");
    const before = await read(created.id);
    const res = await edit(alice, created.id, "alice's words", before.etag);
    expect(res.status).toBe(403);
    expect((await problemOf(res)).code).toBe('forbidden');
    expect(await read(created.id)).toEqual(before);
  });

  it('answers 404 for a deleted or missing comment, and 401 signed out', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'to delete');
    const { etag } = await read(created.id);
    await server.request(`/api/comments/${created.id}`, { method: 'DELETE', token: bob.accessToken });
    const res = await edit(bob, created.id, 'back from the dead', etag);
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe('not_found');
    const listed = (await (await server.request(`/api/posts/${post.id}/comments`)).json()) as { items: Comment[] };
    expect(listed.items[0]).toMatchObject({ deleted: true, body: null, editedAt: null });
    expect((await problemOf(await edit(bob, 2_000_000_000, 'nothing there'))).code).toBe('not_found');
    const anonymous = await server.request(`/api/comments/${created.id}`, { method: 'PATCH', json: { body: 'x' } });
    expect(anonymous.status).toBe(401);
  });

  it('refuses empty, whitespace-only, oversized, wrongly typed and extra-field bodies with 400, changing nothing', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'keep me');
    const before = await read(created.id);
    for (const body of ['', '   \n\t ', 'x'.repeat(2001), 42, null, ['a'], { a: 1 }]) {
      const res = await edit(bob, created.id, body, before.etag);
      expect(res.status, JSON.stringify(body).slice(0, 20)).toBe(400);
      expect((await problemOf(res)).code).toBe('validation_failed');
    }
    const extra = await server.request(`/api/comments/${created.id}`, { method: 'PATCH', token: bob.accessToken, json: { body: 'ok', postId: 1 } });
    expect(extra.status).toBe(400);
    const notJson = await server.request(`/api/comments/${created.id}`, { method: 'PATCH', token: bob.accessToken, body: 'body=x', headers: { 'content-type': 'text/plain' } });
    expect(notJson.status).toBe(415);
    for (const id of ['abc', '0', '-1', '1.5', '99999999999']) {
      expect((await server.request(`/api/comments/${id}`, { method: 'PATCH', token: bob.accessToken, json: { body: 'x' } })).status, id).toBe(400);
    }
    expect(await read(created.id)).toEqual(before);
    expect((await edit(bob, created.id, 'x'.repeat(2000), before.etag)).status).toBe(200);
  });

  it('announces comment.updated on post:<id> with the edited comment', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'live?');
    const socket = await TestSocket.connect(server, alice.accessToken);
    try {
      expect((await socket.request({ t: 'sub', ch: `post:${post.id}` })).t).toBe('ack');
      const updated = socket.next((f) => f.t === 'pub' && f.ev === 'comment.updated');
      const res = await edit(bob, created.id, 'live!', (await read(created.id)).etag);
      expect(res.status).toBe(200);
      const frame = await updated;
      expect(frame.ch).toBe(`post:${post.id}`);
      expect(frame.d).toEqual(await res.json());
    } finally {
      socket.close();
    }
  });
});

describe('two editors with the same tag', () => {
  it('of two comment edits sent at once against the same ETag exactly one wins; the other gets 412 and its text is nowhere', async () => {
    const { post } = await createPost(alice);
    const created = await comment(bob, post.id, 'the original');
    const { etag } = await read(created.id);
    for (let round = 0; round < 3; round += 1) {
      const tag = round === 0 ? etag : (await read(created.id)).etag;
      const answers = await Promise.all([edit(bob, created.id, `first editor ${round}`, tag), edit(bob, created.id, `second editor ${round}`, tag)]);
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 412]);
      const winner = (await answers.find((r) => r.status === 200)!.json()) as Comment;
      const now = await read(created.id);
      expect(now.comment.body).toBe(winner.body);
      expect(now.comment.version).toBe(round + 2);
    }
  });

  it('of two post edits sent at once against the same ETag exactly one wins; the loser sees the winner on re-read', async () => {
    const { post, etag } = await createPost(alice, 'draft');
    const patch = (body: string, tag: string) => server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body }, headers: { 'if-match': tag } });
    const answers = await Promise.all([patch('from the laptop', etag), patch('from the phone', etag)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 412]);
    const winner = (await answers.find((r) => r.status === 200)!.json()) as Post;
    const current = (await (await server.request(`/api/posts/${post.id}`)).json()) as Post;
    expect(current).toMatchObject({ body: winner.body, version: 2 });
  });

  it('a comment on the post changes its ETag: an edit against the old tag is refused, and the re-read tag (same text) works', async () => {
    const { post, etag } = await createPost(alice, 'unchanged text');
    await comment(bob, post.id, 'a comment bumps the counts');
    const refused = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'edit' }, headers: { 'if-match': etag } });
    expect(refused.status).toBe(412);
    const reread = await server.request(`/api/posts/${post.id}`);
    const fresh = reread.headers.get('etag')!;
    expect(fresh).not.toBe(etag);
    expect(((await reread.json()) as Post).body).toBe('unchanged text');
    const ok = await server.request(`/api/posts/${post.id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'edit' }, headers: { 'if-match': fresh } });
    expect(ok.status).toBe(200);
  });
});

describe('the typed client (SocialClient.getComment, updateComment)', () => {
  it('edits with the tag a GET gave, and a stale tag fails with a TandemClientError coded precondition_failed', async () => {
    const api = new SocialClient({ baseUrl: server.url });
    await api.login({ username: bob.username, password: bob.password });
    const { post } = await createPost(alice);
    const created = await api.createComment(post.id, { body: 'typed' });
    expect(await api.getComment(created.id)).toMatchObject({ id: created.id, body: 'typed', editedAt: null });
    const { etag } = await api.request<Comment>({ method: 'GET', path: `/api/comments/${created.id}`, auth: 'none' });
    const edited = await api.updateComment(created.id, { body: 'typed, edited' }, { ifMatch: etag });
    expect(edited.body).toBe('typed, edited');
    const stale = await api.updateComment(created.id, { body: 'lost' }, { ifMatch: etag }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(TandemClientError);
    expect((stale as TandemClientError).code).toBe('precondition_failed');
    expect((await api.getComment(created.id)).body).toBe('typed, edited');
  });
});
