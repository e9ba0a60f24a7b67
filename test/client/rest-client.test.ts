import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SocialClient } from '../../src/apps/social/client';
import { TandemClientError, type RestClientOptions } from '../../src/client/index';
import { registerUser, startServer, type TestServer } from '../support/server';
import { singleNode } from '../support/target';
import { sleep } from '../support/wait';

interface Exchange {
  method: string;
  path: string;
  status: number | 'threw';
  headers: Headers;
  at: number;
}

/** globalThis.fetch with a log of every exchange, and an optional hook that may throw after the answer. */
function recordingFetch(afterAnswer?: (exchange: Exchange) => void) {
  const log: Exchange[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const exchange: Exchange = { method: init?.method ?? 'GET', path: url.pathname + url.search, status: 'threw', headers, at: Date.now() };
    log.push(exchange);
    const response = await fetch(input, init);
    exchange.status = response.status;
    afterAnswer?.(exchange);
    return response;
  };
  return { fetch: wrapped, log };
}

const noWait = async () => {};
let counter = 0;
const unique = (prefix: string) => `${prefix}${process.pid % 10000}_${(counter += 1)}`;
const password = 'correct horse battery';

function clientFor(server: TestServer, options: Partial<RestClientOptions> = {}): SocialClient {
  return new SocialClient({ baseUrl: server.url, sleep: noWait, ...options });
}

async function signedIn(server: TestServer, options: Partial<RestClientOptions> = {}) {
  const client = clientFor(server, options);
  const session = await client.register({ username: unique('c'), password });
  return { client, session };
}

async function errorOf(promise: Promise<unknown>): Promise<TandemClientError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(TandemClientError);
  return error as TandemClientError;
}

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

