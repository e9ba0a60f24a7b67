import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemOf, registerUser, startServer, type TestServer, type TestUser } from './support/server';
import { clusterTarget, singleNode } from './support/target';

/**
 * The HTTP contract every Tandem app inherits from createHttpApp: problem+json for every error,
 * body limits and media types, the per-IP rate limit, CORS, security headers, request ids,
 * conditional requests, the OpenAPI document and docs page, and the ops endpoints.
 */

const APP_ORIGIN = 'https://app.example.com';

async function postCount(server: TestServer): Promise<number> {
  const row = await server.social.db.selectFrom('posts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function createPost(server: TestServer, user: TestUser, body: string): Promise<{ id: number; etag: string }> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  const post = (await res.json()) as { id: number };
  return { id: post.id, etag: res.headers.get('etag') ?? '' };
}

function headerList(value: string | null): string[] {
  return (value ?? '').split(',').map((v) => v.trim().toLowerCase()).filter(Boolean);
}

describe('with the default configuration', () => {
  let server: TestServer;
  let alice: TestUser;

  beforeAll(async () => {
    server = await startServer();
    alice = await registerUser(server);
  });
  afterAll(() => server.close());

  describe('request bodies', () => {
    it.each([
      ['text/plain', 'hello'],
      ['text/plain; charset=utf-8', '{"body":"hello"}'],
      ['application/x-www-form-urlencoded', 'body=hello'],
      ['multipart/form-data; boundary=xyz', '--xyz\r\nContent-Disposition: form-data; name="body"\r\n\r\nhello\r\n--xyz--\r\n'],
    ])('refuses %s on POST /api/posts with 415 unsupported_media_type and writes nothing', async (contentType, body) => {
      const before = await postCount(server);
      const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, body, headers: { 'content-type': contentType } });
      expect(res.status).toBe(415);
      const problem = await problemOf(res);
      expect(problem).toMatchObject({ code: 'unsupported_media_type', status: 415 });
      expect(await postCount(server)).toBe(before);
    });

    it('accepts JSON with a charset parameter', async () => {
      const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, body: '{"body":"with charset"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
      expect(res.status).toBe(201);
    });

    it.each([
      ['a truncated object', '{"body":'],
      ['a trailing comma', '{"body":"x",}'],
      ['single quotes', "{'body':'x'}"],
      ['an empty body', ''],
    ])('answers %s with 400 malformed_json', async (_what, body) => {
      const before = await postCount(server);
      const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(await problemOf(res)).toMatchObject({ code: 'malformed_json', status: 400, type: 'urn:tandem:error:malformed_json' });
      expect(await postCount(server)).toBe(before);
    });

    it('accepts a cookie-only refresh and a bearer-only logout, which send no body at all', async () => {
      const user = await registerUser(server);
      const refreshed = await server.request('/api/auth/refresh', { method: 'POST', headers: { cookie: `tandem_refresh=${user.refreshToken}` } });
      expect(refreshed.status).toBe(200);
      const tokens = (await refreshed.json()) as { accessToken: string };
      const logout = await server.request('/api/auth/logout', { method: 'POST', token: tokens.accessToken });
      expect(logout.status).toBe(204);
      expect((await server.request('/api/me', { token: tokens.accessToken })).status).toBe(401);
    });
  });

  describe('errors', () => {
    it('answers an unknown route with 404 not_found problem+json naming the method and path', async () => {
      const res = await server.request('/api/nope?x=1');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(await res.json()).toEqual({
        type: 'urn:tandem:error:not_found', title: 'Not found', status: 404, code: 'not_found', detail: 'No route for GET /api/nope', instance: '/api/nope?x=1',
      });
    });

    it('answers a malformed percent-encoding and an over-long path parameter with problem+json too', async () => {
      for (const path of ['/api/posts/%E0%A4%A', '/api/users/%ZZ', `/api/users/${'a'.repeat(201)}`]) {
        const res = await server.request(path);
        expect(res.status, path).toBe(404);
        expect((await problemOf(res)).code, path).toBe('not_found');
        expect(res.headers.get('cache-control'), path).toBe('no-store');
        expect(res.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/);
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      }
    });

    it('marks every error answer Cache-Control: no-store', async () => {
      const answers = [
        await server.request('/api/nope'),
        await server.request('/api/posts/abc'),
        await server.request('/api/me'),
        await server.request('/api/posts/999999'),
        await server.request('/api/posts', { method: 'POST', token: alice.accessToken, body: '{', headers: { 'content-type': 'application/json' } }),
        await server.request('/api/posts', { method: 'POST', token: alice.accessToken, body: 'x', headers: { 'content-type': 'text/plain' } }),
      ];
      expect(answers.map((r) => r.status)).toEqual([404, 400, 401, 404, 400, 415]);
      for (const res of answers) expect(res.headers.get('cache-control')).toBe('no-store');
    });
  });

  describe('headers on every answer', () => {
    it('sends an API answer OWASP\'s REST security headers, and an HTML page helmet\'s; no HSTS or upgrade-insecure-requests on plain HTTP', async () => {
      for (const res of [await server.request('/api/posts'), await server.request('/api/nope')]) {
        expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('cross-origin-resource-policy')).toBe('same-site');
        // Document-only headers stay off JSON.
        for (const name of ['referrer-policy', 'cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection', 'x-powered-by']) {
          expect(res.headers.get(name), name).toBeNull();
        }
        expect(res.headers.get('strict-transport-security')).toBeNull();
      }
      const page = await server.request('/');
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(page.headers.get('strict-transport-security')).toBeNull();
    });

    it('answers a revalidation with a 304 of under 350 bytes: validators and caching only, the cached 200 keeps its security headers', async () => {
      const list = await server.request('/api/posts');
      const tag = list.headers.get('etag')!;
      const { status, head } = await rawHead(server.url, '/api/posts', { 'If-None-Match': tag });
      expect(status).toBe(304);
      expect(Buffer.byteLength(head)).toBeLessThanOrEqual(350);
      const names = head.split('\r\n').slice(1).filter(Boolean).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
      expect(names).toEqual(expect.arrayContaining(['etag', 'cache-control', 'date', 'x-request-id']));
      for (const name of ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'cross-origin-resource-policy']) expect(names).not.toContain(name);
    });

    it('gives every answer an X-Request-Id, and echoes the one a client sends', async () => {
      const answers = [
        await server.request('/api/posts'),
        await server.request('/healthz'),
        await server.request('/api/nope'),
        await server.request('/api/posts', { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }),
        await server.request('/api/posts/1', { method: 'HEAD' }),
      ];
      const ids = answers.map((r) => r.headers.get('x-request-id'));
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(new Set(ids).size).toBe(ids.length);
      const echoed = await server.request('/api/nope', { headers: { 'x-request-id': 'trace-abc-123' } });
      expect(echoed.headers.get('x-request-id')).toBe('trace-abc-123');
      expect((await server.request('/api/posts', { headers: { 'x-request-id': 'trace-ok-456' } })).headers.get('x-request-id')).toBe('trace-ok-456');
      for (const hostile of ['has space', 'a'.repeat(129), '<script>', 'semi;colon']) {
        const replaced = (await server.request('/api/posts', { headers: { 'x-request-id': hostile } })).headers.get('x-request-id');
        expect(replaced).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
      }
    });
  });

  describe('conditional requests', () => {
    it('answers HEAD /api/posts/:id with the ETag and headers of GET and no body', async () => {
      const { id } = await createPost(server, alice, 'head me');
      const get = await server.request(`/api/posts/${id}`);
      const head = await server.request(`/api/posts/${id}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
      expect(head.headers.get('etag')).toBe(`"post.${id}.v1.c0.a1"`);
      expect(head.headers.get('cache-control')).toBe(get.headers.get('cache-control'));
      expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await head.text()).toBe('');
      const missing = await server.request('/api/posts/999999', { method: 'HEAD' });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });

    it('uses the weak comparison for If-None-Match: *, a list, and a W/ tag all answer 304', async () => {
      const { id, etag } = await createPost(server, alice, 'cache me');
      for (const header of ['*', `"nope", ${etag}`, `W/${etag}`, `W/"nope" , W/${etag}`]) {
        const res = await server.request(`/api/posts/${id}`, { headers: { 'if-none-match': header } });
        expect(res.status, header).toBe(304);
        expect(res.headers.get('etag'), header).toBe(etag);
        expect(await res.text(), header).toBe('');
      }
      for (const header of ['"nope"', `"nope", W/"post.${id}.v2.c0.a1"`]) {
        const res = await server.request(`/api/posts/${id}`, { headers: { 'if-none-match': header } });
        expect(res.status, header).toBe(200);
      }
    });

    it('uses the strong comparison for If-Match: a weak tag is refused with 412 and nothing changes', async () => {
      const { id, etag } = await createPost(server, alice, 'guarded');
      const patched = await server.request(`/api/posts/${id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'changed' }, headers: { 'if-match': `W/${etag}` } });
      expect(patched.status).toBe(412);
      expect(await problemOf(patched)).toMatchObject({ code: 'precondition_failed', status: 412 });
      expect(patched.headers.get('etag')).toBe(etag);
      const deleted = await server.request(`/api/posts/${id}`, { method: 'DELETE', token: alice.accessToken, headers: { 'if-match': `W/${etag}` } });
      expect(deleted.status).toBe(412);
      expect(await (await server.request(`/api/posts/${id}`)).json()).toMatchObject({ body: 'guarded', version: 1 });
      const strong = await server.request(`/api/posts/${id}`, { method: 'PATCH', token: alice.accessToken, json: { body: 'changed' }, headers: { 'if-match': `"x", ${etag}` } });
      expect(strong.status).toBe(200);
      expect(strong.headers.get('etag')).toBe(`"post.${id}.v2.c0.a1"`);
    });
  });

  describe('API description', () => {
    it('serves OpenAPI 3.1 listing every /api route of the app with its methods', async () => {
      const res = await server.request('/api/openapi.json');
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      const documented = Object.fromEntries(Object.entries(doc.paths).map(([path, ops]) => [path, Object.keys(ops).sort()]));
      expect(documented).toEqual(apiRoutesOf(server));
      // The same list, spelled out, so a route that vanishes from the app is noticed too.
      expect(Object.keys(documented).sort()).toEqual([
        '/api/auth/login', '/api/auth/logout', '/api/auth/password', '/api/auth/refresh', '/api/auth/register', '/api/avatars/initials/{file}', '/api/avatars/{hash}.webp', '/api/comments/{id}', '/api/comments/{id}/reactions/{reaction}', '/api/conversations',
        '/api/conversations/{id}', '/api/conversations/{id}/messages', '/api/conversations/{id}/presence', '/api/conversations/{id}/read', '/api/me', '/api/me/avatar', '/api/me/reactions', '/api/notifications', '/api/notifications/read',
        '/api/online', '/api/posts', '/api/posts/{id}', '/api/posts/{id}/comments', '/api/posts/{id}/reactions/{reaction}', '/api/search/posts', '/api/users', '/api/users/{username}', '/api/users/{username}/posts',
      ]);
    });

    it('serves the docs page as HTML whose scripts and styles load under its CSP', async () => {
      const page = await server.request('/api/docs');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = page.headers.get('content-security-policy') ?? '';
      const scriptSrc = directive(csp, 'script-src') ?? directive(csp, 'default-src');
      expect(scriptSrc).toContain("'self'");
      const html = await page.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, inline] of scripts) {
        const src = /\bsrc="([^"]+)"/.exec(attributes ?? '')?.[1];
        // Inline code would need 'unsafe-inline' or a hash in script-src, which the CSP does not grant.
        expect(src, `inline script: ${(inline ?? '').slice(0, 80)}`).toBeDefined();
        expect(inline?.trim()).toBe('');
        const url = new URL(src!, `${server.url}/api/docs`);
        expect(url.origin, src).toBe(server.url); // 'self'
        const script = await fetch(url);
        expect(script.status, src).toBe(200);
        expect(script.headers.get('content-type'), src).toMatch(/^(application|text)\/javascript/);
        expect((await script.text()).length, src).toBeGreaterThan(100);
      }
      for (const [, href] of html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/gi)) {
        const sheet = await fetch(new URL(href!, `${server.url}/api/docs`));
        expect(sheet.status, href).toBe(200);
        expect(sheet.headers.get('content-type'), href).toMatch(/^text\/css/);
      }
      // The initializer loads the spec from ./json relative to the page (connect-src falls back to 'self').
      const spec = await server.request('/api/docs/json');
      expect(spec.status).toBe(200);
      expect(((await spec.json()) as { openapi: string }).openapi).toMatch(/^3\.1\./);
    });

    it('keeps upgrade-insecure-requests off the docs page when HSTS is off, like every other page', async () => {
      const page = await server.request('/api/docs');
      expect(page.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
    });
  });

  describe('operations endpoints', () => {
    it('answers /healthz 200 and /readyz 200 ready', async () => {
      const health = await server.request('/healthz');
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await server.request('/readyz');
      expect(ready.status).toBe(200);
      // A cluster node names itself (request() alternates between the two).
      expect(await ready.json()).toEqual(clusterTarget ? { status: 'ready', node: expect.stringMatching(/^n[12]$/) } : { status: 'ready' });
    });

    singleNode('counts one node’s /metrics series; request() spreads the requests over two nodes').it('counts requests in /metrics by route template, never by raw URL', async () => {
      const { id } = await createPost(server, alice, 'measured');
      expect((await server.request(`/api/posts/${id}`)).status).toBe(200);
      expect((await server.request('/api/posts/98765')).status).toBe(404);
      expect((await server.request('/no/such/thing')).status).toBe(404);
      const res = await server.request('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toMatch(/^tandem_http_requests_total\{method="GET",route="\/api\/posts\/:id",status="200"\} [1-9]\d*$/m);
      expect(text).toMatch(/^tandem_http_requests_total\{method="GET",route="\/api\/posts\/:id",status="404"\} [1-9]\d*$/m);
      expect(text).toMatch(/^tandem_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]\d*$/m);
      expect(text).not.toContain('98765');
      expect(text).not.toContain('/no/such/thing');
    });
  });
});

