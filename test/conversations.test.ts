import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';

interface UserRef { id: number; username: string }
interface Conversation { id: number; members: UserRef[]; createdAt: string; lastMessageAt: string | null; version: number }
interface Message { id: number; conversationId: number; author: UserRef; body: string; createdAt: string }
interface Page<T> { items: T[]; nextCursor: string | null }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let mallory: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
  carol = await registerUser(server);
  mallory = await registerUser(server);
});
afterAll(() => server.close());

const ref = (u: TestUser): UserRef => ({ id: u.id, username: u.username });
const byId = (a: UserRef, b: UserRef) => a.id - b.id;

async function open(user: TestUser, members: string[], expected = 201): Promise<Conversation> {
  const res = await server.request('/api/conversations', { method: 'POST', token: user.accessToken, json: { members } });
  expect(res.status).toBe(expected);
  return (await res.json()) as Conversation;
}

async function send(user: TestUser, conversationId: number, body: string): Promise<Message> {
  const res = await server.request(`/api/conversations/${conversationId}/messages`, { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return (await res.json()) as Message;
}

async function myConversations(user: TestUser): Promise<Conversation[]> {
  const res = await server.request('/api/conversations?limit=100', { token: user.accessToken });
  expect(res.status).toBe(200);
  return ((await res.json()) as Page<Conversation>).items;
}

describe('opening a conversation', () => {
  it('creates it with both members (201), and returns the same one (200) when opened again by either side', async () => {
    const res = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members: [bob.username] } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toMatch(/^\/api\/conversations\/\d+$/);
    const created = (await res.json()) as Conversation;
    expect(res.headers.get('location')).toBe(`/api/conversations/${created.id}`);
    expect([...created.members].sort(byId)).toMatchObject([ref(alice), ref(bob)].sort(byId));
    expect(created.lastMessageAt).toBeNull();

    const again = await open(alice, [bob.username], 200);
    expect(again.id).toBe(created.id);
    const fromBob = await open(bob, [alice.username.toUpperCase()], 200);
    expect(fromBob.id).toBe(created.id);
    // Naming yourself as well changes nothing.
    expect((await open(alice, [bob.username, alice.username], 200)).id).toBe(created.id);
    expect((await myConversations(alice)).filter((c) => c.id === created.id)).toHaveLength(1);
  });

  it('opens a group conversation distinct from the pair', async () => {
    const pair = await open(carol, [mallory.username]);
    const group = await open(carol, [mallory.username, alice.username]);
    expect(group.id).not.toBe(pair.id);
    expect(group.members.map((m) => m.id).sort((a, b) => a - b)).toEqual([carol.id, mallory.id, alice.id].sort((a, b) => a - b));
  });

  it('refuses an unknown username with 400 naming body.members.<index>', async () => {
    const res = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members: ['nobody_here_xyz'] } });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors?.map((e) => e.field)).toEqual(['body.members.0']);

    const second = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members: [bob.username, 'ghost_user_abc'] } });
    expect(second.status).toBe(400);
    expect((await problemOf(second)).errors?.map((e) => e.field)).toEqual(['body.members.1']);
  });

  it('refuses a conversation with only yourself', async () => {
    const before = await myConversations(alice);
    for (const members of [[alice.username], [alice.username, alice.username.toUpperCase()]]) {
      const res = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members } });
      expect(res.status).toBe(400);
      const problem = await problemOf(res);
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors?.map((e) => e.field)).toEqual(['body.members']);
    }
    const empty = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members: [] } });
    expect(empty.status).toBe(400);
    expect(await myConversations(alice)).toEqual(before);
  });

  it('needs authentication', async () => {
    const res = await server.request('/api/conversations', { method: 'POST', json: { members: [bob.username] } });
    expect(res.status).toBe(401);
    expect((await server.request('/api/conversations')).status).toBe(401);
  });
});

