/**
 * The same-work floor for the REST benchmark: Fastify 5 and better-sqlite3, doing the work Tandem's
 * `GET /api/posts/:id` must do and nothing else. On every request it reads the row with a prepared
 * statement from the same SQLite file, with the same pragmas. The strong ETag comes from the row's
 * version column (`"post.<id>.v<version>"`, Tandem's rule). A 304 looks up the version alone; a 200
 * reads the post joined with its author and sends the same JSON. Only security headers, limits,
 * metrics, request ids and validation are missing, which is what the ratio against it prices.
 *
 * Started by bench/rest/run.ts with:
 *   PORT               port to listen on (0 = any; the chosen port is printed)
 *   BENCH_DB           Tandem's SQLite file (opened read-only; Tandem keeps writing its WAL)
 *   BENCH_CACHE_CONTROL Tandem's Cache-Control for a post
 * It prints `floor listening on <port>` once it accepts connections.
 */
import SQLite from 'better-sqlite3';
import Fastify from 'fastify';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`floor-server: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const database = new SQLite(required('BENCH_DB'), { readonly: true });
// Tandem's reading pragmas (journal_mode is the file's: WAL, set by Tandem).
database.pragma('foreign_keys = ON');
database.pragma('busy_timeout = 5000');
const cacheControl = required('BENCH_CACHE_CONTROL');
const port = Number(process.env.PORT ?? '0');

const versionOf = database.prepare<[number], { version: number }>('select version from posts where id = ?');
const postOf = database.prepare<[number], { id: number; author_id: number; username: string; body: string; created_at: string; updated_at: string; version: number }>(
  'select posts.id, posts.author_id, users.username, posts.body, posts.created_at, posts.updated_at, posts.version from posts inner join users on users.id = posts.author_id where posts.id = ?',
);

const app = Fastify({ logger: false });

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

const stop = () => void app.close().then(() => process.exit(0), () => process.exit(1));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

app.listen({ port, host: '127.0.0.1' }).then(
  () => {
    const address = app.server.address();
    const actual = typeof address === 'object' && address !== null ? address.port : port;
    process.stdout.write(`floor listening on ${actual}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`floor-server failed: ${String(error)}\n`);
    process.exit(1);
  },
);
