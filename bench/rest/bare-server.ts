/**
 * The floor for the REST benchmark: a bare Fastify 5 server with one route that answers
 * `GET /api/posts/:id` with exactly the bytes, ETag, Cache-Control and content-type Tandem
 * sends for that post, and 304 on a matching If-None-Match. No hooks, no database, no
 * helmet, no schemas, no logger: the cheapest way Fastify can serve the same answer.
 *
 * Started by bench/rest/run.ts with:
 *   PORT             port to listen on (0 = any; the chosen port is printed)
 *   BENCH_BODY_B64   the 200 body, base64
 *   BENCH_ETAG       the ETag header value
 *   BENCH_CACHE_CONTROL, BENCH_CONTENT_TYPE
 * It prints `bare listening on <port>` once it accepts connections.
 */
import Fastify from 'fastify';
import { required, serveReference } from './reference-server';

const body = Buffer.from(required('bare', 'BENCH_BODY_B64'), 'base64');
const etag = required('bare', 'BENCH_ETAG');
const cacheControl = required('bare', 'BENCH_CACHE_CONTROL');
const contentType = required('bare', 'BENCH_CONTENT_TYPE');
const port = Number(process.env.PORT ?? '0');

const app = Fastify({ logger: false });

app.get('/api/posts/:id', (request, reply) => {
  reply.header('etag', etag).header('cache-control', cacheControl);
  if (request.headers['if-none-match'] === etag) {
    reply.code(304).send();
    return;
  }
  reply.header('content-type', contentType).send(body);
});

serveReference(app, 'bare', port);
