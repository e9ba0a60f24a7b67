import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TandemError } from '../errors';
import { UNMATCHED_ROUTE } from '../ops/metrics';

export interface StaticSiteOptions {
  /** The folder a bundler wrote: `index.html` and content-hashed files under `assetsDir`. */
  root: string;
  /** Client-side routes answered with index.html (Fastify route patterns, e.g. '/posts/:id'). */
  pages: readonly string[];
  /** The folder of hashed (immutable) files, below `root` and under the same URL path. Default 'assets'. */
  assetsDir?: string;
  /** What the pages answer when `root` has no index.html (the UI was not built). */
  missing?: () => string;
  /**
   * A browser's request for a page no route knows (GET or HEAD, Accept naming text/html) gets
   * index.html with status 404, so the app's own router draws its "page not found" screen instead
   * of the raw problem+json. Requests under these prefixes (and under `/<assetsDir>/`) keep the
   * problem+json answer. Default ['/api/']; `false` turns the page off.
   */
  notFoundPage?: false | { except: readonly string[] };
}

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A year: the longest max-age caches honour. The name changes with the content, so it never goes stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * A script's own Content-Security-Policy applies only when it runs as a worker, whose policy is its
 * response's, not the page's: the API's `default-src 'none'` would leave a SharedWorker (the web UI's
 * shared realtime connection) unable to connect. Its own origin's scripts and connections, nothing more.
 */
const WORKER_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

function load(file: string): StaticFile {
  const body = fs.readFileSync(file);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, type: TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', etag };
}

/** Every regular file below `dir`, by its path relative to it with '/' separators. */
function walk(dir: string, prefix = ''): Map<string, string> {
  const files = new Map<string, string>();
  if (!fs.existsSync(dir)) return files;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) for (const [k, v] of walk(full, relative)) files.set(k, v);
    else if (entry.isFile()) files.set(relative, full);
  }
  return files;
}

function send(request: FastifyRequest, reply: FastifyReply, file: StaticFile, cacheControl: string) {
  reply.header('etag', file.etag).header('cache-control', cacheControl);
  const match = request.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((tag) => tag.trim() === file.etag)) return reply.code(304).send();
  // Over the API's policy, on a 200 only (a 304 keeps the cached answer's headers).
  if (file.type.startsWith('text/javascript')) reply.header('content-security-policy', WORKER_CSP);
  return reply.type(file.type).send(file.body);
}

/** Whether a request is a browser navigating to a page: GET or HEAD, HTML accepted, outside the excepted paths. */
function wantsPage(request: FastifyRequest, except: readonly string[]): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (!(request.headers.accept ?? '').toLowerCase().includes('text/html')) return false;
  const pathname = request.url.split('?')[0]!;
  return !except.some((prefix) => pathname.startsWith(prefix) || `${pathname}/` === prefix);
}

/** index.html with 404: not cached (the same URL may be a page after the next deploy), no ETag (a 304 would hide the status). */
function sendNotFoundPage(reply: FastifyReply, index: StaticFile) {
  return reply.code(404).header('cache-control', 'no-cache').type(index.type).send(index.body);
}

/**
 * Serves a built single-page app: `index.html` (no-cache, revalidated by ETag) at each of
 * `pages`, and the hashed files under `/<assetsDir>/` with a year-long immutable Cache-Control.
 * The files are read once, at start; nothing outside `root` can be named, because only the
 * files found there are answered. Without a build, the pages answer `missing()` with 503 and
 * the rest of the app runs as usual. A browser asking for an unknown page gets index.html with 404
 * (see `notFoundPage`). Returns whether a build was found.
 */
export function installStaticSite(app: FastifyInstance, options: StaticSiteOptions): boolean {
  const indexPath = path.join(options.root, 'index.html');
  const built = fs.existsSync(indexPath);
  const assetsDir = options.assetsDir ?? 'assets';
  const hide = { schema: { hide: true } };
  if (!built) {
    const page = options.missing?.() ?? '<!doctype html><title>Not built</title><p>The web UI has not been built.</p>';
    for (const url of options.pages) {
      app.get(url, hide, async (_request, reply) => reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page));
    }
    return false;
  }
  const index = load(indexPath);
  for (const url of options.pages) app.get(url, hide, async (request, reply) => send(request, reply, index, 'no-cache'));
  if (options.notFoundPage !== false) {
    const except = [...(options.notFoundPage?.except ?? ['/api/']), `/${assetsDir}/`];
    // A catch-all GET (and HEAD) route, not a not-found handler: the app has one already
    // (problem+json), and every other request still gets exactly its answer. /metrics counts
    // what it answers as unmatched, as it counts the not-found handler's (UNMATCHED_ROUTE).
    app.get('/*', { ...hide, config: { [UNMATCHED_ROUTE]: true } }, async (request, reply) => {
      if (wantsPage(request, except)) return sendNotFoundPage(reply, index);
      throw new TandemError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`);
    });
  }
  const assets = new Map([...walk(path.join(options.root, assetsDir))].map(([name, full]) => [name, load(full)]));
  app.get(`/${assetsDir}/*`, hide, async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const file = assets.get(name);
    if (file === undefined) throw new TandemError('not_found', `No file /${assetsDir}/${name}`);
    return send(request, reply, file, IMMUTABLE);
  });
  return true;
}
