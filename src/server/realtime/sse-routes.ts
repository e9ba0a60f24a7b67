import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { Type } from 'typebox';
import { TandemError } from '../errors';
import type { TandemHttpApp } from '../http/app';
import type { Refusal } from './admission';
import type { RealtimeGateway } from './gateway';
import { takeOverStream, type SseWire } from './sse-takeover';

/** The media type of the upstream POST: tandem.v1 client frames, one JSON text per line. */
const FRAMES_MEDIA_TYPE = 'application/x-ndjson';

/** 24 random base64url characters, after a cluster node's `<node id>-` (at most 64 + 1). */
const STREAM_ID = /^[A-Za-z0-9_-]{8,96}$/;
const streamHeader = Type.Object({ 'tandem-stream': Type.String({ pattern: STREAM_ID.source }) });

/**
 * The SSE fallback's HTTP endpoints, next to the WebSocket one (`<path>` = /realtime):
 *
 * - `GET <path>/sse` opens a stream (`text/event-stream`), or resumes one with `Last-Event-ID`;
 * - `POST <path>/sse/frames` sends client frames on it (header `Tandem-Stream: <id>`);
 * - `DELETE <path>/sse` ends it (same header).
 *
 * Admission, limits, checks and answers are the gateway's, as for a WebSocket (docs/protocol.md).
 * Neither the token nor the stream id ever travels in a URL.
 */
export function installSseEndpoints(app: TandemHttpApp, gateway: RealtimeGateway, path = '/realtime'): void {
  // No HEAD twin (Fastify adds one per GET): a HEAD would open a stream that can carry nothing.
  // Not under the REST per-IP request limit (a shared NAT's pings would use it up for everyone):
  // streams are admitted like WebSocket handshakes, and their frames go through the connection's
  // token bucket. POSTs and DELETEs to a stream that does not exist are answered before the body is read.
  const unlimited = { rateLimit: false } as const;
  const streams = gateway.sse;
  const knownStream = (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const id = request.headers['tandem-stream'];
    // A malformed id is left to the schema (400); a well-formed unknown one is gone (410).
    if (typeof id === 'string' && STREAM_ID.test(id) && !streams.has(id)) return done(refusalError({ code: 'stream_lost' }));
    done();
  };

  app.get(`${path}/sse`, { exposeHeadRoute: false, config: unlimited, schema: { hide: true } }, async (request, reply) => {
    const lastEventId = request.headers['last-event-id'];
    const open = (): SseWire => {
      reply.hijack();
      return takeOverStream(request.raw, reply.raw, {
        ...(reply.getHeaders() as OutgoingHttpHeaders),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        // nginx and friends: do not buffer the stream.
        'x-accel-buffering': 'no',
        // The stream holds its TCP connection for its whole life; when it ends, so does the
        // connection (a keep-alive socket left behind would also hold up a server's shutdown).
        connection: 'close',
      });
    };
    const refusal = streams.open(request.raw, typeof lastEventId === 'string' ? lastEventId : undefined, open);
    if (refusal !== undefined) throw refusalError(refusal);
  });

  void app.register(async (scope) => {
    // Only NDJSON here: the inherited JSON parser would hand the handler an object, not lines.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(FRAMES_MEDIA_TYPE, { parseAs: 'string', bodyLimit: gateway.limits.maxPayloadBytes }, (_request, body, done) => done(null, body));
    scope.post(`${path}/sse/frames`, { config: unlimited, onRequest: knownStream, schema: { hide: true, headers: streamHeader } }, async (request, reply) => {
      // A POST without a body and without a Content-Type reaches here without going through a parser.
      if (typeof request.body !== 'string') throw new TandemError('unsupported_media_type');
      const refusal = streams.frames(request.raw, String(request.headers['tandem-stream']), request.body);
      if (refusal !== undefined) throw refusalError(refusal);
      return reply.code(202).header('cache-control', 'no-store').send();
    });
  });

  app.delete(`${path}/sse`, { config: unlimited, onRequest: knownStream, schema: { hide: true, headers: streamHeader } }, async (request, reply) => {
    const refusal = streams.close(request.raw, String(request.headers['tandem-stream']));
    if (refusal !== undefined) throw refusalError(refusal);
    return reply.code(204).send();
  });
}

function refusalError(refusal: Refusal): TandemError {
  return new TandemError(refusal.code, undefined, {
    ...(refusal.retryAfter === undefined ? {} : { headers: { 'retry-after': String(refusal.retryAfter) } }),
    ...(refusal.close === undefined ? {} : { extensions: { close: refusal.close } }),
  });
}