describe('with TANDEM_BODY_LIMIT=2048', () => {
  let server: TestServer;
  let alice: TestUser;

  beforeAll(async () => {
    server = await startServer({ env: { TANDEM_BODY_LIMIT: '2048' } });
    alice = await registerUser(server);
  });
  afterAll(() => server.close());

  it('accepts a body just under the limit', async () => {
    const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'x'.repeat(2000) } });
    expect(res.status).toBe(201);
  });

  it('refuses a body over the limit with 413 payload_too_large and writes nothing', async () => {
    const before = await postCount(server);
    const res = await server.request('/api/posts', { method: 'POST', token: alice.accessToken, json: { body: 'x'.repeat(2100) } });
    expect(res.status).toBe(413);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toMatch(/\S/);
    expect(await problemOf(res)).toMatchObject({ code: 'payload_too_large', status: 413, type: 'urn:tandem:error:payload_too_large' });
    expect(await postCount(server)).toBe(before);
  });

  it('refuses a chunked body (no Content-Length) that grows over the limit', async () => {
    const before = await postCount(server);
    const json = JSON.stringify({ body: 'y'.repeat(4000) });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(json);
        for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/api/posts`, {
      method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.accessToken}` },
    } as RequestInit & { duplex: 'half' });
    expect(res.status).toBe(413);
    expect((await problemOf(res)).code).toBe('payload_too_large');
    expect(await postCount(server)).toBe(before);
  });
});

