/**
 * The bench's SSE clients (tandem-sse: Tandem's SSE fallback, docs/protocol.md "SSE fallback"): each stream is a
 * `GET /realtime/sse` (Accept: text/event-stream) on its own TCP connection (node:http with
 * `agent: false`: no pool that could cap connections per origin), read with the reference
 * client's incremental parser (src/client/realtime/sse-parser.ts). After `hello`, auth + sub go
 * up in one POST /realtime/sse/frames (application/x-ndjson, Tandem-Stream: <sid>) over a small
 * keep-alive pool; the acks come down the stream. An event's data lines are its frames, so an
 * event counts 1 + its newlines, like a coalesced WebSocket message. Closing is
 * DELETE /realtime/sse, then the stream's `close` event and the end of the response.
 */
import http from 'node:http';
import { SseParser, type SseEvent } from '../../src/client/realtime/sse-parser';

/** What a stream reports to the client process's accounting. */
export interface SseHooks {
  /** The access token to authenticate with. */
  token: string;
  /** A live event's data (its frames joined by '\n'). */
  delivered(data: string): void;
  /** The stream ended without our asking, after it was ready. */
  dropped(): void;
}

/** Keep-alive sockets for the SSE clients' POSTs and DELETEs (not streams: they do not count as connections). */
const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One upstream request of an SSE client (POST frames, DELETE); resolves with the status. */
function upstream(base: URL, method: 'POST' | 'DELETE', streamId: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'tandem-stream': streamId };
    if (body !== undefined) {
      headers['content-type'] = 'application/x-ndjson';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: base.hostname, port: base.port, path: method === 'POST' ? '/realtime/sse/frames' : '/realtime/sse', method, headers, agent: upstreamAgent, timeout: 20_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} timed out`)));
    req.end(body);
  });
}

/** Opens one SSE stream (its own TCP connection), authenticates and subscribes over POST; resolves once subscribed. */
export function openSse(base: string, index: number, hooks: SseHooks): Promise<{ close(): Promise<void> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let settled = false;
    let closingByUs = false;
    let streamId = '';
    let ended: (() => void) | undefined;
    const timer = setTimeout(() => fail(new Error(`stream ${index}: not ready within 20 s`)), 20_000);
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    const conn = {
      close: () =>
        new Promise<void>((done) => {
          closingByUs = true;
          if (req.destroyed || streamId === '') {
            req.destroy();
            return done();
          }
          const timeout = setTimeout(() => {
            req.destroy();
            done();
          }, 5_000);
          ended = () => {
            clearTimeout(timeout);
            done();
          };
          upstream(url, 'DELETE', streamId).catch(() => req.destroy());
        }),
    };
    const live = (event: SseEvent) => {
      if (event.event === 'message') hooks.delivered(event.data);
    };
    const setup = (event: SseEvent) => {
      if (event.event === 'hello') {
        streamId = (JSON.parse(event.data) as { sid: string }).sid;
        const frames = `${JSON.stringify({ t: 'auth', id: 1, tok: hooks.token })}\n${JSON.stringify({ t: 'sub', id: 2, ch: 'bench:1' })}`;
        upstream(url, 'POST', streamId, frames).then(
          (status) => (status === 202 ? undefined : fail(new Error(`stream ${index}: POST frames answered ${status}`))),
          (error: Error) => fail(error),
        );
        return;
      }
      if (event.event !== 'message') return fail(new Error(`stream ${index}: ${event.event} ${event.data} before it was ready`));
      for (const line of event.data.split('\n')) {
        const frame = JSON.parse(line) as { t: string; id?: number; c?: string };
        if (frame.t === 'err') return fail(new Error(`stream ${index}: ${frame.c}`));
        if (frame.t === 'ack' && frame.id === 2) {
          onEvent = live;
          settled = true;
          clearTimeout(timer);
          return resolve(conn);
        }
      }
    };
    let onEvent = setup;
    const parser = new SseParser((event) => onEvent(event));
    const req = http.request({ host: url.hostname, port: url.port, path: '/realtime/sse', method: 'GET', agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return fail(new Error(`stream ${index}: GET /realtime/sse answered ${res.statusCode}`));
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => parser.push(chunk));
      res.once('close', () => {
        if (settled && !closingByUs) hooks.dropped();
        ended?.();
        fail(new Error(`stream ${index} ended before it was ready`));
      });
    });
    req.on('error', (e) => fail(e));
    req.end();
  });
}