describe('SocialClient (on the RestClient core) against a real server', () => {
  it('covers the social API with typed methods', async () => {
    const { client: alice, session } = await signedIn(server);
    const { client: bob, session: bobSession } = await signedIn(server);
    expect((await alice.me()).username).toBe(session.user.username);
    expect((await alice.updateMe({ bio: 'hello' })).bio).toBe('hello');
    expect((await bob.getUser(session.user.username)).bio).toBe('hello');

    const post = await alice.createPost({ body: 'first post' });
    expect(await bob.getPost(post.id)).toMatchObject({ id: post.id, body: 'first post', author: { username: session.user.username } });
    const comment = await bob.createComment(post.id, { body: 'nice' });
    const reply = await alice.createComment(post.id, { body: 'thanks', parentId: comment.id });
    expect((await alice.listComments(post.id)).items.map((c) => c.id)).toEqual([comment.id, reply.id]);
    const notifications = await alice.listNotifications();
    expect(notifications.unreadCount).toBe(1);
    expect(notifications.items[0]?.kind).toBe('comment');
    expect(await alice.markNotificationsRead()).toEqual({ read: [notifications.items[0]!.id], unreadCount: 0 });
    await bob.deleteComment(comment.id);
    expect((await alice.listComments(post.id)).items[0]).toMatchObject({ deleted: true, body: null });


    const conversation = await alice.openConversation({ members: [bobSession.user.username] });
    const again = await alice.openConversation({ members: [bobSession.user.username] });
    expect(again.id).toBe(conversation.id);
    const message = await bob.sendMessage(conversation.id, { body: 'hi alice' });
    expect((await alice.listMessages(conversation.id)).items.map((m) => m.id)).toEqual([message.id]);
    expect((await alice.listConversations()).items.map((c) => c.id)).toEqual([conversation.id]);
    expect(await alice.online()).toEqual({ users: [], count: 0 });
    expect(await alice.conversationPresence(conversation.id)).toEqual({ users: [], count: 0 });

    await alice.deletePost(post.id);
    expect((await errorOf(bob.getPost(post.id))).code).toBe('not_found');

    await alice.logout();
    expect(alice.tokens.current).toBeUndefined();
    expect((await errorOf(alice.me())).code).toBe('signed_out');
  });

  it('logs in with a password and keeps the tokens', async () => {
    const user = await registerUser(server);
    const client = clientFor(server);
    const session = await client.login({ username: user.username, password: user.password });
    expect(client.tokens.current?.accessToken).toBe(session.accessToken);
    expect((await client.me()).id).toBe(user.id);
    const wrong = await errorOf(clientFor(server).login({ username: user.username, password: 'wrong password' }));
    expect({ code: wrong.code, status: wrong.status }).toEqual({ code: 'invalid_credentials', status: 401 });
  });

  it('reuses one Idempotency-Key across the retry of a create whose answer was lost', async () => {
    let failed = false;
    const recorder = recordingFetch((exchange) => {
      if (exchange.method === 'POST' && exchange.path === '/api/posts' && !failed) {
        failed = true; // the server has committed the post; the client never hears of it
        throw new TypeError('fetch failed: connection reset');
      }
    });
    const { client, session } = await signedIn(server, { fetch: recorder.fetch });
    const post = await client.createPost({ body: 'exactly once' });

    const creates = recorder.log.filter((e) => e.method === 'POST' && e.path === '/api/posts');
    expect(creates.map((e) => e.status)).toEqual([201, 201]);
    const keys = creates.map((e) => e.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    const mine = (await client.listPosts({ limit: 100 })).items.filter((p) => p.author.id === session.user.id);
    expect(mine.map((p) => p.id)).toEqual([post.id]);
  });

  it('gives each create its own key, and never retries a POST without one', async () => {
    const recorder = recordingFetch((exchange) => {
      if (exchange.path === '/api/auth/login') throw new TypeError('fetch failed');
    });
    const { client, session } = await signedIn(server, { fetch: recorder.fetch });
    await client.createPost({ body: 'one' });
    await client.createPost({ body: 'two' });
    const keys = recorder.log.filter((e) => e.path === '/api/posts').map((e) => e.headers.get('idempotency-key'));
    expect(new Set(keys).size).toBe(2);
    const error = await errorOf(client.login({ username: session.user.username, password }));
    expect(error.code).toBe('network_error');
    expect(recorder.log.filter((e) => e.path === '/api/auth/login')).toHaveLength(1);
  });

  it('revalidates GETs with the ETag: the second read is a 304 served from the cache', async () => {
    const recorder = recordingFetch();
    const { client } = await signedIn(server, { fetch: recorder.fetch });
    const post = await client.createPost({ body: 'cache me' });
    const first = await client.getPost(post.id);
    const second = await client.getPost(post.id);
    const reads = recorder.log.filter((e) => e.path === `/api/posts/${post.id}`);
    expect(reads.map((e) => e.status)).toEqual([200, 304]);
    expect(reads[1]!.headers.get('if-none-match')).toBe('"post.' + post.id + '.v1.c0.a1"');
    expect(second).toEqual(first);

    const me1 = await client.me();
    const me2 = await client.me();
    expect(me2).toEqual(me1);
    expect(recorder.log.filter((e) => e.path === '/api/me').map((e) => e.status)).toEqual([200, 304]);

    // A change makes the kept copy stale: the server answers 200 with the new body.
    await client.updatePost(post.id, { body: 'edited' });
    expect((await client.getPost(post.id)).body).toBe('edited');
    expect(recorder.log.filter((e) => e.path === `/api/posts/${post.id}` && e.method === 'GET').map((e) => e.status)).toEqual([200, 304, 200]);
  });

  it('reports the channel position of every list, on 200 and on 304', async () => {
    const { client, session } = await signedIn(server);
    const before = await client.listPosts();
    expect({ channel: before.channel, position: before.position }).toEqual({ channel: 'feed', position: { e: expect.any(String), o: expect.any(Number) } });
    const post = await client.createPost({ body: 'moves the feed' });
    const after = await client.listPosts();
    expect(after.position!.o).toBeGreaterThan(before.position!.o);
    expect(after.position!.e).toBe(before.position!.e);
    const cached = await client.request({ method: 'GET', path: '/api/posts', auth: 'none' });
    expect(cached.notModified).toBe(true);
    expect({ channel: cached.channel, position: cached.position }).toEqual({ channel: after.channel, position: after.position });

    expect((await client.listComments(post.id)).channel).toBe(`post:${post.id}`);
    expect((await client.listNotifications()).channel).toBe(`user:${session.user.id}`);
    expect((await client.listConversations()).channel).toBe(`user:${session.user.id}`);
  });

  it('throws typed errors with the problem code: 404, 403, 412, 400', async () => {
    const { client: alice } = await signedIn(server);
    const { client: bob } = await signedIn(server);
    const missing = await errorOf(alice.getPost(2_000_000_000));
    expect({ code: missing.code, status: missing.status, problemCode: missing.problem?.code }).toEqual({ code: 'not_found', status: 404, problemCode: 'not_found' });

    const post = await alice.createPost({ body: 'mine' });
    const forbidden = await errorOf(bob.deletePost(post.id));
    expect({ code: forbidden.code, status: forbidden.status }).toEqual({ code: 'forbidden', status: 403 });

    const read = await alice.request<{ version: number }>({ method: 'GET', path: `/api/posts/${post.id}`, auth: 'none' });
    const staleEtag = read.etag!;
    await alice.updatePost(post.id, { body: 'edit one' }, { ifMatch: staleEtag });
    const stale = await errorOf(alice.updatePost(post.id, { body: 'edit two' }, { ifMatch: staleEtag }));
    expect({ code: stale.code, status: stale.status }).toEqual({ code: 'precondition_failed', status: 412 });
    expect((await alice.getPost(post.id)).body).toBe('edit one');

    const invalid = await errorOf(alice.createPost({ body: '' }));
    expect(invalid.code).toBe('validation_failed');
    expect(invalid.problem?.errors?.[0]?.field).toBe('body.body');
  });

  it('retries GETs after network errors with backoff, and reports timeouts and aborts', async () => {
    let failures = 2;
    const sleeps: number[] = [];
    const recorder = recordingFetch((exchange) => {
      if (exchange.path.startsWith('/api/posts?') && failures > 0) {
        failures -= 1;
        throw new TypeError('fetch failed');
      }
    });
    const client = clientFor(server, { fetch: recorder.fetch, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) });
    await client.listPosts({ limit: 5 });
    expect(sleeps).toEqual([250, 500]);

    const hanging: typeof fetch = (_input, init) => new Promise((_resolve, reject) => {
      init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    });
    const slow = clientFor(server, { fetch: hanging, timeoutMs: 20, retry: { maxAttempts: 2 } });
    expect((await errorOf(slow.listPosts())).code).toBe('timeout');
    const controller = new AbortController();
    const pending = errorOf(clientFor(server, { fetch: hanging }).listPosts({ signal: controller.signal }));
    controller.abort();
    expect((await pending).code).toBe('aborted');
  });
});

