import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startServer, type TestServer, type TestUser } from './support/server';

/** Security review of the social app's new features: each test fails without its fix. */

interface Notification { id: number; kind: string; postId: number | null; commentId: number | null }

let server: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await registerUser(server);
  bob = await registerUser(server);
});
afterAll(() => server.close());

async function mentionsOf(user: TestUser, postId: number): Promise<Notification[]> {
  const res = await server.request('/api/notifications?limit=100', { token: user.accessToken });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Notification[] }).items.filter((n) => n.kind === 'mention' && n.postId === postId);
}

describe('mentions', () => {
  it('an edit that takes a name out and puts it back does not notify its owner again (no notification flood by edits)', async () => {
    const created = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: `hi @${bob.username}` } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    let tag = created.headers.get('etag')!;
    for (const body of ['hi', `hi @${bob.username}`, 'hi again', `hi @${bob.username} again`]) {
      const res = await server.request(`/api/posts/${id}`, { method: 'PATCH', token: alice.accessToken, json: { body }, headers: { 'if-match': tag } });
      expect(res.status).toBe(200);
      tag = res.headers.get('etag')!;
    }
    expect(await mentionsOf(bob, id)).toHaveLength(1);
  });

  it('the same holds for a comment edited back and forth', async () => {
    const created = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'a post' } });
    const { id: postId } = (await created.json()) as { id: number };
    const carol = await registerUser(server);
    const made = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: carol.accessToken, json: { body: `@${bob.username} look` } });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: number };
    let tag = made.headers.get('etag')!;
    for (const body of ['look', `@${bob.username} look`, 'look!', `@${bob.username} look!`]) {
      const res = await server.request(`/api/comments/${id}`, { method: 'PATCH', token: carol.accessToken, json: { body }, headers: { 'if-match': tag } });
      expect(res.status).toBe(200);
      tag = res.headers.get('etag')!;
    }
    expect((await mentionsOf(bob, postId)).filter((n) => n.commentId === id)).toHaveLength(1);
  });
});

describe('session cookies', () => {
  it('a refused body refresh token leaves the browser cookie session alone (the docs page or a script cannot sign the app out)', async () => {
    const signedIn = await server.request('/api/auth/login', {
      method: 'POST', json: { username: alice.username, password: alice.password }, headers: { 'tandem-session': 'cookie' },
    });
    expect(signedIn.status).toBe(200);
    const cookies = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]!);
    expect(cookies.some((c) => c.startsWith('tandem_refresh='))).toBe(true);
    const cookie = cookies.join('; ');
    const refused = await server.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: 'not-a-real-token' }, headers: { cookie } });
    expect(refused.status).toBe(401);
    expect(refused.headers.getSetCookie()).toEqual([]);
    // The cookie's own session still refreshes.
    const refreshed = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie } });
    expect(refreshed.status).toBe(200);
  });

  it('a refused cookie refresh still clears both cookies', async () => {
    const refused = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie: 'tandem_refresh=stale; tandem_session=1' } });
    expect(refused.status).toBe(401);
    const cleared = refused.headers.getSetCookie().map((c) => c.split('=')[0]);
    expect(cleared).toEqual(expect.arrayContaining(['tandem_refresh', 'tandem_session']));
  });
});

describe('conversations', () => {
  it('two people opening the same conversation at the same moment (two nodes) get one conversation, never a 500', async () => {
    for (let i = 0; i < 8; i++) {
      const a = await registerUser(server);
      const b = await registerUser(server);
      const answers = await Promise.all([
        server.request('/api/conversations', { method: 'POST', token: a.accessToken, json: { members: [b.username] } }),
        server.request('/api/conversations', { method: 'POST', token: b.accessToken, json: { members: [a.username] } }),
        server.request('/api/conversations', { method: 'POST', token: a.accessToken, json: { members: [b.username] } }),
      ]);
      const statuses = answers.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 201), statuses.join(',')).toBe(true);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as { id: number }).id));
      expect(new Set(ids).size).toBe(1);
    }
  });
});

describe('comment counts', () => {
  it('the same comment deleted twice at the same moment (two nodes) is counted off once', async () => {
    const created = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'count me' } });
    const { id: postId } = (await created.json()) as { id: number };
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const made = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: bob.accessToken, json: { body: `comment ${i}` } });
      expect(made.status).toBe(201);
      ids.push(((await made.json()) as { id: number }).id);
    }
    // Five of the six deleted, each by two requests at once.
    for (const id of ids.slice(0, 5)) {
      const answers = await Promise.all([1, 2].map(() => server.request(`/api/comments/${id}`, { method: 'DELETE', token: bob.accessToken })));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses[0], statuses.join(',')).toBe(204);
      expect([204, 404]).toContain(statuses[1]);
    }
    const post = await server.request(`/api/posts/${postId}`);
    expect(((await post.json()) as { commentCount: number }).commentCount).toBe(1);
  });
});

