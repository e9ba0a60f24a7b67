import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { CloseCode } from '../../protocol/close-codes';
import { decodeClientFrame } from '../../protocol/codec';
import type { ClientFrame } from '../../protocol/frames';
import { errorCatalog, type ErrorCode } from '../errors';
import type { ConnectionContext } from './context';
import { canTransition, type ConnectionState } from './state';
import { payloadOf } from './text-frame';
import type { Subscriber } from './types';

const textDecoder = new TextDecoder();
const kConnection = Symbol('tandem.connection');
/**
 * What a connection needs of its socket: `ws`'s WebSocket, or the SSE fallback's stream, which
 * imitates it (sse-stream.ts). Both emit message / pong / close / error.
 */
export type RealtimeSocket = Pick<WebSocket, 'readyState' | 'OPEN' | 'bufferedAmount' | 'ping' | 'terminate' | 'close'> & {
  send(data: Buffer, options: { binary: boolean }): void;
};
type SocketWithConnection = RealtimeSocket & { [kConnection]: Connection };
type Listener = (...args: unknown[]) => void;

/** The user of every connection that has not authenticated (one shared object, never written). */
const nobody: { id: number; name: string } = Object.freeze({ id: 0, name: '' });

/**
 * ws keeps its net.Socket in `_socket` (not public API). Writing a pre-framed message there is
 * what makes "frame once per publication" possible; if a future ws hides it, flush falls back
 * to ws.send and only loses that optimisation.
 */
function rawSocketOf(ws: RealtimeSocket): (Duplex & { writableLength: number }) | undefined {
  const socket = (ws as unknown as { _socket?: Duplex & { writableLength: number } })._socket;
  return socket !== undefined && socket !== null && typeof socket.write === 'function' ? socket : undefined;
}

/**
 * One realtime connection: an explicit state machine, the per-message checks (size by ws,
 * then rate, parse, schema, token expiry), dispatch to the hub, and a coalescing outbound queue
 * with a byte cap. Timing (auth timeout, expiry, liveness) is driven by the gateway's shared tick.
 */
export class Connection implements Subscriber {
  readonly id: string;
  readonly ip: string;
  user = nobody;
  /** The session this connection belongs to (logout closes it); set by the gateway. */
  sessionId: string | undefined;
  alive = true;
  readonly #ws: RealtimeSocket;
  readonly #ctx: ConnectionContext;
  // Idle memory per socket is part of the product: the state machine is this field plus
  // canTransition (no object per connection), the queue exists only while frames wait, and
  // times are kept relative to ctx.epoch (small integers stay inline, no heap number each).
  #state: ConnectionState = 'authenticating';
  #queue: string[] | undefined;
  #queuedBytes = 0;
  /** Bytes the socket still held after our last write: a cheap, conservative backlog estimate. */
  #backlog = 0;
  #tokens: number;
  /** Relative to ctx.epoch, like #refilledAt and #expiresAt. */
  readonly #openedAt: number;
  #refilledAt: number;
  /** The access token's expiry (relative); meaningful once authenticated. */
  #expiresAt = 0;
  #invalidFrames = 0;
  #floodDrops = 0;
  #warnedExpiryFor = 0;
  #closingSince = 0;
  /** The tail of the in-order processing chain; undefined when nothing is in flight. */
  #inbound: Promise<void> | undefined;