describe('with TANDEM_RATE_LIMIT=60 and TANDEM_RATE_LIMIT_BURST=5', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { TANDEM_RATE_LIMIT: '60', TANDEM_RATE_LIMIT_BURST: '5' } });
  });
  afterAll(() => server.close());

  singleNode('counts an exact per-IP budget; a cluster shares it between nodes ~200 ms late (docs/architecture.md)').it('answers 429 rate_limited with a numeric Retry-After once the burst is spent', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6; i += 1) {
      const res = await server.request('/api/posts');
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(limited!.headers.get('retry-after')).toBe('1'); // one token a second
    expect(limited!.headers.get('cache-control')).toBe('no-store');
    expect(await problemOf(limited!)).toMatchObject({ code: 'rate_limited', status: 429 });
    // Every route shares the bucket, unknown ones included.
    expect((await server.request('/api/nope')).status).toBe(429);
  });

  it('never limits /healthz, /readyz or /metrics, whatever their query string or trailing slash', async () => {
    // Spend whatever trickled back into the bucket since the previous test (on a cluster, both
    // nodes' buckets: request() alternates between them).
    let drained = false;
    for (let i = 0; i < 20 && !drained; i += 1) {
      const res = await server.request('/api/posts');
      await res.arrayBuffer();
      drained = res.status === 429;
    }
    expect(drained).toBe(true);
    for (const path of ['/healthz', '/healthz?probe=1', '/healthz/', '/readyz', '/readyz?from=lb', '/metrics', '/metrics?name[]=x']) {
      for (let i = 0; i < 10; i += 1) {
        const res = await server.request(path);
        expect(res.status, path).toBe(200);
        await res.arrayBuffer();
      }
    }
  });
});

