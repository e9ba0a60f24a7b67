import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket } from './support/realtime';
import { registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { commentAs, postAs } from './support/social';

interface UserRef { id: number; username: string; displayName: string; avatarUrl: string }
interface Notification {
  id: number;
  kind: 'comment' | 'reply' | 'message' | 'mention' | 'reaction';
  actor: UserRef;
  actors: UserRef[];
  actorCount: number;
  postId: number | null;
  commentId: number | null;
  postExcerpt: string | null;
  commentExcerpt: string | null;
  read: boolean;
  createdAt: string;
  version: number;
}
interface NotificationPage { items: Notification[]; nextCursor: string | null; unreadCount: number }

let server: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await server.close();
});

type Users<N extends number, R extends TestUser[] = []> = R['length'] extends N ? R : Users<N, [...R, TestUser]>;

/** `n` fresh users, typed as a tuple of `n`. */
async function people<N extends number>(n: N): Promise<Users<N>> {
  const users: TestUser[] = [];
  for (let i = 0; i < n; i += 1) users.push(await registerUser(server));
  return users as Users<N>;
}

async function createPost(user: TestUser, body: string): Promise<{ id: number }> {
  return (await postAs(server, user, body)).post;
}

async function comment(user: TestUser, postId: number, body: string, parentId?: number): Promise<{ id: number }> {
  return (await commentAs(server, user, postId, body, parentId)).comment;
}

async function react(user: TestUser, target: 'post' | 'comment', id: number, reaction = 'like'): Promise<void> {
  const res = await server.request(`/api/${target}s/${id}/reactions/${reaction}`, { method: 'PUT', token: user.accessToken });
  expect(res.status).toBe(200);
}

async function inbox(user: TestUser): Promise<NotificationPage> {
  const res = await server.request('/api/notifications?limit=100', { token: user.accessToken });
  expect(res.status).toBe(200);
  return (await res.json()) as NotificationPage;
}

async function markRead(user: TestUser, ids?: number[]): Promise<void> {
  const res = await server.request('/api/notifications/read', { method: 'POST', token: user.accessToken, json: ids === undefined ? {} : { ids } });
  expect(res.status).toBe(200);
}

describe('context: what a notification is about', () => {
  it('carries the start of the post and of the comment, cut with an ellipsis', async () => {
    const [alice, bob] = await people(2);
    const post = await createPost(alice, 'Hello, Tandem!');
    const long = `nice ${'very '.repeat(40)}nice`;
    const c = await comment(bob, post.id, long);
    const [n] = (await inbox(alice)).items;
    expect(n).toMatchObject({ kind: 'comment', postId: post.id, commentId: c.id, postExcerpt: 'Hello, Tandem!', actorCount: 1 });
    expect(n!.actors.map((a) => a.id)).toEqual([bob.id]);
    expect(n!.commentExcerpt!.endsWith('…')).toBe(true);
    expect(Array.from(n!.commentExcerpt!).length).toBeLessThanOrEqual(81);
    expect(long.startsWith(n!.commentExcerpt!.slice(0, -1))).toBe(true);
  });

  it('a reply names the answering comment and the post; a reaction to a post has no comment excerpt', async () => {
    const [alice, bob, carol] = await people(3);
    const post = await createPost(alice, 'a post about tea');
    const bobs = await comment(bob, post.id, 'I like tea');
    const carols = await comment(carol, post.id, 'me too', bobs.id);
    const [reply] = (await inbox(bob)).items;
    expect(reply).toMatchObject({ kind: 'reply', commentId: carols.id, postExcerpt: 'a post about tea', commentExcerpt: 'me too' });
    await react(bob, 'post', post.id);
    const reaction = (await inbox(alice)).items.find((n) => n.kind === 'reaction');
    expect(reaction).toMatchObject({ postId: post.id, commentId: null, postExcerpt: 'a post about tea', commentExcerpt: null });
  });
});

