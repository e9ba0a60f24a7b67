import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { commentAs, postAs } from './support/social';

interface UserRef { id: number; username: string }
interface Notification {
  id: number;
  kind: 'comment' | 'reply' | 'message' | 'mention' | 'reaction';
  actor: UserRef;
  actors: UserRef[];
  actorCount: number;
  postId: number | null;
  commentId: number | null;
  conversationId: number | null;
  messageId: number | null;
  read: boolean;
  createdAt: string;
  version: number;
}
interface NotificationPage { items: Notification[]; nextCursor: string | null; unreadCount: number }

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

/** Three fresh users per test, so each test reads its own inboxes. */
async function cast(): Promise<[TestUser, TestUser, TestUser]> {
  return [await registerUser(server), await registerUser(server), await registerUser(server)];
}

const ref = (u: TestUser): UserRef => ({ id: u.id, username: u.username });

async function createPost(user: TestUser, body = 'a post'): Promise<{ id: number }> {
  return (await postAs(server, user, body)).post;
}

async function comment(user: TestUser, postId: number, body: string, parentId?: number): Promise<{ id: number }> {
  return (await commentAs(server, user, postId, body, parentId)).comment;
}

async function inbox(user: TestUser, query = '?limit=100'): Promise<NotificationPage> {
  const res = await server.request(`/api/notifications${query}`, { token: user.accessToken });
  expect(res.status).toBe(200);
  return (await res.json()) as NotificationPage;
}

async function markRead(user: TestUser, json: object): Promise<{ read: number[]; unreadCount: number }> {
  const res = await server.request('/api/notifications/read', { method: 'POST', token: user.accessToken, json });
  expect(res.status).toBe(200);
  return (await res.json()) as { read: number[]; unreadCount: number };
}

async function openDm(user: TestUser, others: TestUser[]): Promise<{ id: number }> {
  const res = await server.request('/api/conversations', { method: 'POST', token: user.accessToken, json: { members: others.map((o) => o.username) } });
  expect([200, 201]).toContain(res.status);
  return (await res.json()) as { id: number };
}

describe('notifications from comments', () => {
  it("notifies the post's author of a comment, with the actor", async () => {
    const [alice, bob] = await cast();
    const post = await createPost(alice);
    const c = await comment(bob, post.id, 'hello alice');
    const page = await inbox(alice);
    expect(page.unreadCount).toBe(1);
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ kind: 'comment', actor: ref(bob), postId: post.id, commentId: c.id, conversationId: null, messageId: null, read: false, version: 1 });
    expect(await inbox(bob)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
  });

  it("notifies the answered comment's author with 'reply' and the post's author with 'comment'", async () => {
    const [alice, bob, carol] = await cast();
    const post = await createPost(alice);
    const bobs = await comment(bob, post.id, 'first');
    const carols = await comment(carol, post.id, 'answering bob', bobs.id);

    const bobInbox = await inbox(bob);
    expect(bobInbox.items).toHaveLength(1);
    expect(bobInbox.items[0]).toMatchObject({ kind: 'reply', actor: ref(carol), postId: post.id, commentId: carols.id });
    expect(bobInbox.unreadCount).toBe(1);

    // Comments on one post group while unread (test/notification-groups.test.ts): one row, newest first.
    const aliceInbox = await inbox(alice);
    expect(aliceInbox.items.map((n) => [n.kind, n.actor.id, n.commentId, n.actors.map((a) => a.id), n.actorCount])).toEqual([
      ['comment', carol.id, carols.id, [carol.id, bob.id], 2],
    ]);
    expect(aliceInbox.unreadCount).toBe(1);
    expect((await inbox(carol)).items).toEqual([]);
  });

  it("notifies the post's author only once when they are also the answered comment's author", async () => {
    const [alice, bob] = await cast();
    const post = await createPost(alice);
    const alices = await comment(alice, post.id, 'my own thread');
    await comment(bob, post.id, 'answering alice', alices.id);
    const page = await inbox(alice);
    expect(page.items.map((n) => n.kind)).toEqual(['reply']);
    expect(page.unreadCount).toBe(1);
  });

  it('notifies nobody when you comment on your own post or answer yourself', async () => {
    const [alice, bob] = await cast();
    const post = await createPost(alice);
    const own = await comment(alice, post.id, 'talking to myself');
    await comment(alice, post.id, 'still me', own.id);
    expect(await inbox(alice)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
    expect((await inbox(bob)).items).toEqual([]);
  });
});

