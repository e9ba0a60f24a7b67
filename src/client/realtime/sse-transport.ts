import { CloseCode } from '../../protocol/close-codes';
import { parseRetryAfter } from '../errors';
import type { FetchLike, Platform } from './platform';
import { SseParser, type SseEvent } from './sse-parser';
import { TimerSlot } from './timer-slot';
import { parseFrame, type Transport, type TransportClose, type TransportHandlers } from './transport';

export interface SseTransportOptions {
  /** The stream endpoint, `http(s)://host/realtime/sse`; frames go to `<url>/frames`. */
  url: string;
  platform: Platform & { fetch: FetchLike };
  /** Send a `ping` this often; silence on the stream for twice as long means it is dead. */
  heartbeatIntervalMs: number;
  /** Give up on a stream that has not said hello in this time. */
  connectTimeoutMs: number;
}

/** Upstream POSTs stay well under the server's 64 KiB frame limit. */
const MAX_POST_BYTES = 32 * 1024;
/** Resumes in a row (with no event in between) before the stream is reported lost. */
const MAX_RESUMES = 2;

/**
 * The SSE fallback, as a Transport the RealtimeClient drives exactly like a WebSocket: frames come
 * down a `text/event-stream` (fetch-streamed, so no token or id ever sits in a URL) and go up in
 * POSTs, in order, batched, one in flight at a time. A stream whose response ends without the
 * server's `close` event is resumed with `Last-Event-ID` (the server replays what followed); only
 * when that fails is the connection reported closed, and the client recovers from its positions.
 */
export class SseTransport implements Transport {
  readonly kind = 'sse';
  readonly #options: SseTransportOptions;
  readonly #handlers: TransportHandlers;
  #streamId: string | undefined;
  #lastSeq = 0;
  #opened = false;
  #finished = false;
  /** The request reading the stream now; replaced by each resume. */
  #reading: AbortController | undefined;
  #resumes = 0;
  #outbox: string[] = [];
  #posting = false;
  #lastFrameAt: number;
  readonly #timer: TimerSlot;
  /** The ping interval: the client's, or shorter when the server's heartbeat (`hb`) needs it. */
  #heartbeatMs: number;
  /** POSTs in flight, aborted when the transport finishes. */
  readonly #posts = new Set<AbortController>();

  constructor(options: SseTransportOptions, handlers: TransportHandlers) {
    this.#timer = new TimerSlot(options.platform.timers);
    this.#options = options;
    this.#handlers = handlers;
    this.#lastFrameAt = options.platform.clock();
    this.#heartbeatMs = options.heartbeatIntervalMs;
    this.#timer.schedule(() => this.abort('connect_timeout'), options.connectTimeoutMs);
    void this.#read(undefined);
  }

