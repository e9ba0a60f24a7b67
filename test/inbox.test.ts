import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket, type Frame } from './support/realtime';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface UserRef { id: number; username: string; displayName: string; avatarUrl: string }
interface MessagePreview { id: number; author: UserRef; preview: string; createdAt: string }
interface Conversation {
  id: number;
  members: UserRef[];
  lastMessageAt: string | null;
  version: number;
  lastMessage: MessagePreview | null;
  unreadCount: number;
  lastReadMessageId: number | null;
}
interface Message { id: number; conversationId: number; body: string }
interface ReadState { conversationId: number; lastReadMessageId: number | null; unreadCount: number }

let server: TestServer;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await server.close();
});

async function open(user: TestUser, others: TestUser[]): Promise<Conversation> {
  const res = await server.request('/api/conversations', { method: 'POST', token: user.accessToken, json: { members: others.map((o) => o.username) } });
  expect([200, 201]).toContain(res.status);
  return (await res.json()) as Conversation;
}

async function send(user: TestUser, conversationId: number, body: string): Promise<Message> {
  const res = await server.request(`/api/conversations/${conversationId}/messages`, { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return (await res.json()) as Message;
}

function read(user: TestUser, conversationId: number, json: unknown): Promise<Response> {
  return server.request(`/api/conversations/${conversationId}/read`, { method: 'POST', token: user.accessToken, json });
}

async function readOk(user: TestUser, conversationId: number, messageId: number): Promise<ReadState> {
  const res = await read(user, conversationId, { messageId });
  expect(res.status).toBe(200);
  return (await res.json()) as ReadState;
}

async function list(user: TestUser): Promise<Conversation[]> {
  const res = await server.request('/api/conversations?limit=100', { token: user.accessToken });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Conversation[] }).items;
}

async function one(user: TestUser, id: number): Promise<Conversation> {
  const res = await server.request(`/api/conversations/${id}`, { token: user.accessToken });
  expect(res.status).toBe(200);
  return (await res.json()) as Conversation;
}

async function connect(user: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(server, user.accessToken);
  sockets.push(socket);
  const ack = await socket.request({ t: 'sub', ch: `user:${user.id}` });
  expect(ack.t).toBe('ack');
  return socket;
}

describe('conversations carry the last message and the unread count, for the viewer', () => {
  it('a new conversation has none; each message updates both sides; my own messages are never unread', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    expect(convo).toMatchObject({ lastMessage: null, unreadCount: 0, lastReadMessageId: null });

    const first = await send(bob, convo.id, 'hello alice');
    const second = await send(bob, convo.id, 'are you there?');
    const forAlice = (await list(alice)).find((c) => c.id === convo.id)!;
    expect(forAlice.unreadCount).toBe(2);
    expect(forAlice.lastReadMessageId).toBeNull();
    expect(forAlice.lastMessage).toMatchObject({ id: second.id, author: { id: bob.id, username: bob.username }, preview: 'are you there?' });
    expect(forAlice.lastMessage!.author.avatarUrl).toMatch(/^\/api\/avatars\//);
    // Writing moves the writer's own position: bob has nothing unread, and his position is his message.
    const forBob = await one(bob, convo.id);
    expect(forBob).toMatchObject({ unreadCount: 0, lastReadMessageId: second.id });
    expect((await one(alice, convo.id)).unreadCount).toBe(2);

    expect(await readOk(alice, convo.id, first.id)).toEqual({ conversationId: convo.id, lastReadMessageId: first.id, unreadCount: 1 });
    // Answering reads what came before.
    await send(alice, convo.id, 'yes!');
    expect((await one(alice, convo.id)).unreadCount).toBe(0);
    expect((await one(bob, convo.id)).unreadCount).toBe(1);
  });

  it('cuts the preview to 140 characters with an ellipsis, counting characters, not UTF-16 units', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    await send(bob, convo.id, `${'🙂'.repeat(139)}ab${'x'.repeat(3000)}`);
    const preview = (await one(alice, convo.id)).lastMessage!.preview;
    expect(Array.from(preview)).toHaveLength(141);
    expect(preview).toBe(`${'🙂'.repeat(139)}a…`);
    await send(bob, convo.id, 'short');
    expect((await one(alice, convo.id)).lastMessage!.preview).toBe('short');
  });

  it('answers a page of many conversations, each with its own counts', async () => {
    const alice = await registerUser(server);
    const friends = [await registerUser(server), await registerUser(server), await registerUser(server)];
    const convos = [];
    for (const [i, friend] of friends.entries()) {
      const convo = await open(friend, [alice]);
      for (let k = 0; k <= i; k += 1) await send(friend, convo.id, `m${k} from ${friend.username}`);
      convos.push(convo);
    }
    const page = await list(alice);
    expect(page.map((c) => [c.id, c.unreadCount, c.lastMessage?.preview])).toEqual(
      [...convos].reverse().map((c, j) => [c.id, 3 - j, `m${2 - j} from ${friends[2 - j]!.username}`]),
    );
  });
});

