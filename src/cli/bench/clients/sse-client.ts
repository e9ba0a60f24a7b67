/**
 * An SSE client of Tandem's fallback (docs/protocol.md, "SSE fallback") as the RealtimeClient
 * speaks it: `GET /realtime/sse` streamed on one connection; after `hello`, `auth` and `sub` in
 * one POST of ndjson frames (their acks come down the stream); a `ping` POST every
 * PING_INTERVAL_MS; `DELETE /realtime/sse` to end. Its own keep-alive pool of two connections, as a
 * browser tab would use one for the stream and another for the POSTs.
 */
import http from 'node:http';
import { PING_INTERVAL_MS, recordPublications, type PushClientOptions } from './ws-client';

/** Splits a text/event-stream into events: `event`, `data` (data lines joined by '\n'). */
export class EventStreamReader {
  #buffer = '';
  readonly #onEvent: (event: string, data: string) => void;

  constructor(onEvent: (event: string, data: string) => void) {
    this.#onEvent = onEvent;
  }

  push(chunk: string): void {
    this.#buffer += chunk;
    let end = this.#buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
        else if (line.startsWith('event:')) event = line.slice(6).trim();
      }
      if (data.length > 0) this.#onEvent(event, data.join('\n'));
      end = this.#buffer.indexOf('\n\n');
    }
  }
}

export class SseClient {
  readonly #options: PushClientOptions;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  #stream: http.ClientRequest | undefined;
  #streamId = '';
  #pinger: NodeJS.Timeout | undefined;
  #nextId = 3;
  #closing = false;
  #ended: Promise<void> = Promise.resolve();

  constructor(options: PushClientOptions) {
    this.#options = options;
  }

  /** Opens the stream, authenticates and subscribes; resolves once the subscription is acknowledged. */
  connect(phaseMs: number): Promise<void> {
    const { base, headers, index, observations } = this.#options;
    return new Promise<void>((resolve, reject) => {
      let live = false;
      const timer = setTimeout(() => fail(new Error('not subscribed within 30 s')), 30_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (live) return this.#options.onError(error);
        this.#stream?.destroy();
        reject(error);
      };
      const reader = new EventStreamReader((event, data) => {
        if (live) return event === 'message' ? recordPublications(data, index, observations) : undefined;
        if (event === 'hello') return this.#hello(data).catch(fail);
        if (event !== 'message') return fail(new Error(`${event} before the subscription: ${data}`));
        for (const line of data.split('\n')) {
          const frame = JSON.parse(line) as { t: string; id?: number; c?: string };
          if (frame.t === 'err') return fail(new Error(`refused: ${frame.c}`));
          if (frame.t === 'ack' && frame.id === 2) {
            live = true;
            clearTimeout(timer);
            this.#startPings(phaseMs);
            resolve();
          }
        }
      });
      const request = http.request({ host: base.hostname, port: base.port, path: '/realtime/sse', headers: { ...headers, accept: 'text/event-stream' }, agent: this.#agent });
      this.#stream = request;
      this.#ended = new Promise<void>((ended) => {
        request.once('response', (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return fail(new Error(`GET /realtime/sse answered ${res.statusCode}`));
          }
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => reader.push(chunk));
          res.once('close', () => {
            ended();
            if (!this.#closing) fail(new Error('the stream ended'));
          });
        });
        request.once('close', ended);
      });
      request.once('error', fail);
      request.end();
    });
  }

  /** Ends the stream (DELETE), then waits for the response to end (cut after 5 s). */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#pinger);
    if (this.#streamId !== '') await this.#send('DELETE', '/realtime/sse').catch(() => undefined);
    const cut = setTimeout(() => this.#stream?.destroy(), 5_000);
    await this.#ended;
    clearTimeout(cut);
    this.#agent.destroy();
  }

  async #hello(data: string): Promise<void> {
    this.#streamId = (JSON.parse(data) as { sid: string }).sid;
    const frames = [{ t: 'auth', id: 1, tok: this.#options.token }, { t: 'sub', id: 2, ch: this.#options.channel }];
    const status = await this.#send('POST', '/realtime/sse/frames', frames.map((f) => JSON.stringify(f)).join('\n'));
    if (status !== 202) throw new Error(`POST /realtime/sse/frames answered ${status}`);
  }

  #startPings(phaseMs: number): void {
    const ping = () => {
      this.#send('POST', '/realtime/sse/frames', JSON.stringify({ t: 'ping', id: this.#nextId++ })).then(
        (status) => (status === 202 ? undefined : this.#options.onError(new Error(`ping answered ${status}`))),
        (error: Error) => this.#options.onError(error),
      );
    };
    this.#pinger = setTimeout(() => {
      ping();
      this.#pinger = setInterval(ping, PING_INTERVAL_MS);
    }, phaseMs % PING_INTERVAL_MS);
  }

  /** One request on the client's second connection; resolves with its status. */
  #send(method: 'POST' | 'DELETE', path: string, body?: string): Promise<number> {
    const headers: http.OutgoingHttpHeaders = { ...this.#options.headers, 'tandem-stream': this.#streamId };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) });
    return new Promise((resolve, reject) => {
      const request = http.request({ host: this.#options.base.hostname, port: this.#options.base.port, path, method, headers, agent: this.#agent, timeout: 20_000 }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      });
      request.once('timeout', () => request.destroy(new Error(`${method} ${path}: no answer within 20 s`)));
      request.once('error', reject);
      request.end(body);
    });
  }
}