describe('listing conversations', () => {
  it('lists only your own conversations, newest first', async () => {
    const dave = await registerUser(server);
    const erin = await registerUser(server);
    const first = await open(dave, [erin.username]);
    const second = await open(dave, [carol.username]);
    const notMine = await open(erin, [carol.username]);

    expect((await myConversations(dave)).map((c) => c.id)).toEqual([second.id, first.id]);
    expect((await myConversations(erin)).map((c) => c.id)).toEqual([notMine.id, first.id]);
    const carolIds = (await myConversations(carol)).map((c) => c.id);
    expect(carolIds).toContain(second.id);
    expect(carolIds).toContain(notMine.id);
    expect(carolIds).not.toContain(first.id);
    const fresh = await registerUser(server);
    expect(await myConversations(fresh)).toEqual([]);
  });

  it('pages with a cursor and answers 304 until a conversation changes', async () => {
    const frank = await registerUser(server);
    const partners = await Promise.all([0, 1, 2].map(() => registerUser(server)));
    const ids: number[] = [];
    for (const p of partners) ids.push((await open(frank, [p.username])).id);

    const page1 = await server.request('/api/conversations?limit=2', { token: frank.accessToken });
    const body1 = (await page1.json()) as Page<Conversation>;
    expect(body1.items.map((c) => c.id)).toEqual([ids[2], ids[1]]);
    expect(page1.headers.get('link')).toBe(`</api/conversations?limit=2&cursor=${body1.nextCursor}>; rel="next"`);
    const page2 = await server.request(`/api/conversations?limit=2&cursor=${body1.nextCursor}`, { token: frank.accessToken });
    const body2 = (await page2.json()) as Page<Conversation>;
    expect(body2).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });

    const all = await server.request('/api/conversations', { token: frank.accessToken });
    expect(all.headers.get('cache-control')).toBe('private, no-cache');
    expect(all.headers.get('vary')).toContain('Authorization');
    expect(all.headers.get('tandem-channel')).toBe(`user:${frank.id}`);
    const tag = all.headers.get('etag')!;
    expect((await server.request('/api/conversations', { token: frank.accessToken, headers: { 'if-none-match': tag } })).status).toBe(304);
    await send(partners[0]!, ids[0]!, 'news');
    const changed = await server.request('/api/conversations', { token: frank.accessToken, headers: { 'if-none-match': tag } });
    expect(changed.status).toBe(200);
    const updated = ((await changed.json()) as Page<Conversation>).items.find((c) => c.id === ids[0]);
    expect(updated?.lastMessageAt).not.toBeNull();
  });
});

describe('one conversation', () => {
  it('answers its members with the members and a private ETag that changes with a message; others get 404 and learn nothing', async () => {
    const conversation = await open(alice, [bob.username, carol.username]);
    const res = await server.request(`/api/conversations/${conversation.id}`, { token: bob.accessToken });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Conversation;
    expect(body).toEqual(conversation);
    expect([...body.members].sort(byId)).toMatchObject([ref(alice), ref(bob), ref(carol)].sort(byId));
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(res.headers.get('vary')).toContain('Authorization');
    const tag = res.headers.get('etag')!;
    expect((await server.request(`/api/conversations/${conversation.id}`, { token: bob.accessToken, headers: { 'if-none-match': tag } })).status).toBe(304);
    await send(carol, conversation.id, 'hello');
    const changed = await server.request(`/api/conversations/${conversation.id}`, { token: bob.accessToken, headers: { 'if-none-match': tag } });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as Conversation).lastMessageAt).not.toBeNull();

    const foreign = await server.request(`/api/conversations/${conversation.id}`, { token: mallory.accessToken });
    expect(foreign.status).toBe(404);
    const missing = await server.request('/api/conversations/999999', { token: mallory.accessToken });
    expect(await problemOf(missing)).toMatchObject({ code: 'not_found' });
    expect((await problemOf(foreign)).title).toBe((await problemOf(await server.request('/api/conversations/999999', { token: mallory.accessToken }))).title);
    expect((await server.request(`/api/conversations/${conversation.id}`)).status).toBe(401);
    expect((await server.request('/api/conversations/abc', { token: bob.accessToken })).status).toBe(400);
  });
});