describe('the list is ordered by last activity', () => {
  it('a new message moves a conversation first; the cursor pages on from where the last one is', async () => {
    const alice = await registerUser(server);
    const friends = [await registerUser(server), await registerUser(server), await registerUser(server)];
    const convos: Conversation[] = [];
    for (const friend of friends) convos.push(await open(alice, [friend]));
    const [a, b, c] = convos.map((x) => x.id) as [number, number, number];
    const page = async (query: string) => {
      const res = await server.request(`/api/conversations${query}`, { token: alice.accessToken });
      expect(res.status).toBe(200);
      return (await res.json()) as { items: Conversation[]; nextCursor: string | null };
    };
    // Without messages, the newest opened first.
    expect((await page('?limit=10')).items.map((x) => x.id)).toEqual([c, b, a]);
    await send(friends[0]!, a, 'the oldest speaks up');
    expect((await page('?limit=10')).items.map((x) => x.id)).toEqual([a, c, b]);
    await send(alice, b, 'and now b');
    const first = await page('?limit=2');
    expect(first.items.map((x) => x.id)).toEqual([b, a]);
    const second = await page(`?limit=2&cursor=${first.nextCursor}`);
    expect(second).toMatchObject({ items: [expect.objectContaining({ id: c })], nextCursor: null });
    // A cursor naming someone else's conversation ends the list (and says nothing about it).
    const stranger = await registerUser(server);
    const theirs = await open(stranger, [friends[1]!]);
    const foreign = Buffer.from(`c1:${theirs.id}`).toString('base64url');
    expect(await page(`?limit=2&cursor=${foreign}`)).toEqual({ items: [], nextCursor: null });
  });
});

describe('POST /api/conversations/:id/read', () => {
  it('never moves back, and reading the same position twice appends nothing', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    const m1 = await send(bob, convo.id, 'one');
    const m2 = await send(bob, convo.id, 'two');
    const m3 = await send(bob, convo.id, 'three');
    expect(await readOk(alice, convo.id, m2.id)).toEqual({ conversationId: convo.id, lastReadMessageId: m2.id, unreadCount: 1 });
    const positionBefore = (await server.request('/api/conversations', { token: alice.accessToken })).headers.get('tandem-position');
    expect(await readOk(alice, convo.id, m1.id)).toEqual({ conversationId: convo.id, lastReadMessageId: m2.id, unreadCount: 1 });
    expect(await readOk(alice, convo.id, m2.id)).toEqual({ conversationId: convo.id, lastReadMessageId: m2.id, unreadCount: 1 });
    expect((await server.request('/api/conversations', { token: alice.accessToken })).headers.get('tandem-position')).toBe(positionBefore);
    expect(await readOk(alice, convo.id, m3.id)).toEqual({ conversationId: convo.id, lastReadMessageId: m3.id, unreadCount: 0 });
    // Bob's own position is his, untouched by alice's.
    expect((await one(bob, convo.id)).lastReadMessageId).toBe(m3.id);
  });

  it("refuses another conversation's message (400 naming body.messageId) and changes nothing", async () => {
    const [alice, bob, carol] = [await registerUser(server), await registerUser(server), await registerUser(server)];
    const ours = await open(alice, [bob]);
    const other = await open(alice, [carol]);
    const mine = await send(bob, ours.id, 'in ours');
    const theirs = await send(carol, other.id, 'in the other one');
    const res = await read(alice, ours.id, { messageId: theirs.id });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors?.map((e) => e.field)).toEqual(['body.messageId']);
    // A message id that does not exist is the same answer.
    const missing = await read(alice, ours.id, { messageId: 2_000_000_000 });
    expect(missing.status).toBe(400);
    expect((await problemOf(missing)).code).toBe('validation_failed');
    expect(await one(alice, ours.id)).toMatchObject({ unreadCount: 1, lastReadMessageId: null });
    expect(await one(alice, other.id)).toMatchObject({ unreadCount: 1, lastReadMessageId: null });
    expect((await readOk(alice, ours.id, mine.id)).unreadCount).toBe(0);
  });

  it("answers 404 for a conversation one is not in, even with one of its messages, and changes nothing", async () => {
    const [alice, bob, mallory] = [await registerUser(server), await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    const m = await send(bob, convo.id, 'private');
    const res = await read(mallory, convo.id, { messageId: m.id });
    expect(res.status).toBe(404);
    expect((await problemOf(res)).code).toBe('not_found');
    const nowhere = await read(mallory, 2_000_000_000, { messageId: m.id });
    expect(nowhere.status).toBe(404);
    expect((await one(alice, convo.id)).unreadCount).toBe(1);
  });

  it('refuses malformed bodies with validation_failed, and needs a token', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    for (const body of [{}, { messageId: 'one' }, { messageId: 0 }, { messageId: -3 }, { messageId: 1.5 }, { messageId: 2 ** 40 }, { messageId: 1, extra: true }, []]) {
      const res = await read(alice, convo.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await problemOf(res)).code).toBe('validation_failed');
    }
    const bad = await server.request(`/api/conversations/abc/read`, { method: 'POST', token: alice.accessToken, json: { messageId: 1 } });
    expect(bad.status).toBe(400);
    const anonymous = await server.request(`/api/conversations/${convo.id}/read`, { method: 'POST', json: { messageId: 1 } });
    expect(anonymous.status).toBe(401);
  });
});

