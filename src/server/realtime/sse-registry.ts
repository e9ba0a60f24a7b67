import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { CloseCode } from '../../protocol/close-codes';
import type { Admission, Refusal } from './admission';
import type { Connection } from './connection';
import type { RealtimeMetrics } from './metrics';
import type { SseWire } from './sse-takeover';
import { parseLastEventId, SseTransport, type SseTransportOptions } from './sse-transport';
import type { Transport } from './transport';
import type { RealtimeLimits } from './types';

export interface SseRegistryOptions {
  admission: Admission;
  limits: RealtimeLimits;
  metrics: RealtimeMetrics;
  clock: () => number;
  /** A connection's epoch (see ConnectionContext.epoch): streams keep their times relative to it. */
  epoch: number;
  /** Makes and registers the connection of a new stream (the gateway's, as for a WebSocket). */
  connect(transport: Transport, ip: string): Connection;
  /**
   * Starts every stream id (and so every event id) of this node: a cluster's `<node id>-`, so a
   * load balancer can send a stream's POSTs, DELETE and resume to the node holding it.
   */
  streamIdPrefix?: string;
}

interface Entry {
  stream: SseTransport;
  connection: Connection;
  /** The client ended it (DELETE): nothing to tell a resume. */
  closedByClient?: boolean;
}

/**
 * The SSE fallback's streams, by stream id (a capability, never logged: connections have ids of
 * their own): opening one, resuming one with `Last-Event-ID`, the frames POSTed upstream, the
 * DELETE, and the close of a stream the server ended while its client was away, which a resume
 * learns once (within sseResumeGraceMs). installSseEndpoints routes the HTTP requests here.
 */
export class SseRegistry {
  readonly #options: SseRegistryOptions;
  /** One options object for every stream. */
  readonly #streamOptions: SseTransportOptions;
  readonly #streams = new Map<string, Entry>();
  /** Streams the server closed while detached: a resume within the grace period learns the close. */
  readonly #closedStreams = new Map<string, { code: number; reason: string; at: number }>();

  constructor(options: SseRegistryOptions) {
    this.#options = options;
    const { limits } = options;
    this.#streamOptions = {
      replayBytes: limits.sseReplayBytes,
      resumeGraceMs: limits.sseResumeGraceMs,
      heartbeatIntervalMs: limits.heartbeatIntervalMs,
      clock: options.clock,
      epoch: options.epoch,
      onEnded: (stream) => this.#ended(stream),
    };
  }

  /** Sizes of the registry's maps (the churn test expects zeros when idle). */
  stats(): { streams: number; closedStreams: number } {
    return { streams: this.#streams.size, closedStreams: this.#closedStreams.size };
  }

  /**
   * The GET: a new stream (admitted like a WebSocket handshake, minus the subprotocol), or, with
   * `Last-Event-ID: <stream>.<seq>`, the resume of one whose response ended. `open` starts the
   * HTTP response (status and headers written) and takes its connection over (takeOverStream) once
   * admitted. Returns the refusal instead when there is one.
   */
  open(request: IncomingMessage, lastEventId: string | undefined, open: () => SseWire): Refusal | undefined {
    const resume = parseLastEventId(lastEventId);
    if (resume !== undefined) return this.#resume(request, resume, open);
    const { admission, metrics, limits } = this.#options;
    const refusal = admission.admit(request, 'sse');
    if (refusal !== undefined) {
      metrics.refusals.inc({ reason: refusal.code });
      return refusal;
    }
    const ip = admission.count(admission.ipOf(request));
    const streamId = (this.#options.streamIdPrefix ?? '') + randomBytes(18).toString('base64url');
    const stream = new SseTransport(streamId, this.#streamOptions);
    const connection = this.#options.connect(stream, ip);
    this.#streams.set(streamId, { stream, connection });
    stream.attach(open(), { resumed: false, hb: limits.heartbeatIntervalMs });
    return undefined;
  }

  /** Whether a stream of this id is open (the upstream endpoints answer 410 before reading a body otherwise). */
  has(streamId: string): boolean {
    return this.#streams.get(streamId)?.stream.writable === true;
  }

  /**
   * The upstream: client frames, one JSON text per line, fed to the stream's connection in order,
   * exactly as WebSocket messages (same checks, rates and answers; the answers travel down the
   * stream). The stream id is the capability, like an open socket.
   */
  frames(request: IncomingMessage, streamId: string, body: string): Refusal | undefined {
    if (!this.#options.admission.originAllowed(request)) return { code: 'origin_forbidden' };
    const entry = this.#streams.get(streamId);
    if (entry === undefined || !entry.stream.writable) return { code: 'stream_lost' };
    for (const line of body.split('\n')) if (line.trim() !== '') entry.stream.receive(Buffer.from(line, 'utf8'));
    return undefined;
  }

  /** The DELETE: the client is done with the stream (no resume wait, presence leaves now). */
  close(request: IncomingMessage, streamId: string): Refusal | undefined {
    if (!this.#options.admission.originAllowed(request)) return { code: 'origin_forbidden' };
    const entry = this.#streams.get(streamId);
    if (entry === undefined) return { code: 'stream_lost' };
    entry.closedByClient = true; // it knows: nothing to tell a resume
    entry.connection.close(CloseCode.normal, 'client_close');
    return undefined;
  }

  /** Forgets the closes no resume came for within sseResumeGraceMs (the gateway's tick). */
  sweep(now: number): void {
    for (const [streamId, closed] of this.#closedStreams) if (now - closed.at > this.#options.limits.sseResumeGraceMs) this.#closedStreams.delete(streamId);
  }

  #resume(request: IncomingMessage, resume: { streamId: string; seq: number }, open: () => SseWire): Refusal | undefined {
    const refusal = this.#options.admission.admitResume(request);
    if (refusal !== undefined) return refusal;
    const closed = this.#closedStreams.get(resume.streamId);
    if (closed !== undefined) {
      // Closed by the server while the client was away: the close it missed, once.
      this.#closedStreams.delete(resume.streamId);
      return { code: 'stream_lost', close: { code: closed.code, reason: closed.reason } };
    }
    const entry = this.#streams.get(resume.streamId);
    if (entry === undefined || entry.connection.state === 'closing' || !entry.stream.canResumeAfter(resume.seq)) {
      // Not resumable without a gap: end it now rather than keep its subscriptions for nobody.
      entry?.stream.terminate();
      return { code: 'stream_lost' };
    }
    entry.stream.attach(open(), { resumed: true, hb: this.#options.limits.heartbeatIntervalMs }, resume.seq);
    return undefined;
  }

  /** A stream ended (its connection has just been told): forget it, keeping a close its client missed. */
  #ended(stream: SseTransport): void {
    const entry = this.#streams.get(stream.id);
    if (entry?.stream !== stream) return;
    this.#streams.delete(stream.id);
    const closed = stream.closedWith;
    if (closed !== undefined && entry.closedByClient !== true && !this.#options.admission.draining) {
      this.#closedStreams.set(stream.id, { ...closed, at: this.#options.clock() });
    }
  }
}