describe('avatars', () => {
  it('a picture one person drops while another uploads the same picture stays (it is in use)', async (context) => {
    if (server.config.store.databaseUrl === undefined) return context.skip(); // SQLite runs one write transaction at a time
    const { setAvatar } = await import('../src/apps/social/repos/avatars');
    const { ChannelLog } = await import('../src/server/store/channel-log');
    const { avatarHash } = await import('../src/apps/social/avatar-image');
    const db = server.social.db;
    const a = await registerUser(server);
    const b = await registerUser(server);
    const bytes = Buffer.from(`not really a webp ${Date.now()} ${Math.random()}`);
    const avatar = { hash: avatarHash(bytes), bytes };
    await db.transaction().execute((trx) => setAvatar(trx, new ChannelLog(trx as never), b.id, avatar));
    // a uploads the same picture; before a's transaction commits, b drops it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let uploaded!: () => void;
    const uploadedYet = new Promise<void>((resolve) => { uploaded = resolve; });
    const upload = db.transaction().execute(async (trx) => {
      await setAvatar(trx, new ChannelLog(trx as never), a.id, avatar);
      uploaded();
      await released;
    });
    await uploadedYet;
    const drop = db.transaction().execute((trx) => setAvatar(trx, new ChannelLog(trx as never), b.id, null));
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    await Promise.all([upload, drop]);
    const user = await db.selectFrom('users').select('avatar_hash').where('id', '=', a.id).executeTakeFirstOrThrow();
    expect(user.avatar_hash).toBe(avatar.hash);
    const res = await server.request(`/api/avatars/${avatar.hash}.webp`);
    expect(res.status).toBe(200);
  });
});

describe('generated avatars', () => {
  it('every display name gets an initials URL the server answers (no broken picture for a bidi override, ß or a ligature)', async () => {
    for (const displayName of ['\u202Eevil', 'ß ß', '\uFB03 \uFB03', '\u200Bx', '\u0301 y', '\u202E\u202E', 'Ana Ñ']) {
      const user = await registerUser(server);
      const me = await server.request('/api/me', { token: user.accessToken });
      const res = await server.request('/api/me', { method: 'PATCH', token: user.accessToken, json: { displayName }, headers: { 'if-match': me.headers.get('etag')! } });
      expect(res.status, JSON.stringify(displayName)).toBe(200);
      const { avatarUrl } = (await res.json()) as { avatarUrl: string };
      const picture = await server.request(avatarUrl);
      expect(picture.status, `${JSON.stringify(displayName)} ${avatarUrl}`).toBe(200);
    }
  });
});

describe('reactions and deletions at the same moment (two nodes)', () => {
  async function setup() {
    const { ChannelLog } = await import('../src/server/store/channel-log');
    const created = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'about to go' } });
    const { id } = (await created.json()) as { id: number };
    return { db: server.social.db, id, ChannelLog };
  }

  async function leftovers(postId: number) {
    const db = server.social.db;
    const reactions = await db.selectFrom('reactions').select('user_id').where('target', '=', 'post').where('target_id', '=', postId).execute();
    const notifications = await db.selectFrom('notifications').select('id').where('post_id', '=', postId).execute();
    return { reactions: reactions.length, notifications: notifications.length };
  }

  it('a reaction that reaches a post being deleted is refused (404) and leaves no reaction or notification behind', async (context) => {
    if (server.config.store.databaseUrl === undefined) return context.skip(); // SQLite runs one write transaction at a time
    const { db, id, ChannelLog } = await setup();
    const { deletePost } = await import('../src/apps/social/repos/posts');
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let deletedYet!: () => void;
    const deleting = new Promise<void>((resolve) => { deletedYet = resolve; });
    const deletion = db.transaction().execute(async (trx) => {
      await deletePost(trx, new ChannelLog(trx as never), id);
      deletedYet();
      await released;
    });
    await deleting;
    const reaction = server.request(`/api/posts/${id}/reactions/like`, { method: 'PUT', token: bob.accessToken });
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    await deletion;
    expect((await reaction).status).toBe(404);
    expect(await leftovers(id)).toEqual({ reactions: 0, notifications: 0 });
  });

  it('a post deleted while a reaction to it is being written takes that reaction with it', async (context) => {
    if (server.config.store.databaseUrl === undefined) return context.skip();
    const { db, id } = await setup();
    const { touchPostCounts } = await import('../src/apps/social/repos/posts');
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let writtenYet!: () => void;
    const written = new Promise<void>((resolve) => { writtenYet = resolve; });
    // What PUT /api/posts/:id/reactions/like writes, held open.
    const reacting = db.transaction().execute(async (trx) => {
      await trx.insertInto('reactions').values({ target: 'post', target_id: id, user_id: bob.id, reaction: 'like', created_at: new Date().toISOString() }).execute();
      expect(await touchPostCounts(trx, id)).toBe(true);
      writtenYet();
      await released;
    });
    await written;
    const deletion = server.request(`/api/posts/${id}`, { method: 'DELETE', token: alice.accessToken });
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    await reacting;
    expect((await deletion).status).toBe(204);
    expect(await leftovers(id)).toEqual({ reactions: 0, notifications: 0 });
  });
});
