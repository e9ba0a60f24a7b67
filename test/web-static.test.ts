import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_PAGES } from '../src/apps/social/web';
import { problemOf, startServer, type TestServer } from './support/server';

/**
 * How the social app serves its built web UI, against a stand-in build (the real one is built
 * and driven in a browser by test/e2e): index.html for every client route, hashed assets as
 * immutable, the security headers on both, and the API untouched.
 */

const INDEX = '<!doctype html><html><head><script type="module" crossorigin src="/assets/index-AbC123.js"></script><link rel="stylesheet" href="/assets/index-XyZ789.css"></head><body><div id="app"></div></body></html>';
const SCRIPT = 'document.getElementById("app").textContent = "hello";';
const STYLE = 'body { margin: 0 }';

let webRoot: string;
let server: TestServer;

beforeAll(async () => {
  webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-web-'));
  fs.mkdirSync(path.join(webRoot, 'assets', 'fonts'), { recursive: true });
  fs.writeFileSync(path.join(webRoot, 'index.html'), INDEX);
  fs.writeFileSync(path.join(webRoot, 'assets', 'index-AbC123.js'), SCRIPT);
  fs.writeFileSync(path.join(webRoot, 'assets', 'index-XyZ789.css'), STYLE);
  fs.writeFileSync(path.join(webRoot, 'assets', 'fonts', 'inter-Q1w2E3.woff2'), Buffer.from([0x77, 0x4f, 0x46, 0x32]));
  server = await startServer({ webRoot });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(webRoot, { recursive: true, force: true });
});

/** A concrete URL for each client route pattern. */
const pageUrls = WEB_PAGES.map((page) => page.replace(/:id\([^)]*\)/, '7').replace(/:username\([^)]*\)/, 'alice_1'));

describe('the web UI pages', () => {
  it('answers index.html at / and at every client route, revalidated on each use (no-cache + ETag)', async () => {
    expect(server.social.webUi).toBe(true);
    expect(pageUrls).toEqual(expect.arrayContaining(['/', '/login', '/posts/7', '/messages/7', '/notifications', '/profile', '/u/alice_1']));
    for (const url of pageUrls) {
      const res = await server.request(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control'), url).toBe('no-cache');
      expect(res.headers.get('etag'), url).toMatch(/^"[\w-]{22}"$/);
      expect(await res.text(), url).toBe(INDEX);
    }
  });

  it('answers 304 to a matching If-None-Match, and the page again once the ETag differs', async () => {
    const first = await server.request('/posts/7');
    const etag = first.headers.get('etag')!;
    const again = await server.request('/messages', { headers: { 'if-none-match': `"other", ${etag}` } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
    const stale = await server.request('/', { headers: { 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
  });

  it('sends the security headers on the page: scripts, styles and connections from the site itself only', async () => {
    const res = await server.request('/');
    const csp = res.headers.get('content-security-policy') ?? '';
    const directive = (name: string) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `));
    expect(directive('default-src')).toBe("default-src 'self'");
    expect(directive('script-src')).toBe("script-src 'self'");
    expect(directive('script-src-attr')).toBe("script-src-attr 'none'");
    expect(directive('object-src')).toBe("object-src 'none'");
    // No connect-src: fetch and WebSocket fall back to default-src 'self' (CSP 3: 'self' covers ws: to the same host).
    expect(directive('connect-src')).toBeUndefined();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('leaves other paths alone: an unknown page is a 404 problem, not index.html', async () => {
    for (const url of ['/nope', '/posts/abc', '/posts/0', '/posts/7/edit', '/messages/x', '/api/nope']) {
      const res = await server.request(url);
      expect(res.status, url).toBe(404);
      expect((await problemOf(res)).code, url).toBe('not_found');
    }
  });

  it('keeps the API, realtime and operations routes as they were', async () => {
    const posts = await server.request('/api/posts');
    expect(posts.status).toBe(200);
    expect(posts.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await server.request('/healthz')).status).toBe(200);
    expect((await server.request('/readyz')).status).toBe(200);
    expect((await server.request('/metrics')).status).toBe(200);
    expect((await server.request('/api/docs')).status).toBe(200);
  });
});

describe('the hashed assets', () => {
  it('serves them with their type and a year-long immutable Cache-Control', async () => {
    const cases = [
      ['/assets/index-AbC123.js', 'text/javascript; charset=utf-8', SCRIPT],
      ['/assets/index-XyZ789.css', 'text/css; charset=utf-8', STYLE],
    ] as const;
    for (const [url, type, body] of cases) {
      const res = await server.request(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toBe(type);
      expect(res.headers.get('cache-control'), url).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('x-content-type-options'), url).toBe('nosniff');
      expect(await res.text(), url).toBe(body);
    }
    const font = await server.request('/assets/fonts/inter-Q1w2E3.woff2');
    expect(font.status).toBe(200);
    expect(font.headers.get('content-type')).toBe('font/woff2');
    expect(Buffer.from(await font.arrayBuffer())).toEqual(Buffer.from([0x77, 0x4f, 0x46, 0x32]));
  });

  it('a script carries the policy it runs under as a worker (its own scripts and connections), other files the API’s', async () => {
    // A worker's CSP is its script's response's: under the API's default-src 'none' the web UI's
    // SharedWorker could not open its WebSocket.
    const script = await server.request('/assets/index-AbC123.js');
    expect(script.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    const style = await server.request('/assets/index-XyZ789.css');
    expect(style.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await server.request('/assets/index-AbC123.js');
    const again = await server.request('/assets/index-AbC123.js', { headers: { 'if-none-match': first.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('answers only files of the build: unknown names and paths out of the folder are 404 problems', async () => {
    for (const url of ['/assets/index-Missing.js', '/assets/', '/assets/..%2Findex.html', '/assets/%2e%2e/%2e%2e/package.json', '/assets/fonts']) {
      const res = await server.request(url);
      expect(res.status, url).toBe(404);
      expect(res.headers.get('cache-control'), url).toBe('no-store');
      expect((await problemOf(res)).code, url).toBe('not_found');
    }
  });
});

describe('without a build', () => {
  it('still starts: the pages explain how to build the UI (503), everything else works', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-web-empty-'));
    const bare = await startServer({ webRoot: empty });
    try {
      expect(bare.social.webUi).toBe(false);
      const page = await bare.request('/');
      expect(page.status).toBe(503);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(await page.text()).toContain('npm run build:web');
      expect((await bare.request('/posts/3')).status).toBe(503);
      expect((await bare.request('/assets/index-AbC123.js')).status).toBe(404);
      expect((await bare.request('/api/posts')).status).toBe(200);
      expect((await bare.request('/healthz')).status).toBe(200);
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
