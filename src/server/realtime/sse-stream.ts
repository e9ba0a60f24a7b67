import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';

/** ws's readyState values, which the connection compares against. */
const OPEN = 1 as const;
const CLOSED = 3 as const;

export interface SseStreamOptions {
  /** Bytes of already written events kept for a resume (`Last-Event-ID`); older ones are forgotten. */
  replayBytes: number;
  /** How long a stream whose response ended waits for the client to resume it. */
  resumeGraceMs: number;
  /** The gateway's heartbeat; a client silent upstream for two of them is taken for dead. */
  heartbeatIntervalMs: number;
}

/** One event kept for a resume: its sequence number and its whole text. */
interface Written {
  seq: number;
  /** The event's `data:` lines and blank line, shared by every stream that wrote the same payload. */
  data: SseData;
}

/** A payload's SSE `data:` block and its size in bytes. */
interface SseData {
  text: string;
  bytes: number;
}

/**
 * The last payload turned into `data:` lines. Subscribers of a channel are flushed one after the
 * other with the very same frame buffer (FlushScheduler encodes once per distinct payload), so
 * this one-entry cache makes the conversion once per publication, not once per stream, and the
 * replay buffers of all those streams share one string. A live Buffer's (ArrayBuffer, offset,
 * length) identifies it: we hold it, so its memory cannot be reused for another one.
 */
let lastPayload: Buffer | undefined;
let lastData: SseData = { text: '', bytes: 0 };

function dataOf(payload: Buffer): SseData {
  const last = lastPayload;
  if (last !== undefined && last.buffer === payload.buffer && last.byteOffset === payload.byteOffset && last.length === payload.length) return lastData;
  const text = `data: ${payload.toString('utf8').replaceAll('\n', '\ndata: ')}\n\n`;
  lastPayload = payload;
  lastData = { text, bytes: Buffer.byteLength(text) };
  return lastData;
}

/**
 * The SSE fallback's half of a realtime connection: a logical stream that outlives any one HTTP
 * response. It behaves like the `ws` socket the Connection drives (readyState, bufferedAmount,
 * send, ping, close, terminate; message/pong/close events), so the Connection, its checks and
 * its limits are the same code for both transports.
 *
 * Down: every coalesced write is one SSE event, `id: <stream>.<seq>` and one `data:` line per
 * tandem.v1 frame (a client joining the data lines with '\n' gets exactly what a WebSocket
 * message carries). Up: the POSTed frames are fed in as messages, in order.
 *
 * When the response ends without a close (a proxy timeout, a network change), the stream stays
 * subscribed for resumeGraceMs, writing into its replay buffer; a GET with
 * `Last-Event-ID: <stream>.<seq>` within that time resumes it and receives what followed `seq`.
 */
export class SseStream extends EventEmitter {
  readonly OPEN = OPEN;
  readonly id: string;
  readyState: 0 | 1 | 2 | 3 = OPEN;
  readonly #options: SseStreamOptions;
  #response: ServerResponse | undefined;
  #seq = 0;
  #written: Written[] = [];
  #writtenBytes = 0;
  /** Bytes written while no response was attached (the client has not seen them). */
  #detachedBytes = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #closeEmitted = false;
  /** The close, when the server closed the stream while no response was attached. */
  closedWith: { code: number; reason: string } | undefined;
  /** When the client last sent frames (or opened / resumed the stream). */
  #heardAt = Date.now();

  constructor(id: string, options: SseStreamOptions) {
    super();
    this.id = id;
    this.#options = options;
  }

  /** Whether a response is attached now (false between a drop and its resume). */
  get attached(): boolean {
    return this.#response !== undefined;
  }

  /** What the client has not received yet, as far as this side knows. */
  get bufferedAmount(): number {
    return this.#response === undefined ? this.#detachedBytes : this.#response.writableLength;
  }