  send(frame: object): boolean {
    if (this.#finished || !this.#opened) return false;
    this.#outbox.push(JSON.stringify(frame));
    if (!this.#posting) {
      this.#posting = true;
      // Frames sent in the same turn (every subscription after a reconnect) share one POST.
      void Promise.resolve().then(() => this.#post());
    }
    return true;
  }

  close(code: number, reason: string): void {
    this.#end();
    this.#finish({ code, reason });
  }

  abort(reason: string): void {
    this.#end();
    this.#finish({ code: CloseCode.abnormal, reason });
  }

  /** Stops reading and tells the server the stream is done (so presence does not wait for a resume). */
  #end(): void {
    if (this.#finished) return;
    this.#reading?.abort();
    const streamId = this.#streamId;
    if (streamId !== undefined) {
      // keepalive: it still goes out when the page is being closed.
      this.#options.platform.fetch(this.#options.url, { method: 'DELETE', headers: { 'tandem-stream': streamId }, cache: 'no-store', keepalive: true }).then(
        (response) => void response.body?.cancel().catch(() => {}),
        () => {},
      );
    }
  }

  async #read(resumeFrom: string | undefined): Promise<void> {
    const controller = new AbortController();
    this.#reading = controller;
    const current = () => !this.#finished && this.#reading === controller;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (resumeFrom !== undefined) headers['last-event-id'] = resumeFrom;
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await this.#options.platform.fetch(this.#options.url, { headers, signal: controller.signal, cache: 'no-store' });
    } catch {
      if (current()) this.#dropped();
      return;
    }
    if (!current()) return controller.abort();
    if (!response.ok || response.body === null) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#options.platform.clock());
      const problem = await problemOf(response);
      if (!current()) return;
      const serverClose = problem.close as { code?: unknown; reason?: unknown } | undefined;
      let close: Omit<TransportClose, 'opened'>;
      if (resumeFrom !== undefined && typeof serverClose?.code === 'number') {
        // The server closed the stream while we were away (a logout, a restart): that close decides.
        close = { code: serverClose.code, reason: typeof serverClose.reason === 'string' ? serverClose.reason : '' };
      } else {
        // A resume refused (410 stream_lost: too late, a restart) ends this stream; the client recovers from positions.
        const code = typeof problem.code === 'string' ? problem.code : undefined;
        close = { code: CloseCode.abnormal, reason: resumeFrom === undefined ? code ?? `http_${response.status}` : 'stream_lost', pathFailure: resumeFrom === undefined && response.status >= 500 };
      }
      if (retryAfterMs !== undefined) close.retryAfterMs = retryAfterMs;
      return this.#finish(close);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser((event) => {
      if (current()) this.#onEvent(event);
    });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !current()) break;
        this.#lastFrameAt = this.#options.platform.clock();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch {
      // A reset, an abort: the same as the response ending.
    }
    if (current()) this.#dropped();
    else reader.cancel().catch(() => {});
  }

  #onEvent(event: SseEvent): void {
    switch (event.event) {
      case 'hello':
        return this.#onHello(event.data);
      case 'close': {
        const { code, reason } = parseJson(event.data) as { code?: unknown; reason?: unknown };
        this.#reading?.abort();
        return this.#finish({ code: typeof code === 'number' ? code : CloseCode.abnormal, reason: typeof reason === 'string' ? reason : '' });
      }
      case 'message': {
        this.#resumes = 0;
        const seq = event.id === undefined ? undefined : seqOf(event.id, this.#streamId);
        if (seq !== undefined) this.#lastSeq = seq;
        for (const line of event.data.split('\n')) {
          if (this.#finished) return;
          const frame = parseFrame(line);
          if (frame !== undefined) this.#handlers.frame(frame);
        }
        return;
      }
    }
  }

  #onHello(data: string): void {
    const { sid, resumed, hb } = parseJson(data) as { sid?: unknown; resumed?: unknown; hb?: unknown };
    if (typeof sid !== 'string') return this.abort('bad_hello');
    if (this.#opened) {
      // A resume must continue this very stream; anything else would silently lose its state.
      if (sid !== this.#streamId || resumed !== true) return this.abort('stream_lost');
      return;
    }
    this.#streamId = sid;
    this.#opened = true;
    // SSE has no pong: the server hears that we are alive from our frames, so ping within its heartbeat.
    if (typeof hb === 'number' && hb > 0) this.#heartbeatMs = Math.max(100, Math.min(this.#heartbeatMs, Math.floor(0.8 * hb)));
    this.#lastFrameAt = this.#options.platform.clock();
    this.#heartbeat();
    this.#handlers.open();
  }

  /** The response ended or failed without a close event: resume, or report the stream lost. */
  #dropped(): void {
    this.#reading?.abort();
    this.#reading = undefined; // the dropped read, still unwinding, must not report it again
    if (!this.#opened) return this.#finish({ code: CloseCode.abnormal, reason: 'stream_failed' });
    if (this.#resumes >= MAX_RESUMES) return this.abort('stream_lost');
    this.#resumes += 1;
    const from = `${this.#streamId}.${this.#lastSeq}`;
    // The first resume at once (a proxy cut a healthy stream); a second after a short, jittered pause.
    const delay = this.#resumes === 1 ? 0 : 250 + Math.floor(this.#options.platform.random() * 500);
    this.#options.platform.timers.setTimeout(() => {
      if (!this.#finished) void this.#read(from);
    }, delay);
  }

  /** One POST in flight at a time, so the server sees frames in the order they were sent. */
  async #post(): Promise<void> {
    const { platform, url } = this.#options;
    while (this.#outbox.length > 0 && !this.#finished && this.#streamId !== undefined) {
      const body = takeBatch(this.#outbox);
      let failure: string | undefined;
      // A POST that hangs would hold up every later frame (pings too): it gets the connect timeout.
      const controller = new AbortController();
      this.#posts.add(controller);
      const timer = platform.timers.setTimeout(() => controller.abort(), this.#options.connectTimeoutMs);
      try {
        const response = await platform.fetch(`${url}/frames`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'tandem-stream': this.#streamId }, body, cache: 'no-store', signal: controller.signal });
        if (!response.ok) failure = response.status === 410 ? 'stream_lost' : (await problemCode(response)) ?? `http_${response.status}`;
        else void response.body?.cancel().catch(() => {});
      } catch {
        failure = 'post_failed';
      } finally {
        platform.timers.clearTimeout(timer);
        this.#posts.delete(controller);
      }
      // Whether the server took a failed POST's frames is unknown: start over rather than guess.
      if (failure !== undefined) {
        this.abort(failure);
        break;
      }
    }
    this.#posting = false;
  }

  #heartbeat(): void {
    const interval = this.#heartbeatMs;
    this.#timer.schedule(() => {
      if (this.#options.platform.clock() - this.#lastFrameAt >= 2 * interval) {
        // Silence: the stream is dead without having closed. Drop it and resume.
        this.#lastFrameAt = this.#options.platform.clock();
        this.#dropped();
      } else {
        this.send({ t: 'ping' });
      }
      if (!this.#finished) this.#heartbeat();
    }, interval);
  }

  #finish(info: Omit<TransportClose, 'opened'>): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#timer.clear();
    this.#reading?.abort();
    this.#reading = undefined;
    this.#outbox = [];
    for (const post of this.#posts) post.abort();
    this.#posts.clear();
    this.#handlers.close({ ...info, opened: this.#opened });
  }
}

/** Takes frames off the front of the outbox, up to MAX_POST_BYTES (at least one). */
function takeBatch(outbox: string[]): string {
  let bytes = 0;
  let count = 0;
  while (count < outbox.length && (count === 0 || bytes + outbox[count]!.length + 1 <= MAX_POST_BYTES)) {
    bytes += outbox[count]!.length + 1;
    count += 1;
  }
  return outbox.splice(0, count).join('\n');
}

/** The sequence number of an event id `<stream>.<seq>` of this stream. */
function seqOf(id: string, streamId: string | undefined): number | undefined {
  const dot = id.lastIndexOf('.');
  if (dot === -1 || id.slice(0, dot) !== streamId) return undefined;
  const seq = Number(id.slice(dot + 1));
  return Number.isSafeInteger(seq) ? seq : undefined;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The members of a problem+json answer ({} when it is not one). */
async function problemOf(response: { text(): Promise<string> }): Promise<Record<string, unknown>> {
  try {
    return parseJson(await response.text());
  } catch {
    return {};
  }
}

/** The `code` of a problem+json answer, if it is one. */
async function problemCode(response: { text(): Promise<string> }): Promise<string | undefined> {
  const code = (await problemOf(response)).code;
  return typeof code === 'string' ? code : undefined;
}