describe('RestClient token refresh', () => {
  let clocked: TestServer;
  let now = 1_750_000_000_000;
  beforeAll(async () => {
    clocked = await startServer({ env: { TANDEM_ACCESS_TOKEN_TTL: '10' }, clock: () => now });
  });
  afterAll(async () => {
    await clocked?.close();
  });

  it('refreshes once on 401 token_expired and retries the request', async () => {
    const recorder = recordingFetch();
    const { client, session } = await signedIn(clocked, { fetch: recorder.fetch });
    const firstToken = client.tokens.current!.accessToken;
    now += 11_000; // the server's clock: the access token has expired; the client's still thinks it fresh

    const results = await Promise.all([client.me(), client.me(), client.listNotifications()]);
    expect(results[0].id).toBe(session.user.id);
    expect(recorder.log.filter((e) => e.path === '/api/auth/refresh')).toHaveLength(1);
    expect(client.tokens.current!.accessToken).not.toBe(firstToken);
    const meCalls = recorder.log.filter((e) => e.path === '/api/me');
    expect(meCalls.map((e) => e.status)).toContain(401);
    expect(meCalls.at(-1)!.headers.get('authorization')).toBe(`Bearer ${client.tokens.current!.accessToken}`);
  });

  it('refreshes before use when its own clock says the token is about to expire', async () => {
    let clientNow = Date.now();
    const recorder = recordingFetch();
    const { client } = await signedIn(clocked, { fetch: recorder.fetch, now: () => clientNow });
    clientNow += 6_000; // within the 5 s margin of the 10 s token
    await client.me();
    expect(recorder.log.filter((e) => e.path.startsWith('/api/')).map((e) => `${e.path} ${e.status}`)).toEqual(['/api/auth/register 201', '/api/auth/refresh 200', '/api/me 200']);
  });

  it('calls onAuthFailure, without refreshing, when the session was revoked', async () => {
    const onAuthFailure = vi.fn();
    const recorder = recordingFetch();
    const { client } = await signedIn(clocked, { fetch: recorder.fetch, onAuthFailure });
    const revoked = await clocked.request('/api/auth/logout', { method: 'POST', token: client.tokens.current!.accessToken, json: {} });
    expect(revoked.status).toBe(204);
    const error = await errorOf(client.me());
    expect(error.code).toBe('session_revoked');
    expect(onAuthFailure).toHaveBeenCalledTimes(1);
    expect(recorder.log.filter((e) => e.path === '/api/auth/refresh')).toHaveLength(0);
  });

  it('calls onAuthFailure and forgets the token when the refresh is refused', async () => {
    const onAuthFailure = vi.fn();
    const { client, session } = await signedIn(clocked, { onAuthFailure });
    // Someone else used the refresh token first (theft, or another tab): the session is revoked.
    const stolen = await clocked.request('/api/auth/refresh', { method: 'POST', json: { refreshToken: session.refreshToken } });
    expect(stolen.status).toBe(200);
    now += 11_000;
    const error = await errorOf(client.me());
    expect(error.code).toBe('refresh_token_reused');
    expect(onAuthFailure).toHaveBeenCalledTimes(1);
    expect(client.tokens.current).toBeUndefined();
  });
});