  /** The last sequence number written. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Takes a response (the first, or a resume's) and writes the `hello` event; on a resume, the
   * events after `after` follow. Returns false, writing nothing, when they are no longer all kept.
   */
  attach(response: ServerResponse, hello: Record<string, unknown>, after?: number): boolean {
    if (after !== undefined && !this.canResumeAfter(after)) return false;
    // A resume while a response is still attached takes the stream over: the client has given up
    // on that one (it ends without a close event; destroyed, so a peer that stopped reading frees it).
    this.#response?.destroy();
    this.#response = response;
    this.#detachedBytes = 0;
    this.#heardAt = Date.now();
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    // A (re)attach is a sign of life: a heartbeat that found the stream detached must not drop it now.
    this.emit('pong');
    response.on('close', () => {
      if (this.#response === response) this.#detached();
    });
    response.write(`event: hello\ndata: ${JSON.stringify({ ...hello, sid: this.id })}\n\n`);
    if (after !== undefined) for (const event of this.#written) if (event.seq > after) response.write(this.#idLine(event.seq) + event.data.text);
    return true;
  }

  /** Whether a resume after `seq` would miss nothing (every later event is still kept). */
  canResumeAfter(seq: number): boolean {
    if (this.readyState !== OPEN || !Number.isInteger(seq) || seq < 0 || seq > this.#seq) return false;
    const oldest = this.#written[0]?.seq ?? this.#seq + 1;
    return seq + 1 >= oldest;
  }

  /** The connection's coalesced write: frames joined by '\n', as a WebSocket payload. */
  send(payload: Buffer): void {
    if (this.readyState !== OPEN) return;
    this.#seq += 1;
    const data = dataOf(payload);
    const idLine = this.#idLine(this.#seq);
    this.#remember({ seq: this.#seq, data }, idLine.length);
    if (this.#response === undefined) this.#detachedBytes += idLine.length + data.bytes;
    else this.#response.write(idLine + data.text);
  }

  #idLine(seq: number): string {
    return `id: ${this.id}.${seq}\n`;
  }

  /** Upstream: one client frame, as the socket's message event would carry it. */
  receive(frame: Buffer): void {
    if (this.readyState !== OPEN) return;
    this.#heardAt = Date.now();
    // The client's frames are the stream's sign of life (SSE has no pong): heard from is alive.
    this.emit('pong');
    this.emit('message', frame, false);
  }

  /**
   * The heartbeat. A comment keeps proxies from timing the response out. SSE has no pong: the
   * answer is the client's own `ping` frames (POSTed every heartbeat, and it drops a stream it
   * stops hearing from). A client heard from within two intervals, on an attached stream, counts
   * as alive; one that went silent is terminated by the connection's next heartbeat, so a dead
   * peer behind a silent TCP connection leaves presence in about a minute, not at TCP's timeout.
   */
  ping(): void {
    if (this.#response === undefined) return;
    this.#response.write(': ping\n\n');
    if (Date.now() - this.#heardAt < 2 * this.#options.heartbeatIntervalMs) this.emit('pong');
  }

  /**
   * Ends the stream for good: a `close` event with the code and reason, then the response ends.
   * Closed while detached, the close is kept in `closedWith` for the gateway to tell a resume.
   */
  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    const response = this.#response;
    this.#response = undefined;
    if (response === undefined) {
      this.closedWith = { code, reason };
    } else {
      response.end(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
      // A peer that does not read never lets end() finish: its socket is destroyed after 2 s.
      const timer = setTimeout(() => response.destroy(), 2_000);
      timer.unref();
      response.once('close', () => clearTimeout(timer));
    }
    this.#end(code);
  }

  /** Drops the stream at once (no close event): laggards, dead peers, a resume that came too late. */
  terminate(): void {
    this.readyState = CLOSED;
    const response = this.#response;
    this.#response = undefined;
    response?.destroy();
    this.#end(1006);
  }

  #end(code: number): void {
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#written = [];
    this.#writtenBytes = 0;
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    // Like ws, 'close' comes after the call that caused it has returned.
    setImmediate(() => this.emit('close', code));
  }

  /** The response went away (peer, proxy, network): wait resumeGraceMs for a resume. */
  #detached(): void {
    this.#response = undefined;
    if (this.readyState !== OPEN) return;
    this.#graceTimer = setTimeout(() => this.terminate(), this.#options.resumeGraceMs);
    this.#graceTimer.unref();
  }

  /** Keeps the event for a resume; the oldest go once the kept events pass replayBytes (counted in bytes). */
  #remember(event: Written, idBytes: number): void {
    this.#written.push(event);
    this.#writtenBytes += idBytes + event.data.bytes;
    while (this.#writtenBytes > this.#options.replayBytes && this.#written.length > 0) {
      const oldest = this.#written.shift()!;
      this.#writtenBytes -= this.#idLine(oldest.seq).length + oldest.data.bytes;
    }
  }
}

/** Parses `Last-Event-ID: <stream>.<seq>`; undefined when it is not one of ours. */
export function parseLastEventId(value: string | undefined): { streamId: string; seq: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^([A-Za-z0-9_-]{8,64})\.(\d{1,15})$/.exec(value.trim());
  if (match === null) return undefined;
  return { streamId: match[1]!, seq: Number(match[2]) };
}