  constructor(ws: RealtimeSocket, ctx: ConnectionContext, meta: { id: string; ip: string }) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.id = meta.id;
    this.ip = meta.ip;
    this.#openedAt = ctx.clock() - ctx.epoch;
    this.#tokens = ctx.limits.messageBurst;
    this.#refilledAt = this.#openedAt;
    (ws as SocketWithConnection)[kConnection] = this;
    const events = ws as unknown as NodeJS.EventEmitter;
    events.on('message', Connection.#onMessageShared as Listener);
    events.on('pong', Connection.#onPongShared as Listener);
    events.on('close', Connection.#onCloseShared as Listener);
    events.on('error', Connection.#onErrorShared as Listener);
  }

  // One set of listeners for every socket (ws calls them with `this` = the socket).
  static #onMessageShared = function (this: SocketWithConnection, data: Buffer, isBinary: boolean) {
    this[kConnection].#onMessage(data, isBinary);
  };
  static #onPongShared = function (this: SocketWithConnection) {
    this[kConnection].alive = true;
  };
  static #onCloseShared = function (this: SocketWithConnection, code: number) {
    this[kConnection].#onClosed(code);
  };
  static #onErrorShared = function (this: SocketWithConnection) {
    this.terminate();
  };

  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether auth succeeded (the gateway counted it against its user's connections). */
  get authenticated(): boolean {
    return this.user !== nobody;
  }

  /** Moves to `to` if the table allows it (see state.ts); returns false (and stays) otherwise. */
  #transition(to: ConnectionState, detail: { code?: number; reason?: string } = {}): boolean {
    const from = this.#state;
    if (!canTransition(from, to)) return false;
    this.#state = to;
    this.#ctx.onStateChange(this, { from, to, ...detail });
    return true;
  }

  /** Hub delivery: queue a frame; over the byte cap, ephemeral frames drop and durable ones close. */
  send(frame: string, kind: 'durable' | 'ephemeral'): void {
    const state = this.#state;
    if (state !== 'open' && state !== 'authenticating') return;
    // Fast estimate first (the socket backlog as of the last flush); the exact figure only near the cap.
    const cap = this.#ctx.limits.outboundBufferBytes;
    if (this.#backlog + this.#queuedBytes + frame.length > cap && this.#ws.bufferedAmount + this.#queuedBytes + frame.length > cap) {
      if (kind === 'ephemeral') {
        this.#ctx.metrics.dropped.inc();
        return;
      }
      this.close(CloseCode.slowConsumer, 'slow_consumer');
      return;
    }
    this.#enqueue(frame);
  }

  /**
   * Writes everything queued this turn as one WebSocket text message (frames joined by newlines).
   * The frame arrives pre-built (shared by every connection with the same queue) and goes straight
   * to the socket: with permessage-deflate off, ws's sender writes synchronously too, so order with
   * its own frames (pings, close) is kept.
   */
  flush(frame: (frames: readonly string[]) => Buffer): { frames: number; bytes: number } {
    const queue = this.#queue;
    if (queue === undefined || this.#ws.readyState !== this.#ws.OPEN) return { frames: 0, bytes: 0 };
    const bytes = frame(queue);
    this.#queue = undefined;
    this.#queuedBytes = 0;
    const socket = rawSocketOf(this.#ws);
    if (socket === undefined) {
      this.#ws.send(payloadOf(bytes), { binary: false });
      this.#backlog = this.#ws.bufferedAmount;
    } else {
      socket.write(bytes);
      this.#backlog = socket.writableLength;
    }
    return { frames: queue.length, bytes: bytes.length };
  }

  #enqueue(frame: string): void {
    if (this.#queue === undefined) {
      this.#ctx.scheduler.mark(this);
      this.#queue = [frame];
    } else {
      this.#queue.push(frame);
    }
    this.#queuedBytes += frame.length;
  }

  /** Sends a close frame (code + reason) and moves to closing; the tick terminates laggards. */
  close(code: number, reason: string): void {
    if (!this.#transition('closing', { code, reason })) return;
    this.#closingSince = this.#ctx.clock();
    this.#ctx.hub.removeSubscriber(this);
    this.#ctx.scheduler.flushNow(this);
    this.#ws.close(code, reason.slice(0, 123));
  }

  /** Called by the shared timer: auth timeout, token expiry warnings and grace, close laggards. */
  tick(now: number): void {
    if (this.#state === 'closing') {
      if (now - this.#closingSince > 2_000) this.#ws.terminate();
      return;
    }
    if (this.#state === 'authenticating') {
      if (now - this.#ctx.epoch - this.#openedAt > this.#ctx.limits.authTimeoutMs) this.#fail(undefined, 'auth_timeout', CloseCode.authTimeout);
      return;
    }
    const expiresAt = this.authenticated ? this.#expiresAt + this.#ctx.epoch : 0;
    if (now >= expiresAt + this.#ctx.limits.expiredGraceMs) {
      this.#fail(undefined, 'token_expired', CloseCode.tokenExpired);
    } else if (expiresAt - now <= this.#ctx.limits.expiryWarningSeconds * 1000 && this.#warnedExpiryFor !== expiresAt && now < expiresAt) {
      this.#warnedExpiryFor = expiresAt;
      this.#sendFrame({ t: 'exp', in: Math.max(0, Math.floor((expiresAt - now) / 1000)) });
    }
  }

  /** The heartbeat: ping if the peer answered the last one, terminate it otherwise. */
  heartbeat(): void {
    if (!this.alive) {
      if (this.#transition('closing', { code: 1006, reason: 'heartbeat_timeout' })) this.#ctx.hub.removeSubscriber(this);
      this.#ws.terminate();
      return;
    }
    this.alive = false;
    this.#ws.ping();
  }

  /**
   * Admission is synchronous (a flood is dropped without queueing); processing is sequential, so
   * frames take effect in the order sent (a `sub` right after `auth` waits for the auth).
   */
  #onMessage(data: Buffer, isBinary: boolean): void {
    // Not `alive = true` here: only a pong proves the peer reads (a client that only sends
    // would otherwise never be dropped while its unread replies pile up).
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#ctx.metrics.bytesIn.inc(data.length);
    if (!this.#admitMessage()) return;
    const run = (this.#inbound ?? Promise.resolve()).then(() => this.#process(data, isBinary));
    this.#inbound = run;
    void run.finally(() => {
      if (this.#inbound === run) this.#inbound = undefined;
    });
  }

  async #process(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (isBinary) return this.#invalid(undefined, 'malformed_frame', 'Frames are JSON text');
    const decoded = decodeClientFrame(textDecoder.decode(data));
    if (!decoded.ok) return this.#invalid(decoded.id, decoded.code, decoded.message);
    this.#ctx.metrics.messagesIn.inc({ type: decoded.frame.t });
    try {
      await this.#dispatch(decoded.frame);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && Object.hasOwn(errorCatalog, code)) {
        this.#replyError('id' in decoded.frame ? decoded.frame.id : undefined, code as ErrorCode, (error as Error).message);
      } else {
        this.#ctx.log.error({ err: error, connection: this.id }, 'realtime dispatch failed');
        this.#replyError('id' in decoded.frame ? decoded.frame.id : undefined, 'internal_error', 'Internal error');
      }
    }
  }

  /** The per-connection token bucket: a warning first, the close after sustained flooding. */
  #admitMessage(): boolean {
    const now = this.#ctx.clock() - this.#ctx.epoch;
    const limits = this.#ctx.limits;
    // A clock that steps back (NTP, an injected clock) refills nothing; it must not drain the bucket.
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(limits.messageBurst, this.#tokens + (elapsed / 1000) * limits.messagesPerSecond);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#floodDrops = 0;
      return true;
    }
    this.#floodDrops += 1;
    if (this.#floodDrops === 1) this.#replyError(undefined, 'message_rate_limited', 'Slow down: messages over the limit are dropped');
    if (this.#floodDrops > limits.messageBurst) this.#fail(undefined, 'message_rate_limited', CloseCode.rateLimited);
    return false;
  }

  async #dispatch(frame: ClientFrame): Promise<void> {
    if (frame.t === 'ping') return this.#sendFrame(frame.id === undefined ? { t: 'pong' } : { t: 'pong', id: frame.id });
    if (frame.t === 'auth') return this.#authenticate(frame.id, frame.tok);
    if (this.#state === 'authenticating') return this.#replyError(frame.id, 'not_authenticated', 'Send an auth frame first');
    if (frame.t === 'refresh') return this.#refresh(frame.id, frame.tok);
    if (this.authenticated && this.#ctx.clock() >= this.#expiresAt + this.#ctx.epoch) {
      return this.#replyError(frame.id, 'token_expired', 'Refresh the token with a refresh frame');
    }
    switch (frame.t) {
      case 'sub': {
        // The ack is written when the subscription goes live, so no publication overtakes it.
        await this.#ctx.hub.subscribe(this, frame.ch, frame.since, {
          onAnswer: (result) => {
            this.#sendFrame({ t: 'ack', id: frame.id, d: result });
          },
        });
        return;
      }
      case 'unsub': {
        await this.#ctx.hub.unsubscribe(this, frame.ch);
        return this.#sendFrame({ t: 'ack', id: frame.id });
      }
      case 'pub': {
        await this.#ctx.hub.publishEphemeral(this, frame.ch, frame.ev, frame.d);
        if (frame.id !== undefined) this.#sendFrame({ t: 'ack', id: frame.id });
        return;
      }
    }
  }

  async #authenticate(id: number, token: string): Promise<void> {
    if (this.#state !== 'authenticating') return this.#replyError(id, 'already_authenticated', 'Use a refresh frame to change the token');
    const verdict = await this.#ctx.verify(token);
    if (this.#state !== 'authenticating') return;
    if (!verdict.ok) return this.#fail(id, verdict.code, verdict.code === 'session_revoked' ? CloseCode.sessionRevoked : verdict.code === 'token_expired' ? CloseCode.tokenExpired : CloseCode.unauthorized);
    if (!this.#ctx.admitUser(verdict.claims.userId)) return this.#fail(id, 'too_many_connections', CloseCode.rateLimited);
    this.#expiresAt = verdict.claims.expiresAt - this.#ctx.epoch;
    this.user = { id: verdict.claims.userId, name: verdict.name };
    // Bound right after the move to open, before the ack (a session revoked meanwhile closes it).
    if (this.#transition('open')) this.#ctx.rebindSession(this, verdict.claims.sessionId);
    this.#sendFrame({ t: 'ack', id, d: { uid: this.user.id, exp: Math.floor(verdict.claims.expiresAt / 1000) } });
  }

  async #refresh(id: number, token: string): Promise<void> {
    const verdict = await this.#ctx.verify(token);
    if (this.#state !== 'open') return;
    if (!verdict.ok) return this.#replyError(id, verdict.code, 'The new token is not valid');
    if (verdict.claims.userId !== this.user.id) return this.#replyError(id, 'forbidden', 'A connection keeps its user');
    this.#ctx.rebindSession(this, verdict.claims.sessionId);
    this.#expiresAt = verdict.claims.expiresAt - this.#ctx.epoch;
    this.#sendFrame({ t: 'ack', id, d: { exp: Math.floor(verdict.claims.expiresAt / 1000) } });
  }

  #invalid(id: number | undefined, code: ErrorCode, message: string): void {
    this.#invalidFrames += 1;
    if (this.#invalidFrames > this.#ctx.limits.maxInvalidFrames) return this.#fail(id, 'protocol_violation', CloseCode.protocolViolation);
    this.#replyError(id, code, message);
  }

  /** Sends the error, then closes with the code. */
  #fail(id: number | undefined, code: ErrorCode, closeCode: number): void {
    this.#replyError(id, code, errorCatalog[code].title);
    this.close(closeCode, code);
  }

  #replyError(id: number | undefined, code: ErrorCode, message: string): void {
    this.#sendFrame(id === undefined ? { t: 'err', c: code, m: message } : { t: 'err', id, c: code, m: message });
  }

  /**
   * Answers and notices to this client. They bypass the outbound cap: they are bounded by the
   * client's own request rate, and a large recovery answer must not close the very connection
   * that is recovering (it would reconnect and recover again, in a loop).
   */
  #sendFrame(frame: object): void {
    const state = this.#state;
    if (state !== 'open' && state !== 'authenticating') return;
    // Room for one large recovery answer over the cap, but a client that asks and never reads
    // cannot make replies pile up without bound.
    if (this.#backlog + this.#queuedBytes > 2 * this.#ctx.limits.outboundBufferBytes && this.#ws.bufferedAmount + this.#queuedBytes > 2 * this.#ctx.limits.outboundBufferBytes) {
      this.close(CloseCode.slowConsumer, 'slow_consumer');
      return;
    }
    this.#enqueue(JSON.stringify(frame));
  }

  #onClosed(code: number): void {
    this.#ctx.scheduler.forget(this);
    if (this.#state === 'closed') return;
    if (this.#state !== 'closing') this.#ctx.hub.removeSubscriber(this);
    this.#transition('closed', { code });
  }
}
