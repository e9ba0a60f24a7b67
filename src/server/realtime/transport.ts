/**
 * What a realtime connection needs of the wire under it. Two implementations: the WebSocket
 * (websocket-transport.ts, `ws`) and the SSE fallback (sse-transport.ts, a stream of HTTP
 * responses plus POSTed frames). The connection (auth, checks, rates, the outbound cap, expiry,
 * drain) is the same code over both; neither framing is its business.
 */
export interface Transport {
  /** Whether a write now would reach the peer (false once closing or closed). */
  readonly writable: boolean;
  /** Bytes written but not yet taken by the network: what counts against the outbound cap. */
  readonly backlog: number;
  /** Hands the transport the connection it reports to; called once, by the connection's constructor. */
  bind(sink: TransportSink): void;
  /** Writes one coalesced payload (every frame queued this turn); returns the bytes written. */
  write(payload: Payload): number;
  /** Ends the connection with a code (close-codes.ts) and a reason the peer is told. */
  close(code: number, reason: string): void;
  /** Drops the connection at once, telling the peer nothing (laggards, dead peers). */
  terminate(): void;
  /**
   * The shared heartbeat: whether the peer showed life since the previous call (a pong; for SSE,
   * the client's own frames or a (re)attach), then a new probe for the next call to read.
   */
  heartbeat(): boolean;
}

/**
 * What a transport reports to its connection (the connection implements it). Called by the
 * transport, never by its peer directly: each call has already been through the transport's own
 * checks (ws's frame size limit, the SSE routes' content type and body limit).
 */
export interface TransportSink {
  /** One inbound message: a WebSocket message, or one line of a POSTed body. */
  received(data: Buffer, isBinary: boolean): void;
  /** The transport has ended, after the call that ended it returned (like ws's `close` event). */
  ended(code: number): void;
}

/**
 * One coalesced write: the frames a connection queued this turn, joined by '\n'. Each framing is
 * encoded on first request and shared by every connection that queued the same frames
 * (payload-encoder.ts), so a transport asks only for its own.
 */
export interface Payload {
  /** One complete, unmasked WebSocket text frame: header and payload in one buffer. */
  websocketFrame(): Buffer;
  /** An SSE event's `data:` lines and blank line (one line per frame). */
  sseData(): SseData;
}

/** A payload's SSE `data:` block and its size in bytes. */
export interface SseData {
  readonly text: string;
  readonly bytes: number;
}