describe('notifications from messages', () => {
  // Messages have their own badge (the unread counts of the conversations, test/inbox.test.ts):
  // counting them on the bell too would show every message twice.
  it('a message notifies nobody: the Messages badge counts it', async () => {
    const [alice, bob, carol] = await cast();
    const convo = await openDm(alice, [bob, carol]);
    const res = await server.request(`/api/conversations/${convo.id}/messages`, { method: 'POST', token: alice.accessToken, json: { body: 'hi both' } });
    expect(res.status).toBe(201);
    for (const user of [alice, bob, carol]) expect(await inbox(user)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
  });

  it('opening a conversation alone notifies nobody', async () => {
    const [alice, bob] = await cast();
    await openDm(alice, [bob]);
    expect((await inbox(bob)).items).toEqual([]);
  });
});

describe('reading notifications', () => {
  it('lists newest first with a cursor, and the unread count covers every page', async () => {
    const [alice, bob] = await cast();
    const comments: number[] = [];
    // One post each: comments on the same post would group into one notification.
    for (let i = 0; i < 5; i += 1) comments.push((await comment(bob, (await createPost(alice)).id, `c${i}`)).id);
    const first = await inbox(alice, '?limit=2');
    expect(first.items.map((n) => n.commentId)).toEqual([comments[4], comments[3]]);
    expect(first.unreadCount).toBe(5);
    const second = await inbox(alice, `?limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((n) => n.commentId)).toEqual([comments[2], comments[1]]);
    const third = await inbox(alice, `?limit=2&cursor=${second.nextCursor}`);
    expect(third.items.map((n) => n.commentId)).toEqual([comments[0]]);
    expect(third.nextCursor).toBeNull();

    const bad = await server.request('/api/notifications?cursor=%%%', { token: alice.accessToken });
    expect(bad.status).toBe(400);
  });

  it('marks only the given ids read; {} marks all', async () => {
    const [alice, bob] = await cast();
    for (let i = 0; i < 4; i += 1) await comment(bob, (await createPost(alice)).id, `n${i}`);
    const ids = (await inbox(alice)).items.map((n) => n.id);
    expect(ids).toHaveLength(4);

    const partial = await markRead(alice, { ids: [ids[0], ids[2]] });
    expect([...partial.read].sort((a, b) => a - b)).toEqual([ids[0]!, ids[2]!].sort((a, b) => a - b));
    expect(partial.unreadCount).toBe(2);
    const after = await inbox(alice);
    expect(after.unreadCount).toBe(2);
    expect(after.items.map((n) => [n.id, n.read])).toEqual([[ids[0], true], [ids[1], false], [ids[2], true], [ids[3], false]]);
    expect(after.items[0]!.version).toBe(2);
    expect(after.items[1]!.version).toBe(1);

    // Marking already-read ids again reports nothing new.
    expect(await markRead(alice, { ids: [ids[0]] })).toEqual({ read: [], unreadCount: 2 });
    expect(await markRead(alice, { ids: [] })).toEqual({ read: [], unreadCount: 2 });

    const all = await markRead(alice, {});
    expect([...all.read].sort((a, b) => a - b)).toEqual([ids[1]!, ids[3]!].sort((a, b) => a - b));
    expect(all.unreadCount).toBe(0);
    const final = await inbox(alice);
    expect(final.unreadCount).toBe(0);
    expect(final.items.every((n) => n.read)).toBe(true);
  });

  it("ignores ids that belong to someone else: theirs stay unread", async () => {
    const [alice, bob, carol] = await cast();
    const alicePost = await createPost(alice);
    const carolPost = await createPost(carol);
    await comment(bob, alicePost.id, 'to alice');
    await comment(bob, carolPost.id, 'to carol');
    const carolIds = (await inbox(carol)).items.map((n) => n.id);
    const aliceIds = (await inbox(alice)).items.map((n) => n.id);
    expect(carolIds).toHaveLength(1);

    expect(await markRead(alice, { ids: carolIds })).toEqual({ read: [], unreadCount: 1 });
    const mixed = await markRead(alice, { ids: [...carolIds, ...aliceIds] });
    expect(mixed).toEqual({ read: aliceIds, unreadCount: 0 });
    const carolInbox = await inbox(carol);
    expect(carolInbox.unreadCount).toBe(1);
    expect(carolInbox.items.map((n) => n.read)).toEqual([false]);
    expect(carolInbox.items[0]!.version).toBe(1);
  });

  it('validates the mark-read body', async () => {
    const [alice] = await cast();
    for (const json of [{ ids: [1, 1] }, { ids: ['1'] }, { ids: [0] }, { all: true }]) {
      const res = await server.request('/api/notifications/read', { method: 'POST', token: alice.accessToken, json });
      expect(res.status).toBe(400);
      expect((await problemOf(res)).code).toBe('validation_failed');
    }
  });

  it('needs authentication and is privately cached', async () => {
    expect((await server.request('/api/notifications')).status).toBe(401);
    expect((await server.request('/api/notifications/read', { method: 'POST', json: {} })).status).toBe(401);
    const [alice] = await cast();
    const res = await server.request('/api/notifications', { token: alice.accessToken });
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(res.headers.get('vary')).toContain('Authorization');
    expect(res.headers.get('tandem-channel')).toBe(`user:${alice.id}`);
  });

  it('changes the list ETag when a notification arrives and after mark-read, and answers 304 otherwise', async () => {
    const [alice, bob] = await cast();
    const post = await createPost(alice);
    const first = await server.request('/api/notifications', { token: alice.accessToken });
    const tag0 = first.headers.get('etag')!;
    expect(tag0).toMatch(/^"[^"]+"$/);
    expect((await server.request('/api/notifications', { token: alice.accessToken, headers: { 'if-none-match': tag0 } })).status).toBe(304);

    await comment(bob, post.id, 'ping');
    const arrived = await server.request('/api/notifications', { token: alice.accessToken, headers: { 'if-none-match': tag0 } });
    expect(arrived.status).toBe(200);
    const tag1 = arrived.headers.get('etag')!;
    expect(tag1).not.toBe(tag0);
    expect(((await arrived.json()) as NotificationPage).unreadCount).toBe(1);
    expect((await server.request('/api/notifications', { token: alice.accessToken, headers: { 'if-none-match': tag1 } })).status).toBe(304);

    await markRead(alice, {});
    const read = await server.request('/api/notifications', { token: alice.accessToken, headers: { 'if-none-match': tag1 } });
    expect(read.status).toBe(200);
    const tag2 = read.headers.get('etag')!;
    expect(tag2).not.toBe(tag1);
    expect(((await read.json()) as NotificationPage).unreadCount).toBe(0);

    // A mark-read that changes nothing keeps the tag.
    await markRead(alice, {});
    expect((await server.request('/api/notifications', { token: alice.accessToken, headers: { 'if-none-match': tag2 } })).status).toBe(304);
  });
});

describe('deleting a post', () => {
  it('removes the notifications that pointed at it, and only those', async () => {
    const [alice, bob, carol] = await cast();
    const doomed = await createPost(alice, 'doomed');
    const kept = await createPost(alice, 'kept');
    const bobs = await comment(bob, doomed.id, 'on doomed');
    await comment(carol, doomed.id, 'reply on doomed', bobs.id);
    const keptComment = await comment(carol, kept.id, 'on kept');
    const convo = await openDm(carol, [alice]);
    const dm = await server.request(`/api/conversations/${convo.id}/messages`, { method: 'POST', token: carol.accessToken, json: { body: 'dm' } });
    expect(dm.status).toBe(201);

    // Bob's and carol's comments on the doomed post are one (grouped) notification; the message, none.
    expect((await inbox(alice)).unreadCount).toBe(2);
    expect((await inbox(bob)).unreadCount).toBe(1);
    const before = await server.request('/api/notifications', { token: alice.accessToken });
    const tag = before.headers.get('etag')!;

    const del = await server.request(`/api/posts/${doomed.id}`, { method: 'DELETE', token: alice.accessToken });
    expect(del.status).toBe(204);

    const aliceAfter = await inbox(alice);
    expect(aliceAfter.items.map((n) => n.kind)).toEqual(['comment']);
    expect(aliceAfter.items[0]).toMatchObject({ postId: kept.id, commentId: keptComment.id });
    expect(aliceAfter.items.some((n) => n.postId === doomed.id)).toBe(false);
    expect(aliceAfter.unreadCount).toBe(1);
    expect(await inbox(bob)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
    expect((await server.request('/api/notifications', { token: alice.accessToken, headers: { 'if-none-match': tag } })).status).toBe(200);
  });
});
