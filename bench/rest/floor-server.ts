/**
 * The same-work floor for the REST benchmark: Fastify 5 and better-sqlite3, doing the work Tandem's
 * `GET /api/posts/:id` must do and nothing else. On every request it reads the row with a prepared
 * statement from the same SQLite file, with the same pragmas. The strong ETag comes from the row's
 * version column (`"post.<id>.v<version>"`, Tandem's rule). A 304 looks up the version alone; a 200
 * reads the post joined with its author and sends the same JSON. Only security headers, limits,
 * metrics, request ids and validation are missing, which is what the ratio against it prices.
 *
 * `GET /api/me` is the authenticated floor: the bearer JWT verified as Tandem verifies it (HS256
 * with the store's signing key, typ at+jwt, known kid, constant-time signature check, exp), the
 * session checked against revocation on every request, then the user's row read and sent.
 *
 * Started by bench/rest/run.ts with:
 *   PORT               port to listen on (0 = any; the chosen port is printed)
 *   BENCH_DB           Tandem's SQLite file (opened read-only; Tandem keeps writing its WAL)
 *   BENCH_CACHE_CONTROL Tandem's Cache-Control for a post
 * It prints `floor listening on <port>` once it accepts connections.
 */
import SQLite from 'better-sqlite3';
import Fastify from 'fastify';
import { verifyJwt } from '../common/jwt';
import { required, serveReference } from './reference-server';

const database = new SQLite(required('floor', 'BENCH_DB'), { readonly: true });
// Tandem's reading pragmas (journal_mode is the file's: WAL, set by Tandem).
database.pragma('foreign_keys = ON');
database.pragma('busy_timeout = 5000');
const cacheControl = required('floor', 'BENCH_CACHE_CONTROL');
const port = Number(process.env.PORT ?? '0');

const versionOf = database.prepare<[number], { version: number }>('select version from posts where id = ?');
const postOf = database.prepare<[number], { id: number; author_id: number; username: string; body: string; created_at: string; updated_at: string; version: number }>(
  'select posts.id, posts.author_id, users.username, posts.body, posts.created_at, posts.updated_at, posts.version from posts inner join users on users.id = posts.author_id where posts.id = ?',
);

const keys = new Map(database.prepare<[], { kid: string; secret: string }>('select kid, secret from signing_keys').all().map((k) => [k.kid, Buffer.from(k.secret, 'base64url')]));
const sessionOf = database.prepare<[string], { revoked_at: string | null }>('select revoked_at from sessions where id = ?');
const userVersionOf = database.prepare<[number], { version: number }>('select version from users where id = ?');
const userOf = database.prepare<[number], { id: number; username: string; display_name: string; bio: string; created_at: string; version: number }>(
  'select id, username, display_name, bio, created_at, version from users where id = ?',
);
/** The user id of a valid bearer token whose session is live, or undefined. */
function authenticated(authorization: string | undefined): number | undefined {
  const match = authorization === undefined ? null : /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
  const claims = match === null ? undefined : verifyJwt(match[1]!, keys);
  if (claims === undefined) return undefined;
  const session = sessionOf.get(claims.sid);
  if (session === undefined || session.revoked_at !== null) return undefined;
  return Number(claims.sub);
}

const app = Fastify({ logger: false });

app.get('/api/me', (request, reply) => {
  const userId = authenticated(request.headers.authorization);
  if (userId === undefined) return reply.code(401).send();
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const row = userVersionOf.get(userId);
    if (row !== undefined && ifNoneMatch === `"user.${userId}.v${row.version}"`) return reply.code(304).header('etag', ifNoneMatch).header('cache-control', 'private, no-cache').send();
  }
  const row = userOf.get(userId);
  if (row === undefined) return reply.code(401).send();
  const user = { id: row.id, username: row.username, displayName: row.display_name, bio: row.bio, createdAt: row.created_at, version: row.version };
  return reply.header('etag', `"user.${userId}.v${row.version}"`).header('cache-control', 'private, no-cache').type('application/json; charset=utf-8').send(JSON.stringify(user));
});

app.get<{ Params: { id: string } }>('/api/posts/:id', (request, reply) => {
  const id = Number(request.params.id);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const row = versionOf.get(id);
    if (row === undefined) return reply.code(404).send();
    const etag = `"post.${id}.v${row.version}"`;
    if (ifNoneMatch === etag) return reply.code(304).header('etag', etag).header('cache-control', cacheControl).send();
  }
  const row = postOf.get(id);
  if (row === undefined) return reply.code(404).send();
  const post = { id: row.id, author: { id: row.author_id, username: row.username }, body: row.body, createdAt: row.created_at, updatedAt: row.updated_at, version: row.version };
  return reply.header('etag', `"post.${id}.v${row.version}"`).header('cache-control', cacheControl).type('application/json; charset=utf-8').send(JSON.stringify(post));
});

serveReference(app, 'floor', port);
