import { CloseCode } from '../../protocol/close-codes';
import type { SseWire } from './sse-takeover';
import type { Payload, SseData, Transport, TransportSink } from './transport';

/** Options shared by every stream of a registry (one object, not one per stream). */
export interface SseTransportOptions {
  /** Bytes of already written events kept for a resume (`Last-Event-ID`); older ones are forgotten. */
  replayBytes: number;
  /** How long a stream whose response ended waits for the client to resume it. */
  resumeGraceMs: number;
  /** The gateway's heartbeat; a client silent upstream for two of them is taken for dead. */
  heartbeatIntervalMs: number;
  clock: () => number;
  /** A clock reading; times are kept relative to it (small integers stay inline). */
  epoch: number;
  /** Called once a stream has ended, right after its connection was told. */
  onEnded(stream: SseTransport): void;
}

const kStream = Symbol('tandem.sse-stream');
type ResponseOfStream = SseWire & { [kStream]: SseTransport };

/** Reports nothing: the sink of a stream no connection has bound yet. */
const unbound: TransportSink = Object.freeze({ received() {}, ended() {} });

/** A payload's SSE `data:` block: one `data:` line per line of the payload, then a blank line. */
export function sseData(payload: string): SseData {
  const text = `data: ${payload.replaceAll('\n', '\ndata: ')}\n\n`;
  return { text, bytes: Buffer.byteLength(text) };
}

/**
 * The SSE fallback's transport: a logical stream that outlives any one HTTP response.
 *
 * Down: every coalesced write is one SSE event, `id: <stream>.<seq>` and one `data:` line per
 * tandem.v1 frame (a client joining the data lines with '\n' gets exactly what a WebSocket
 * message carries). Up: the POSTed frames are handed to the connection in order (`receive`).
 *
 * When the response ends without a close (a proxy timeout, a network change), the stream stays
 * subscribed for resumeGraceMs, writing into its replay buffer; a GET with
 * `Last-Event-ID: <stream>.<seq>` within that time resumes it and receives what followed `seq`.
 */
export class SseTransport implements Transport {
  readonly id: string;
  readonly #options: SseTransportOptions;
  #sink: TransportSink = unbound;
  /** The connection the stream is written to now (see takeOverStream); undefined while detached. */
  #response: SseWire | undefined;
  /** Set by close or terminate: the stream writes nothing more and cannot be resumed. */
  #ended = false;
  #seq = 0;
  /**
   * The `data:` blocks (shared, see PayloadEncoder) of the events kept for a resume, oldest first:
   * events are numbered consecutively, so the first is event #keptFrom and no record per event is
   * needed (a full replay buffer holds hundreds of events per stream).
   */
  #kept: SseData[] = [];
  #keptFrom = 1;
  /** Bytes of the kept events, id lines included (what sseReplayBytes bounds). */
  #keptBytes = 0;
  /** Bytes written while no response was attached (the client has not seen them). */
  #detachedBytes = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  /** When the client last sent frames (or opened / resumed the stream), relative to options.epoch. */
  #heardAt: number;
  /** Whether the client showed life since the last heartbeat. */
  #alive = true;
  /** The close, when the server closed the stream while no response was attached. */
  closedWith: { code: number; reason: string } | undefined;

  constructor(id: string, options: SseTransportOptions) {
    this.id = id;
    this.#options = options;
    this.#heardAt = options.clock() - options.epoch;
  }

  bind(sink: TransportSink): void {
    this.#sink = sink;
  }

  get writable(): boolean {
    return !this.#ended;
  }

  /** What the client has not received yet, as far as this side knows. */
  get backlog(): number {
    return this.#response === undefined ? this.#detachedBytes : this.#response.writableLength;
  }

