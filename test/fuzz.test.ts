import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libraryErrors } from '../src/server/errors';

const errorCodes = Object.keys(libraryErrors);
import { registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { clusterTarget } from './support/target';

/**
 * Hostile-input properties against one real server: whatever arrives (random routes, path
 * params, query strings, headers, JSON, raw bytes, prototype-pollution keys), the answer is
 * never a 5xx, every 4xx is problem+json with a catalog code, and a refused request leaves
 * every table exactly as it was.
 *
 * Requests go through node:http rather than fetch: fetch normalises '..' and '%2e%2e' away and
 * refuses some content types, and the point here is to send exactly the bytes we chose.
 * Set TANDEM_FUZZ_RUNS to scale every property (e.g. 10 for a very long soak).
 */

// On the cluster target every table snapshot is a PostgreSQL round trip: a quarter of the runs
// (~20 s instead of ~80 s); the embedded run keeps them all.
const RUN_SCALE = Number(process.env.TANDEM_FUZZ_RUNS ?? (clusterTarget ? 0.25 : 1));
const runs = (n: number) => Math.max(1, Math.round(n * RUN_SCALE));

// idempotency_keys too: a refused create must not leave its key claimed, or every retry of it
// would answer idempotency_in_progress. (sessions and refresh_tokens may legitimately change on
// a refusal: presenting a used refresh token revokes its session.)
const TABLES = [
  'users', 'posts', 'comments', 'conversations', 'conversation_members', 'messages', 'notifications', 'channel_positions', 'idempotency_keys',
] as const;

type Who = 'alice' | 'bob' | 'carol';
type Auth = 'none' | Who | 'tampered' | 'wrong-scheme' | 'empty-bearer' | 'refresh-as-access';
type Cookie = 'none' | 'garbage' | `${Who}-refresh`;

interface FuzzRequest {
  method: string;
  path: string;
  auth: Auth;
  cookie: Cookie;
  headers: Record<string, string>;
  body?: { contentType: string | undefined; bytes: Buffer };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: TestServer;
let agent: http.Agent;
const users = {} as Record<Who, TestUser>;
const ids = { posts: [] as number[], comments: [] as number[], conversations: [] as number[], messages: [] as number[], notifications: [] as number[], users: [] as number[] };
const seenStatuses = new Set<number>();

function send(request: FuzzRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(server.url);
  const headers: Record<string, string> = { ...request.headers };
  const token = accessTokenFor(request.auth);
  if (token !== undefined) headers.authorization = token;
  const cookie = cookieFor(request.cookie);
  if (cookie !== undefined) headers.cookie = cookie;
  const bytes = request.body === undefined ? undefined : withLiveTokens(request.body.bytes);
  if (request.body !== undefined && bytes !== undefined) {
    if (request.body.contentType !== undefined) headers['content-type'] = request.body.contentType;
    headers['content-length'] = String(bytes.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method: request.method, path: request.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${request.method} ${request.path}`)));
    req.on('error', reject);
    req.end(bytes);
  });
}

/** Generated bodies name refresh tokens symbolically (they rotate); fill in the current ones. */
function withLiveTokens(bytes: Buffer): Buffer {
  if (!bytes.includes('@@')) return bytes;
  const text = bytes.toString('utf8').replace(/@@(alice|bob|carol)\.refresh@@/g, (_m, who: Who) => users[who].refreshToken);
  return Buffer.from(text, 'utf8');
}

function accessTokenFor(auth: Auth): string | undefined {
  switch (auth) {
    case 'none': return undefined;
    case 'tampered': return `Bearer ${users.alice.accessToken.slice(0, -3)}abc`;
    case 'wrong-scheme': return `Basic ${Buffer.from('alice:password').toString('base64')}`;
    case 'empty-bearer': return 'Bearer ';
    case 'refresh-as-access': return `Bearer ${users.bob.refreshToken}`;
    default: return `Bearer ${users[auth].accessToken}`;
  }
}

function cookieFor(cookie: Cookie): string | undefined {
  if (cookie === 'none') return undefined;
  if (cookie === 'garbage') return 'tandem_refresh=%%%not-a-token; other=1';
  const who = cookie.slice(0, -'-refresh'.length) as Who;
  return `tandem_refresh=${users[who].refreshToken}`;
}

/** Every row of every table the API can change, in a stable order. */
async function snapshot(): Promise<Record<string, string[]>> {
  const db = server.social.db;
  const out: Record<string, string[]> = {};
  for (const table of TABLES) {
    const rows = await db.selectFrom(table).selectAll().execute();
    out[table] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return out;
}

/** Random requests may log a user out or burn their refresh token; sign them back in. */
async function healSessions(): Promise<void> {
  for (const who of Object.keys(users) as Who[]) {
    const user = users[who];
    const me = await server.request('/api/me', { token: user.accessToken });
    await me.arrayBuffer();
    if (me.status === 200) continue;
    const res = await server.request('/api/auth/login', { method: 'POST', json: { username: user.username, password: user.password } });
    const body = (await res.json()) as { accessToken: string; refreshToken: string };
    if (res.status !== 200) throw new Error(`re-login of ${who} failed: ${res.status} ${JSON.stringify(body)}`);
    users[who] = { ...user, accessToken: body.accessToken, refreshToken: body.refreshToken };
  }
}

function describeRequest(request: FuzzRequest): string {
  const body = request.body === undefined ? '' : ` [${request.body.contentType ?? 'no content-type'}] ${request.body.bytes.toString('utf8').slice(0, 300)}`;
  return `${request.method} ${request.path} auth=${request.auth} cookie=${request.cookie} headers=${JSON.stringify(request.headers)}${body}`;
}

/** The contract every answer keeps, then "refused means unchanged". */
async function exercise(request: FuzzRequest): Promise<void> {
  const before = await snapshot();
  const res = await send(request);
  seenStatuses.add(res.status);
  const what = `${describeRequest(request)}\n=> ${res.status} ${res.headers['content-type'] ?? ''} ${res.body.slice(0, 500)}`;
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  expect(res.status, what).toBeLessThan(500);
  expect(res.headers['x-request-id'], what).toMatch(/\S/);
  if (request.method === 'HEAD') expect(res.body, what).toBe('');
  if (res.status >= 400) {
    expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
    expect(res.headers['cache-control'], what).toBe('no-store');
    // HEAD answers carry the headers of the problem but, by definition, not its body.
    if (request.method !== 'HEAD') {
      const problem = JSON.parse(res.body) as { code: unknown; status: unknown };
      expect(typeof problem.code, what).toBe('string');
      expect(errorCodes, what).toContain(problem.code);
      expect(problem.status, what).toBe(res.status);
    }
    expect(await snapshot(), `a refused request changed the store: ${what}`).toEqual(before);
  }
  expect(Object.keys(Object.prototype), `Object.prototype was polluted by ${what}`).toEqual([]);
  if (request.path.startsWith('/api/auth/') || res.status === 401) await healSessions();
}

// ---------------------------------------------------------------------------------------------
// Generators

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });

const hostileSegments = [
  '0', '-1', '-0', '1.5', '1e3', '0x10', '%201', '1%20', '%2B1', 'Infinity', 'NaN', 'null', 'undefined', 'true',
  '2147483647', '2147483648', '9007199254740993', '99999999999999999999999999', '', '.', '..', '%2e%2e', '%2E%2e%2F..',
  '..%2f..%2fetc%2fpasswd', '%00', '%0d%0a', '%ZZ', '%', '%E0%A4%A', '%C0%AF', '%F0%9F%92%A9', '__proto__', 'constructor',
  'prototype', '1;DROP%20TABLE%20posts', "1'%20OR%20'1'%3D'1", 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(199), 'a'.repeat(250),
];

function idSegment(known: () => number[]) {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant(null).map(() => known()).chain((list) => (list.length > 0 ? fc.constantFrom(...list) : fc.constant(1))).map(String) },
    { weight: 2, arbitrary: fc.integer({ min: -10, max: 60 }).map(String) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String) },
    { weight: 3, arbitrary: fc.constantFrom(...hostileSegments) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent) },
  );
}

const usernameSegment = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null).map(() => users.alice.username) },
  { weight: 1, arbitrary: fc.constant(null).map(() => users.bob.username.toUpperCase()) },
  { weight: 3, arbitrary: fc.constantFrom(...hostileSegments) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent) },
);

const cursorValue = fc.oneof(
  fc.bigInt({ min: -5n, max: 10n ** 17n }).map((n) => Buffer.from(`c1:${n}`).toString('base64url')),
  fc.constantFrom('', '%', '%ZZ', 'c1:5', 'YzE6', 'A'.repeat(64), 'A'.repeat(65), '____', '==', Buffer.from('c2:5').toString('base64url')),
  printable.map(encodeURIComponent),
);
const limitValue = fc.oneof(
  fc.integer({ min: -5, max: 120 }).map(String),
  fc.constantFrom('', 'abc', '1e2', '1.5', '0x10', '9007199254740993', 'Infinity', '%', '%ZZ', '-0', '20%00'),
);
const queryString = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 4,
    arbitrary: fc
      .record({ limit: limitValue, cursor: cursorValue, extra: fc.tuple(printable, printable) }, { requiredKeys: [] })
      .map(({ limit, cursor, extra }) => {
        const parts: string[] = [];
        if (limit !== undefined) parts.push(`limit=${limit}`);
        if (cursor !== undefined) parts.push(`cursor=${cursor}`);
        if (extra !== undefined) parts.push(`${encodeURIComponent(extra[0])}=${encodeURIComponent(extra[1])}`);
        return parts.length === 0 ? '?' : `?${parts.join('&')}`;
      }),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '?limit=1&limit=2', '?%', '?&&&', '?=', '?limit', '?cursor', '?cursor=a&cursor=b', '?__proto__[limit]=5',
      '?__proto__=1', '?constructor[prototype][polluted]=1', '?limit[]=1', '?limit=1#frag',
    ),
  },
);

const text = (max: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n\t', '\u0000', 'x'.repeat(max), 'x'.repeat(max + 1), '<script>alert(1)</script>', 'ok') },
  );
const username = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_]{3,24}$/),
  fc.constantFrom('ab', 'a'.repeat(25), 'has space', 'ünïcödé', 'nobody_at_all', 'ALICE'),
  fc.constantFrom<Who>('alice', 'bob', 'carol').map((who) => users[who].username),
);
const knownId = (known: () => number[]) =>
  fc.oneof(fc.constant(null).map(() => known()).chain((list) => fc.constantFrom(...(list.length > 0 ? list : [1]))), fc.integer({ min: -3, max: 2_147_483_648 }));
const refreshToken = fc.oneof(fc.constantFrom('@@alice.refresh@@', '@@bob.refresh@@', '', 'x'.repeat(201)), fc.string({ maxLength: 50 }));

/** Bodies of the right shape with values that are often wrong: they get past the schema to the handlers. */
const shaped = {
  register: fc.record({ username, password: fc.oneof(fc.constant('correct horse battery'), fc.string({ maxLength: 20 })), displayName: text(50) }, { requiredKeys: ['username', 'password'] }),
  login: fc.record({ username, password: fc.oneof(fc.constant('correct horse battery'), fc.string({ maxLength: 20 })) }),
  refresh: fc.record({ refreshToken }, { requiredKeys: [] }),
  profile: fc.record({ displayName: text(50), bio: text(500) }, { requiredKeys: [] }),
  post: fc.record({ body: text(5000) }),
  comment: fc.record({ body: text(2000), parentId: fc.oneof(fc.constant(null), knownId(() => ids.comments)) }, { requiredKeys: ['body'] }),
  conversation: fc.record({ members: fc.array(username, { maxLength: 4 }) }),
  message: fc.record({ body: text(4000) }),
  read: fc.record({ ids: fc.array(knownId(() => ids.notifications), { maxLength: 5 }) }, { requiredKeys: [] }),
  conversationRead: fc.record({ messageId: knownId(() => ids.messages) }, { requiredKeys: [] }),
  // Never the right current password (it is 21 characters): a change would sign the suite's other sessions out.
  password: fc.record({ currentPassword: fc.string({ maxLength: 20 }), newPassword: fc.oneof(fc.constant('a brand new secret'), fc.string({ maxLength: 20 })) }, { requiredKeys: [] }),
};

interface RouteTemplate {
  methods: string[];
  path: () => fc.Arbitrary<string>;
  body?: fc.Arbitrary<unknown>;
}

const routeTemplates: RouteTemplate[] = [
  { methods: ['POST'], path: () => fc.constant('/api/auth/register'), body: shaped.register },
  { methods: ['POST'], path: () => fc.constant('/api/auth/login'), body: shaped.login },
  { methods: ['POST'], path: () => fc.constant('/api/auth/refresh'), body: shaped.refresh },
  { methods: ['POST'], path: () => fc.constant('/api/auth/logout'), body: shaped.refresh },
  { methods: ['GET', 'PATCH'], path: () => fc.constant('/api/me'), body: shaped.profile },
  { methods: ['GET'], path: () => usernameSegment.map((u) => `/api/users/${u}`) },
  { methods: ['GET'], path: () => usernameSegment.map((u) => `/api/users/${u}/posts`) },
  { methods: ['POST'], path: () => fc.constant('/api/auth/password'), body: shaped.password },
  { methods: ['PUT', 'DELETE'], path: () => fc.constant('/api/me/avatar'), body: shaped.profile },
  { methods: ['GET'], path: () => fc.stringMatching(/^[0-9a-fA-F]{0,40}$/).map((hash) => `/api/avatars/${hash}.webp`) },
  { methods: ['GET'], path: () => fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: -5, max: 400 })).map(([initials, hue]) => `/api/avatars/initials/${encodeURIComponent(initials)}-${hue}.svg`) },
  { methods: ['GET', 'POST'], path: () => fc.constant('/api/posts'), body: shaped.post },
  { methods: ['GET', 'PATCH', 'DELETE'], path: () => idSegment(() => ids.posts).map((id) => `/api/posts/${id}`), body: shaped.post },
  { methods: ['GET', 'POST'], path: () => idSegment(() => ids.posts).map((id) => `/api/posts/${id}/comments`), body: shaped.comment },
  { methods: ['DELETE'], path: () => idSegment(() => ids.comments).map((id) => `/api/comments/${id}`) },
  { methods: ['GET', 'POST'], path: () => fc.constant('/api/conversations'), body: shaped.conversation },
  { methods: ['GET', 'POST'], path: () => idSegment(() => ids.conversations).map((id) => `/api/conversations/${id}/messages`), body: shaped.message },
  { methods: ['POST'], path: () => idSegment(() => ids.conversations).map((id) => `/api/conversations/${id}/read`), body: shaped.conversationRead },
  { methods: ['GET'], path: () => fc.constant('/api/notifications') },
  // Search: FTS5 / tsquery / LIKE syntax and anything printable as the query (the fuzzed query string follows it).
  { methods: ['GET'], path: () => fc.tuple(fc.constantFrom('/api/users', '/api/search/posts'), fc.oneof(printable, fc.constantFrom('"', 'a OR b', 'NEAR(a b)', '-a*', 'x:*', '%_\\', '\u0000', "' or 1=1 --", '🙂'))).map(([path, q]) => `${path}?q=${encodeURIComponent(q)}`) },
  { methods: ['POST'], path: () => fc.constant('/api/notifications/read'), body: shaped.read },
  { methods: ['GET'], path: () => fc.constantFrom('/api/nope', '/api', '/api/', '//api/posts', '/api/posts/', '/API/POSTS', '/api/posts/1/comments/2', '/api/docs/../../package.json') },
];

const anyMethod = fc.constantFrom('GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS');

const etagValue = fc.oneof(
  fc.tuple(fc.constantFrom('post', 'comment', 'user'), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 3 })).map(([kind, id, v]) => `"${kind}.${id}.v${v}"`),
  fc.tuple(fc.constantFrom('post', 'user'), fc.integer({ min: 1, max: 12 })).map(([kind, id]) => `W/"${kind}.${id}.v1"`),
  fc.constantFrom('*', '', '"', 'W/', 'W/*', '"a", "b"', '*, "x"', ',,,', 'W/"feed.1.l20.-"'),
  printable,
);

const headerSet = fc.record(
  {
    'if-match': etagValue,
    'if-none-match': fc.oneof(fc.constant('*'), etagValue),
    'idempotency-key': fc.oneof(
      { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{8,40}$/) },
      { weight: 1, arbitrary: fc.constantFrom('', 'short', 'x'.repeat(256), 'has space in it', 'ünïcödé-key') },
    ),
    'x-request-id': printable,
    accept: fc.constantFrom('application/json', 'text/html', '*/*', 'application/xml', ''),
  },
  { requiredKeys: [] },
).map((headers) => {
  // Header values travel as latin1; keep them encodable so the client itself does not throw.
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Buffer.from(value, 'utf8').toString('latin1');
  return out;
});

const authChoice = fc.constantFrom<Auth>('none', 'alice', 'alice', 'bob', 'carol', 'tampered', 'wrong-scheme', 'empty-bearer', 'refresh-as-access');
const cookieChoice = fc.constantFrom<Cookie>('none', 'none', 'none', 'garbage', 'alice-refresh', 'bob-refresh');

const knownKeys = ['body', 'parentId', 'members', 'ids', 'displayName', 'bio', 'username', 'password', 'refreshToken'];
const fieldValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('hello', ' ', '', '\u0000', 'x'.repeat(5001), 'correct horse battery', 'nobody_at_all', 'ALICE'),
  fc.constant(null).map(() => users.bob.username),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constant(null).map(() => users.carol.username), fc.string({ maxLength: 10 })), { maxLength: 6 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const nearValidBody = fc.dictionary(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...knownKeys) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), fieldValue, { maxKeys: 4 });
const jsonKey = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'body', 'ids', 'toString', 'hasOwnProperty'));

function asJson(value: unknown): FuzzRequest['body'] {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined; // BigInt and friends: an empty JSON body is hostile input too
  }
  return { contentType: 'application/json', bytes: Buffer.from(json ?? '', 'utf8') };
}

const randomJson = fc.oneof(
  { weight: 4, arbitrary: nearValidBody },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 3, key: jsonKey, withUnicodeString: true }) },
  { weight: 1, arbitrary: fc.object({ maxDepth: 4, key: jsonKey }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

/** Half the time a body shaped for the route, otherwise anything at all. */
const jsonBody = (route: RouteTemplate) =>
  (route.body === undefined ? randomJson : fc.oneof({ weight: 1, arbitrary: route.body }, { weight: 1, arbitrary: randomJson })).map(asJson);

const prototypePollution = fc.constantFrom(
  '{"__proto__":{"polluted":"yes"}}',
  '{"body":"hi","__proto__":{"polluted":"yes"}}',
  '{"body":"hi","constructor":{"prototype":{"polluted":"yes"}}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"ids":[1],"__proto__":{"ids":[1,2,3]}}',
  '{"members":["nobody_at_all"],"__proto__":{"admin":true}}',
  '{"body":{"__proto__":{"polluted":"yes"}}}',
  '[{"__proto__":{"polluted":"yes"}}]',
  '{"displayName":"x","__proto__":{"bio":"hacked"}}',
  '{"\\u005f_proto__":{"polluted":"yes"}}',
  '{"__pro\\u0074o__":{"polluted":"yes"}}',
  '{"constructor":{"name":"x"},"body":"hi"}',
  '{"username":"abc_def","password":"12345678","__proto__":{"polluted":1}}',
);

const deeplyNested = fc
  .tuple(fc.integer({ min: 8, max: 30_000 }), fc.constantFrom('[', '{"a":', '{"body":'), fc.boolean())
  .map(([depth, open, wrapped]) => {
    const close = open === '[' ? ']' : '}';
    const inner = `${open.repeat(depth)}1${close.repeat(depth)}`;
    return wrapped ? `{"body":${inner}}` : inner;
  });

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/json;;',
    'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz',
    'application/octet-stream', 'application/problem+json', 'application/vnd.api+json', 'application/*', '*/*', 'text/html', '',
  ),
  fc.constant(undefined),
  printable,
);
const rawBody = fc.tuple(contentType, fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8'))))
  .map(([type, bytes]) => ({ contentType: type, bytes: Buffer.from(bytes) }) as FuzzRequest['body']);

function requestWith(bodies: (route: RouteTemplate) => fc.Arbitrary<FuzzRequest['body']>): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routeTemplates).chain((route) =>
    fc
      .record({
        method: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...route.methods) }, { weight: 1, arbitrary: anyMethod }),
        path: route.path(),
        query: queryString,
        auth: authChoice,
        cookie: cookieChoice,
        headers: headerSet,
        body: fc.option(bodies(route), { freq: 5, nil: undefined }),
      })
      .map(({ method, path, query, auth, cookie, headers, body }) => {
        const request: FuzzRequest = { method, path: path + query, auth, cookie, headers };
        // fetch and browsers never send a body with GET or HEAD; neither do we.
        if (body !== undefined && method !== 'GET' && method !== 'HEAD') request.body = body;
        return request;
      }),
  );
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  server = await startServer();
  agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  for (const who of ['alice', 'bob', 'carol'] as const) users[who] = await registerUser(server);
  const { alice, bob, carol } = users;
  ids.users.push(alice.id, bob.id, carol.id);
  const post = async (user: TestUser, body: string) => {
    const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number };
    ids.posts.push(created.id);
    return created.id;
  };
  const comment = async (user: TestUser, postId: number, body: string, parentId?: number) => {
    const res = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: user.accessToken, json: { body, parentId } });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number };
    ids.comments.push(created.id);
    return created.id;
  };
  const alicePost = await post(alice, 'alice says hello');
  await post(alice, 'alice again');
  const bobPost = await post(bob, 'bob was here');
  const bobComment = await comment(bob, alicePost, 'nice post');
  await comment(alice, alicePost, 'thanks', bobComment);
  await comment(carol, bobPost, 'hi bob');
  for (const members of [[bob.username], [bob.username, carol.username]]) {
    const res = await server.request('/api/conversations', { method: 'POST', token: alice.accessToken, json: { members } });
    expect(res.status).toBe(201);
    const conversation = (await res.json()) as { id: number };
    ids.conversations.push(conversation.id);
    const sent = await server.request(`/api/conversations/${conversation.id}/messages`, { method: 'POST', token: alice.accessToken, json: { body: 'hey' } });
    expect(sent.status).toBe(201);
    ids.messages.push(((await sent.json()) as { id: number }).id);
  }
  const notifications = await server.social.db.selectFrom('notifications').select('id').execute();
  ids.notifications.push(...notifications.map((n) => n.id));
  // A comment, a reply and another comment (messages notify nobody: the Messages badge counts them).
  expect(ids.notifications.length).toBeGreaterThanOrEqual(3);
});

afterAll(async () => {
  agent?.destroy();
  await server?.close();
});

describe('the REST API under hostile input', () => {
  it('never fails with a 5xx, answers every 4xx with problem+json, and changes nothing it refuses (random JSON)', async () => {
    await fc.assert(fc.asyncProperty(requestWith(jsonBody), exercise), { numRuns: runs(900) });
  });

  it('keeps that contract for raw random bytes under random content types', async () => {
    await fc.assert(fc.asyncProperty(requestWith(() => rawBody), exercise), { numRuns: runs(300) });
  });

  it('refuses prototype-pollution keys and deeply nested bodies without polluting Object.prototype', async () => {
    const hostileBody = fc
      .oneof(prototypePollution, deeplyNested)
      .map((text) => ({ contentType: 'application/json', bytes: Buffer.from(text, 'utf8') }) as FuzzRequest['body']);
    const request = requestWith(() => hostileBody).filter((r) => r.body !== undefined);
    await fc.assert(fc.asyncProperty(request, exercise), { numRuns: runs(150) });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps that contract for conditional edits and deletes by the owner with random If-Match tags', async () => {
    const ownEdit = fc
      .record({
        target: fc.constantFrom(
          ...ids.posts.map((id) => ({ path: `/api/posts/${id}`, auth: 'alice' as Auth, methods: ['PATCH', 'DELETE'] })),
          ...ids.comments.map((id) => ({ path: `/api/comments/${id}`, auth: 'bob' as Auth, methods: ['DELETE'] })),
          { path: '/api/me', auth: 'carol' as Auth, methods: ['PATCH'] },
        ),
        ifMatch: etagValue,
        body: fc.oneof(fc.constant({ body: 'edited' }), fc.constant({ bio: 'new bio' }), nearValidBody),
        methodPick: fc.nat(),
      })
      .map(({ target, ifMatch, body, methodPick }): FuzzRequest => {
        const method = target.methods[methodPick % target.methods.length] ?? 'PATCH';
        const request: FuzzRequest = { method, path: target.path, auth: target.auth, cookie: 'none', headers: { 'if-match': ifMatch } };
        if (method === 'PATCH') request.body = { contentType: 'application/json', bytes: Buffer.from(JSON.stringify(body)) };
        return request;
      });
    await fc.assert(fc.asyncProperty(ownEdit, exercise), { numRuns: runs(100) });
  });

  it('reached success, refusal and not-found answers (the generators are not degenerate)', () => {
    for (const status of [200, 304, 400, 401, 404, 412, 413, 415]) expect([...seenStatuses]).toContain(status);
  });
});