describe('with TANDEM_CORS_ORIGINS=https://app.example.com', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { TANDEM_CORS_ORIGINS: APP_ORIGIN } });
  });
  afterAll(() => server.close());

  const preflight = (origin: string) =>
    server.request('/api/posts/1', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, if-match, idempotency-key, content-type' },
    });

  it('answers a preflight from the allowed origin with the headers and methods the API needs', async () => {
    const res = await preflight(APP_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(headerList(res.headers.get('access-control-allow-headers'))).toEqual(expect.arrayContaining(['authorization', 'if-match', 'if-none-match', 'idempotency-key', 'content-type']));
    expect(headerList(res.headers.get('access-control-allow-methods'))).toEqual(expect.arrayContaining(['get', 'post', 'patch', 'delete']));
    expect(headerList(res.headers.get('vary'))).toContain('origin');
    expect(res.headers.get('x-request-id')).toMatch(/\S/);
  });

  it('lets the allowed origin read ETag, Location, Link, Retry-After and X-Request-Id', async () => {
    const res = await server.request('/api/posts', { headers: { origin: APP_ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(headerList(res.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['etag', 'location', 'link', 'retry-after', 'x-request-id']));
  });

  it('grants nothing to another origin', async () => {
    const pre = await preflight('https://evil.example');
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await server.request('/api/posts', { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const lookalike = await server.request('/api/posts', { headers: { origin: 'https://app.example.com.evil.example' } });
    expect(lookalike.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('with TANDEM_HSTS=true', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { TANDEM_HSTS: 'true' } });
  });
  afterAll(() => server.close());

  it('sends Strict-Transport-Security on every answer, and upgrade-insecure-requests on pages', async () => {
    for (const res of [await server.request('/api/posts'), await server.request('/api/nope'), await server.request('/')]) {
      expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    }
    expect((await server.request('/')).headers.get('content-security-policy')).toContain('upgrade-insecure-requests');
    // A 304 keeps HSTS (it is about the connection, not the representation).
    const tag = (await server.request('/api/posts')).headers.get('etag')!;
    const revalidated = await server.request('/api/posts', { headers: { 'if-none-match': tag } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });
});

/** The CSP directive's value, e.g. directive("script-src 'self'; img-src data:", 'script-src') -> "'self'". */
function directive(csp: string, name: string): string | undefined {
  for (const part of csp.split(';')) {
    const [key, ...values] = part.trim().split(/\s+/);
    if (key === name) return values.join(' ');
  }
  return undefined;
}

/**
 * The app's own /api routes and methods, from Fastify's route tree (HEAD is implied by GET;
 * the docs and the spec itself are not API routes), in OpenAPI path syntax.
 */
function apiRoutesOf(server: TestServer): Record<string, string[]> {
  const routes: Record<string, string[]> = {};
  const stack: string[] = [];
  for (const line of server.social.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    const label = match[2] ?? '';
    const parent = stack[depth - 1] ?? '';
    const full = parent === '' ? label : `${parent.replace(/\/$/, '')}/${label.replace(/^\//, '')}`;
    stack.push(full);
    if (!full.startsWith('/api/') || full.startsWith('/api/docs') || full === '/api/openapi.json' || full === '/api/asyncapi.json' || match[3] === undefined) continue;
    const methods = match[3].split(',').map((m) => m.trim().toLowerCase()).filter((m) => m !== 'head');
    routes[full.replace(/:(\w+)/g, '{$1}')] = methods.sort();
  }
  return routes;
}

/** The status and head (status line and headers, as sent) of a GET over a raw socket. */
async function rawHead(base: string, pathname: string, headers: Record<string, string>): Promise<{ status: number; head: string }> {
  const { hostname, port } = new URL(base);
  const request = [`GET ${pathname} HTTP/1.1`, `Host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(data.slice(0, end + 4));
      }
    });
    socket.on('error', reject);
  });
  return { status: Number(raw.split(' ')[1]), head: raw };
}