singleNode('counts an exact per-IP budget; a cluster shares it between nodes ~200 ms late, so a retry after Retry-After may meet one more 429').describe('RestClient under rate limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ env: { TANDEM_RATE_LIMIT: '60', TANDEM_RATE_LIMIT_BURST: '2' } });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('waits Retry-After before retrying a 429, and does not retry what is not idempotent', async () => {
    const sleeps: number[] = [];
    const recorder = recordingFetch();
    // A real wait: the server's REST rate limiter refills by the real clock (it takes no injected one).
    const client = clientFor(limited, { fetch: recorder.fetch, sleep: async (ms) => { sleeps.push(ms); await sleep(ms); } });
    while ((await limited.request('/api/posts')).status !== 429) { /* spend the burst */ }

    const refused = await errorOf(client.login({ username: 'nobody_here', password }));
    expect({ code: refused.code, status: refused.status }).toEqual({ code: 'rate_limited', status: 429 });
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(recorder.log).toHaveLength(1);
    expect(sleeps).toEqual([]);

    const page = await client.listPosts();
    expect(page.items).toEqual([]);
    const reads = recorder.log.filter((e) => e.path === '/api/posts');
    expect(reads.map((e) => e.status)).toEqual([429, 200]);
    expect(sleeps).toEqual([1000]);
    expect(reads[1]!.at - reads[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('gives up at once when Retry-After is longer than it is willing to wait', async () => {
    const sleeps: number[] = [];
    const client = clientFor(limited, { retry: { maxRetryAfterMs: 500 }, sleep: async (ms) => void sleeps.push(ms) });
    while ((await limited.request('/api/posts')).status !== 429) { /* spend the burst */ }
    const error = await errorOf(client.listPosts());
    expect(error.code).toBe('rate_limited');
    expect(sleeps).toEqual([]);
  });
});
