import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MENTIONS, mentionedUsernames } from '../src/apps/social/mention-syntax';
import { registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { commentAs, postAs } from './support/social';

/** @mentions in posts and comments notify the people named (kind `mention`), once, within limits. */

interface Notification { id: number; kind: string; actor: { id: number }; postId: number | null; commentId: number | null }

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

async function post(user: TestUser, body: string): Promise<{ id: number; etag: string }> {
  const { res, post } = await postAs(server, user, body);
  return { id: post.id, etag: res.headers.get('etag')! };
}

async function comment(user: TestUser, postId: number, body: string, parentId?: number): Promise<{ id: number }> {
  return (await commentAs(server, user, postId, body, parentId)).comment;
}

async function notifications(user: TestUser): Promise<Notification[]> {
  const res = await server.request('/api/notifications?limit=100', { token: user.accessToken });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Notification[] }).items;
}

async function mentionsOf(user: TestUser, postId: number): Promise<Notification[]> {
  return (await notifications(user)).filter((n) => n.kind === 'mention' && n.postId === postId);
}

describe('the @mention syntax', () => {
  it('finds 3-24 character usernames, once each, in lower case, not in emails or longer runs', () => {
    expect(mentionedUsernames('hi @Bob and @bob, @carol_9! @al (too short) mail bob@example.com @' + 'x'.repeat(25))).toEqual(['bob', 'carol_9']);
    expect(mentionedUsernames('(@dave) "@erin" @frank.')).toEqual(['dave', 'erin', 'frank']);
    expect(mentionedUsernames('@@grace @hank@x')).toEqual([]);
  });
});

describe('mentions in posts', () => {
  it('notifies each mentioned user once, with the post, the actor and kind mention; not the author; unknown names ignored', async () => {
    const { id } = await post(alice, `hey @${bob.username} and @${carol.username.toUpperCase()}, also @${bob.username} again, @${alice.username} and @nobody_by_that_name`);
    const forBob = await mentionsOf(bob, id);
    expect(forBob).toHaveLength(1);
    expect(forBob[0]).toMatchObject({ kind: 'mention', actor: { id: alice.id }, postId: id, commentId: null });
    expect(await mentionsOf(carol, id)).toHaveLength(1);
    expect(await mentionsOf(alice, id)).toHaveLength(0);
  });

  it('on an edit, notifies only names the old text did not have', async () => {
    const created = await post(alice, `ping @${bob.username}`);
    const res = await server.request(`/api/posts/${created.id}`, {
      method: 'PATCH', token: alice.accessToken, json: { body: `ping @${bob.username} and now @${carol.username}` }, headers: { 'if-match': created.etag },
    });
    expect(res.status).toBe(200);
    expect(await mentionsOf(bob, created.id)).toHaveLength(1);
    expect(await mentionsOf(carol, created.id)).toHaveLength(1);
  });

  it(`caps a flood of names at ${MAX_MENTIONS} people per text`, async () => {
    const crowd = await Promise.all(Array.from({ length: MAX_MENTIONS + 3 }, () => registerUser(server)));
    const { id, etag } = await post(alice, crowd.map((u) => `@${u.username}`).join(' '));
    const notified = await Promise.all(crowd.map(async (u) => (await mentionsOf(u, id)).length));
    expect(notified).toEqual(crowd.map((_, i) => (i < MAX_MENTIONS ? 1 : 0)));
    // Nor can an edit reach the eleventh by rewriting the same text.
    await server.request(`/api/posts/${id}`, { method: 'PATCH', token: alice.accessToken, json: { body: `${crowd.map((u) => `@${u.username}`).join(' ')} edited` }, headers: { 'if-match': etag } });
    expect((await mentionsOf(crowd[MAX_MENTIONS]!, id)).length).toBe(0);
  });
});

describe('mentions in comments', () => {
  it('notifies the mentioned with the comment id; the post author and the answered author get their comment/reply notification, not a second one', async () => {
    const { id: postId } = await post(alice, 'a post by alice');
    const parent = await comment(carol, postId, 'carol says');
    const reply = await comment(bob, postId, `@${alice.username} @${carol.username} look`, parent.id);
    const aliceAll = (await notifications(alice)).filter((n) => n.postId === postId);
    expect(aliceAll.map((n) => n.kind)).toEqual(['comment']);
    const carolAll = (await notifications(carol)).filter((n) => n.postId === postId);
    expect(carolAll.map((n) => n.kind)).toEqual(['reply']);
    // A third person, mentioned in a comment, gets a mention naming the comment.
    const dave = await registerUser(server);
    const mention = await comment(bob, postId, `and @${dave.username}`);
    expect(await mentionsOf(dave, postId)).toMatchObject([{ kind: 'mention', actor: { id: bob.id }, postId, commentId: mention.id }]);
    expect(reply.id).toBeGreaterThan(parent.id);
  });

  it('a comment edit that adds a name notifies that name only; deleting the comment takes its mentions away', async () => {
    const { id: postId } = await post(alice, 'another post');
    const erin = await registerUser(server);
    const frank = await registerUser(server);
    const created = await comment(bob, postId, `hi @${erin.username}`);
    const tag = (await server.request(`/api/comments/${created.id}`)).headers.get('etag')!;
    const res = await server.request(`/api/comments/${created.id}`, {
      method: 'PATCH', token: bob.accessToken, json: { body: `hi @${erin.username} and @${frank.username}` }, headers: { 'if-match': tag },
    });
    expect(res.status).toBe(200);
    expect(await mentionsOf(erin, postId)).toHaveLength(1);
    expect(await mentionsOf(frank, postId)).toMatchObject([{ commentId: created.id }]);
    expect((await server.request(`/api/comments/${created.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    expect(await mentionsOf(erin, postId)).toHaveLength(0);
    expect(await mentionsOf(frank, postId)).toHaveLength(0);
  });
});