  /**
   * Takes a response (the first, or a resume's) and writes the `hello` event; on a resume, the
   * events after `after` follow. Returns false, writing nothing, when they are no longer all kept.
   */
  attach(response: SseWire, hello: Record<string, unknown>, after?: number): boolean {
    if (after !== undefined && !this.canResumeAfter(after)) return false;
    // A resume while a response is still attached takes the stream over: the client has given up
    // on that one (it ends without a close event; destroyed, so a peer that stopped reading frees it).
    this.#response?.destroy();
    this.#response = response;
    this.#detachedBytes = 0;
    this.#heardFrom();
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    (response as ResponseOfStream)[kStream] = this;
    response.on('close', SseTransport.#onResponseClose);
    response.write(`event: hello\ndata: ${JSON.stringify({ ...hello, sid: this.id })}\n\n`);
    if (after !== undefined) {
      const kept = this.#kept;
      for (let i = Math.max(0, after + 1 - this.#keptFrom); i < kept.length; i++) response.write(this.#idLine(this.#keptFrom + i) + kept[i]!.text);
    }
    return true;
  }

  // One listener for every response (Node calls it with `this` = the response).
  static #onResponseClose = function (this: ResponseOfStream) {
    const stream = this[kStream];
    if (stream.#response === this) stream.#detached();
  };

  /** Whether a resume after `seq` would miss nothing (every later event is still kept). */
  canResumeAfter(seq: number): boolean {
    if (this.#ended || !Number.isInteger(seq) || seq < 0 || seq > this.#seq) return false;
    return seq + 1 >= this.#keptFrom;
  }

  /** One SSE event; kept for a resume, and only buffered while no response is attached. */
  write(payload: Payload): number {
    if (this.#ended) return 0;
    this.#seq += 1;
    const data = payload.sseData();
    const idLine = this.#idLine(this.#seq);
    this.#remember(data, idLine.length);
    if (this.#response === undefined) this.#detachedBytes += idLine.length + data.bytes;
    else this.#response.write(idLine + data.text);
    return idLine.length + data.bytes;
  }

  #idLine(seq: number): string {
    return `id: ${this.id}.${seq}\n`;
  }

  /** Upstream: one client frame (a line of a POSTed body). */
  receive(frame: Buffer): void {
    if (this.#ended) return;
    // The client's frames are the stream's sign of life (SSE has no pong): heard from is alive.
    this.#heardFrom();
    this.#sink.received(frame, false);
  }

  #heardFrom(): void {
    this.#heardAt = this.#options.clock() - this.#options.epoch;
    this.#alive = true;
  }

  /**
   * A comment keeps proxies from timing the response out. SSE has no pong: the answer is the
   * client's own `ping` frames (POSTed every heartbeat, and it drops a stream it stops hearing
   * from). A client heard from within two intervals, on an attached stream, counts as alive; one
   * that went silent is reported dead at the next heartbeat, so a dead peer behind a silent TCP
   * connection leaves presence in about a minute, not at TCP's timeout. A (re)attach counts as
   * life: a heartbeat that found the stream detached must not drop it once resumed.
   */
  heartbeat(): boolean {
    if (!this.#alive) return false;
    this.#alive = false;
    if (this.#response === undefined) return true;
    this.#response.write(': ping\n\n');
    const now = this.#options.clock() - this.#options.epoch;
    if (now - this.#heardAt < 2 * this.#options.heartbeatIntervalMs) this.#alive = true;
    return true;
  }

  /**
   * Ends the stream for good: a `close` event with the code and reason, then the response ends.
   * Closed while detached, the close is kept in `closedWith` for the registry to tell a resume.
   */
  close(code: number, reason: string): void {
    if (this.#ended) return;
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
    if (this.#ended) return;
    const response = this.#response;
    this.#response = undefined;
    response?.destroy();
    this.#end(CloseCode.abnormal);
  }

  #end(code: number): void {
    this.#ended = true;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#kept = [];
    this.#keptBytes = 0;
    // Like ws, the end is reported after the call that caused it has returned.
    setImmediate(() => {
      this.#sink.ended(code);
      this.#options.onEnded(this);
    });
  }

  /** The response went away (peer, proxy, network): wait resumeGraceMs for a resume. */
  #detached(): void {
    this.#response = undefined;
    if (this.#ended) return;
    this.#graceTimer = setTimeout(() => this.terminate(), this.#options.resumeGraceMs);
    this.#graceTimer.unref();
  }

  /** Keeps the latest event for a resume; the oldest go once the kept events pass replayBytes (counted in bytes). */
  #remember(data: SseData, idBytes: number): void {
    this.#kept.push(data);
    this.#keptBytes += idBytes + data.bytes;
    while (this.#keptBytes > this.#options.replayBytes && this.#kept.length > 0) {
      const oldest = this.#kept.shift()!;
      this.#keptBytes -= this.#idLineBytes(this.#keptFrom) + oldest.bytes;
      this.#keptFrom += 1;
    }
  }

  /** The length of #idLine(seq) without building it (the id is ASCII). */
  #idLineBytes(seq: number): number {
    let digits = 1;
    for (let rest = seq; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
    return 'id: '.length + this.id.length + '.'.length + digits + '\n'.length;
  }
}

/** Parses `Last-Event-ID: <stream>.<seq>`; undefined when it is not one of ours. */
export function parseLastEventId(value: string | undefined): { streamId: string; seq: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^([A-Za-z0-9_-]{8,96})\.(\d{1,15})$/.exec(value.trim());
  if (match === null) return undefined;
  return { streamId: match[1]!, seq: Number(match[2]) };
}