describe('live: conversation.read reaches my other connections', () => {
  it('reading on one device pushes the position and the count on user:<me>; nobody else hears it', async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    const m1 = await send(bob, convo.id, 'one');
    const m2 = await send(bob, convo.id, 'two');
    const aliceElsewhere = await connect(alice);
    const bobSocket = await connect(bob);
    const pushed = aliceElsewhere.next((f) => f.t === 'pub' && f.ev === 'conversation.read');
    await readOk(alice, convo.id, m1.id);
    const frame: Frame = await pushed;
    expect(frame.ch).toBe(`user:${alice.id}`);
    expect(frame.d).toEqual({ conversationId: convo.id, lastReadMessageId: m1.id, unreadCount: 1 });
    const again = aliceElsewhere.next((f) => f.t === 'pub' && f.ev === 'conversation.read');
    await readOk(alice, convo.id, m2.id);
    expect((await again).d).toEqual({ conversationId: convo.id, lastReadMessageId: m2.id, unreadCount: 0 });
    // A new message reaches alice's channel too, carrying what the list needs to update.
    const live = aliceElsewhere.next((f) => f.t === 'pub' && f.ev === 'message.created');
    const m3 = await send(bob, convo.id, 'three');
    expect((await live).d).toMatchObject({ id: m3.id, conversationId: convo.id, body: 'three' });
    expect(bobSocket.frames.some((f) => f.ev === 'conversation.read')).toBe(false);
  });
});

describe('caching: the list and the item revalidate as positions move', () => {
  it("the list's ETag changes with a message and with a read, and a stale one gets the new counts", async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    const m1 = await send(bob, convo.id, 'first');
    const first = await server.request('/api/conversations', { token: alice.accessToken });
    const tag = first.headers.get('etag')!;
    expect(first.headers.get('cache-control')).toMatch(/private/);
    expect((await server.request('/api/conversations', { token: alice.accessToken, headers: { 'if-none-match': tag } })).status).toBe(304);

    await readOk(alice, convo.id, m1.id);
    const afterRead = await server.request('/api/conversations', { token: alice.accessToken, headers: { 'if-none-match': tag } });
    expect(afterRead.status).toBe(200);
    expect(((await afterRead.json()) as { items: Conversation[] }).items[0]).toMatchObject({ unreadCount: 0, lastReadMessageId: m1.id });
    const readTag = afterRead.headers.get('etag')!;
    expect(readTag).not.toBe(tag);

    await send(bob, convo.id, 'second');
    const afterMessage = await server.request('/api/conversations', { token: alice.accessToken, headers: { 'if-none-match': readTag } });
    expect(afterMessage.status).toBe(200);
    expect(((await afterMessage.json()) as { items: Conversation[] }).items[0]).toMatchObject({ unreadCount: 1, lastMessage: { preview: 'second' } });
  });

  it("one conversation's ETag is the viewer's: a read changes it, the other member's stays", async () => {
    const [alice, bob] = [await registerUser(server), await registerUser(server)];
    const convo = await open(alice, [bob]);
    const m1 = await send(bob, convo.id, 'first');
    const aliceTag = (await server.request(`/api/conversations/${convo.id}`, { token: alice.accessToken })).headers.get('etag')!;
    const bobTag = (await server.request(`/api/conversations/${convo.id}`, { token: bob.accessToken })).headers.get('etag')!;
    expect(aliceTag).not.toBe(bobTag);
    await readOk(alice, convo.id, m1.id);
    const aliceAgain = await server.request(`/api/conversations/${convo.id}`, { token: alice.accessToken, headers: { 'if-none-match': aliceTag } });
    expect(aliceAgain.status).toBe(200);
    expect(((await aliceAgain.json()) as Conversation).unreadCount).toBe(0);
    const bobAgain = await server.request(`/api/conversations/${convo.id}`, { token: bob.accessToken, headers: { 'if-none-match': bobTag } });
    expect(bobAgain.status).toBe(304);
  });
});