describe('messages', () => {
  it('lets members post and list, newest first, with pagination', async () => {
    const convo = await open(alice, [carol.username]);
    const sent: Message[] = [];
    for (let i = 0; i < 7; i += 1) sent.push(await send(i % 2 === 0 ? alice : carol, convo.id, `m${i}`));
    expect(sent[0]).toMatchObject({ conversationId: convo.id, author: ref(alice), body: 'm0' });
    expect(sent[1]!.author).toMatchObject(ref(carol));

    const seen: Message[] = [];
    let next: string | null = `/api/conversations/${convo.id}/messages?limit=3`;
    let pages = 0;
    while (next !== null) {
      const res: Response = await server.request(next, { token: carol.accessToken });
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page<Message>;
      pages += 1;
      seen.push(...page.items);
      const link = res.headers.get('link');
      expect(link === null).toBe(page.nextCursor === null);
      next = link === null ? null : /^<([^>]+)>; rel="next"$/.exec(link)![1]!;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...sent].reverse());

    const after = (await myConversations(alice)).find((c) => c.id === convo.id)!;
    expect(after.lastMessageAt).toBe(sent[6]!.createdAt);
    expect(after.version).toBeGreaterThan(convo.version);
  });

  it('answers 404 (not 403) to a non-member on GET and POST, revealing none of the content', async () => {
    const convo = await open(alice, [bob.username], 200);
    const secret = await send(alice, convo.id, 'the secret plan');

    const get = await server.request(`/api/conversations/${convo.id}/messages`, { token: mallory.accessToken });
    expect(get.status).toBe(404);
    const getText = await get.text();
    expect(get.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.parse(getText)).toMatchObject({ code: 'not_found', status: 404 });
    expect(get.headers.get('etag')).toBeNull();
    expect(get.headers.get('tandem-channel')).toBeNull();
    expect(get.headers.get('tandem-position')).toBeNull();

    const post = await server.request(`/api/conversations/${convo.id}/messages`, { method: 'POST', token: mallory.accessToken, json: { body: 'let me in' } });
    expect(post.status).toBe(404);
    const postText = await post.text();
    expect(JSON.parse(postText)).toMatchObject({ code: 'not_found', status: 404 });

    for (const text of [getText, postText]) {
      expect(text).not.toContain('the secret plan');
      expect(text).not.toContain(alice.username);
      expect(text).not.toContain(bob.username);
      expect(text).not.toContain(String(secret.id));
    }
    // The same answer as for a conversation that does not exist at all.
    const missing = await server.request('/api/conversations/99999999/messages', { token: mallory.accessToken });
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).title).toBe(JSON.parse(getText).title);

    // Nothing was sent, and mallory does not see the conversation.
    const list = await server.request(`/api/conversations/${convo.id}/messages?limit=100`, { token: bob.accessToken });
    expect(((await list.json()) as Page<Message>).items.map((m) => m.body)).not.toContain('let me in');
    expect((await myConversations(mallory)).map((c) => c.id)).not.toContain(convo.id);
  });

  it('is privately cached: Cache-Control private/no-cache, Vary Authorization, ETag/304, Tandem-Channel conversation:<id>', async () => {
    const convo = await open(bob, [carol.username]);
    const first = await server.request(`/api/conversations/${convo.id}/messages`, { token: bob.accessToken });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    expect(first.headers.get('vary')).toContain('Authorization');
    expect(first.headers.get('tandem-channel')).toBe(`conversation:${convo.id}`);
    expect(first.headers.get('tandem-position')).toBe('0');
    expect(await first.json()).toEqual({ items: [], nextCursor: null });
    const tag = first.headers.get('etag')!;
    expect(tag).toMatch(/^"[^"]+"$/);

    const cached = await server.request(`/api/conversations/${convo.id}/messages`, { token: carol.accessToken, headers: { 'if-none-match': tag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('cache-control')).toBe('private, no-cache');

    await send(carol, convo.id, 'hello bob');
    const changed = await server.request(`/api/conversations/${convo.id}/messages`, { token: bob.accessToken, headers: { 'if-none-match': tag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('tandem-position')).toBe('1');
    expect(changed.headers.get('etag')).not.toBe(tag);
    expect(((await changed.json()) as Page<Message>).items.map((m) => m.body)).toEqual(['hello bob']);

    // A non-member's If-None-Match with the current tag still gets a 404, not a 304.
    const sneaky = await server.request(`/api/conversations/${convo.id}/messages`, { token: mallory.accessToken, headers: { 'if-none-match': changed.headers.get('etag')! } });
    expect(sneaky.status).toBe(404);
  });

  it('validates message bodies and needs authentication', async () => {
    const convo = await open(alice, [carol.username], 200);
    for (const json of [{ body: '' }, { body: ' \n ' }, { body: 'x'.repeat(4001) }, { text: 'hi' }]) {
      const res = await server.request(`/api/conversations/${convo.id}/messages`, { method: 'POST', token: alice.accessToken, json });
      expect(res.status).toBe(400);
      expect((await problemOf(res)).code).toBe('validation_failed');
    }
    expect((await server.request(`/api/conversations/${convo.id}/messages`)).status).toBe(401);
    expect((await server.request(`/api/conversations/${convo.id}/messages`, { method: 'POST', json: { body: 'hi' } })).status).toBe(401);
  });
});