describe('grouping repeats while unread', () => {
  it('reactions to one post from many people are one row: the latest actors first, the count of all', async () => {
    const [alice, ...fans] = await people(6);
    const post = await createPost(alice, 'likeable');
    for (const fan of fans) await react(fan, 'post', post.id);
    const page = await inbox(alice);
    expect(page.items).toHaveLength(1);
    expect(page.unreadCount).toBe(1);
    const [n] = page.items;
    expect(n!.kind).toBe('reaction');
    expect(n!.actorCount).toBe(5);
    expect(n!.actors.map((a) => a.id)).toEqual([fans[4]!.id, fans[3]!.id, fans[2]!.id]);
    expect(n!.actor.id).toBe(fans[4]!.id);
    expect(n!.version).toBe(5);
    // The same person again (another reaction) moves them first but is not counted twice.
    await react(fans[0]!, 'post', post.id, 'love');
    await react(fans[0]!, 'post', post.id, 'wow');
    const again = (await inbox(alice)).items[0]!;
    expect(again.actorCount).toBe(5);
  });

  it('groups by target: a comment and its post are separate rows, and each comment its own', async () => {
    const [alice, bob, carol] = await people(3);
    const post = await createPost(alice, 'target');
    const c1 = await comment(alice, post.id, 'first own comment');
    const c2 = await comment(alice, post.id, 'second own comment');
    await react(bob, 'post', post.id);
    await react(bob, 'comment', c1.id);
    await react(carol, 'comment', c1.id);
    await react(carol, 'comment', c2.id);
    const page = await inbox(alice);
    const rows = page.items.map((n) => [n.kind, n.commentId, n.actorCount]);
    expect(rows).toEqual([
      ['reaction', c2.id, 1],
      ['reaction', c1.id, 2],
      ['reaction', null, 1],
    ]);
    expect(page.items[1]!.commentExcerpt).toBe('first own comment');
    expect(page.unreadCount).toBe(3);
  });

  it('comments on one post group and link to the newest comment; replies and mentions stay one row each', async () => {
    const [alice, bob, carol, dave] = await people(4);
    const post = await createPost(alice, 'discuss');
    const b = await comment(bob, post.id, 'from bob');
    await comment(carol, post.id, 'from carol');
    const d = await comment(dave, post.id, 'from dave');
    const page = await inbox(alice);
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ kind: 'comment', commentId: d.id, commentExcerpt: 'from dave', actorCount: 3 });
    expect(page.items[0]!.actors.map((u) => u.id)).toEqual([dave.id, carol.id, bob.id]);

    await comment(carol, post.id, 'answer one', b.id);
    await comment(dave, post.id, 'answer two', b.id);
    const replies = (await inbox(bob)).items;
    expect(replies.map((n) => [n.kind, n.actorCount])).toEqual([['reply', 1], ['reply', 1]]);

    await comment(bob, post.id, `hey @${carol.username}`);
    await comment(dave, post.id, `also @${carol.username}`);
    const mentions = (await inbox(carol)).items.filter((n) => n.kind === 'mention');
    expect(mentions).toHaveLength(2);
  });

  it('deleting the comment a group links to keeps the group (it links to the post); a lone comment’s notification goes', async () => {
    const [alice, bob, carol] = await people(3);
    const post = await createPost(alice, 'deletions');
    await comment(bob, post.id, 'from bob');
    const carols = await comment(carol, post.id, 'from carol');
    const del = await server.request(`/api/comments/${carols.id}`, { method: 'DELETE', token: carol.accessToken });
    expect(del.status).toBe(204);
    const [kept] = (await inbox(alice)).items;
    expect(kept).toMatchObject({ kind: 'comment', postId: post.id, commentId: null, commentExcerpt: null, actorCount: 2, read: false, version: 3 });

    const other = await createPost(alice, 'a lone comment');
    const lone = await comment(bob, other.id, 'soon gone');
    expect((await inbox(alice)).items.some((n) => n.commentId === lone.id)).toBe(true);
    expect((await server.request(`/api/comments/${lone.id}`, { method: 'DELETE', token: bob.accessToken })).status).toBe(204);
    const after = await inbox(alice);
    expect(after.items.map((n) => n.postId)).toEqual([post.id]);
    expect(after.unreadCount).toBe(1);
  });

  it('once read, the next repeat starts a new row', async () => {
    const [alice, bob, carol] = await people(3);
    const post = await createPost(alice, 'again and again');
    await react(bob, 'post', post.id);
    const [first] = (await inbox(alice)).items;
    await markRead(alice, [first!.id]);
    await react(carol, 'post', post.id);
    const page = await inbox(alice);
    expect(page.items.map((n) => [n.read, n.actorCount, n.actor.id])).toEqual([[false, 1, carol.id], [true, 1, bob.id]]);
    expect(page.unreadCount).toBe(1);
  });

  it('many people at once still make one row with the right count', async () => {
    const [alice, ...fans] = await people(9);
    const post = await createPost(alice, 'a burst');
    await Promise.all(fans.map((fan) => react(fan, 'post', post.id)));
    const page = await inbox(alice);
    expect(page.items).toHaveLength(1);
    expect(page.items[0]!.actorCount).toBe(8);
    expect(page.unreadCount).toBe(1);
  });
});

describe('live: notification.updated', () => {
  it('a grouped repeat updates the row on user:<me>, and the unread count does not move', async () => {
    const [alice, bob, carol] = await people(3);
    const post = await createPost(alice, 'live one');
    const socket = await TestSocket.connect(server, alice.accessToken);
    sockets.push(socket);
    expect((await socket.request({ t: 'sub', ch: `user:${alice.id}` })).t).toBe('ack');

    const created = socket.next((f) => f.t === 'pub' && f.ev === 'notification.created');
    await react(bob, 'post', post.id);
    const first = (await created).d as Notification;
    expect(first).toMatchObject({ kind: 'reaction', actorCount: 1, postExcerpt: 'live one' });

    const updated = socket.next((f) => f.t === 'pub' && f.ev === 'notification.updated');
    await react(carol, 'post', post.id);
    const second = (await updated).d as Notification;
    expect(second).toMatchObject({ id: first.id, actorCount: 2, version: 2, read: false });
    expect(second.actors.map((a) => a.id)).toEqual([carol.id, bob.id]);
    expect(socket.frames.filter((f) => f.ev === 'notification.created')).toHaveLength(1);
    expect((await inbox(alice)).unreadCount).toBe(1);
  });
});
