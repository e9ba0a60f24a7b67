import { CloseCode } from '../../protocol/close-codes';
import { decodeClientFrame } from '../../protocol/codec';
import type { ClientFrame } from '../../protocol/frames';
import { libraryErrors, TandemError, type ClosingErrorCode } from '../errors';
import { HubError } from '../hub';
import { isStoreUnavailable } from '../store/database';
import type { ConnectionContext, TokenVerdict } from './context';
import type { PayloadEncoder } from './payload-encoder';
import { canTransition, type ConnectionState } from './state';
import type { Transport, TransportSink } from './transport';
import type { Subscriber } from './types';

const textDecoder = new TextDecoder();

/** The user of every connection that has not authenticated (one shared object, never written). */
const nobody: { id: number; name: string } = Object.freeze({ id: 0, name: '' });

/** How long a closing connection's transport may take to end before it is terminated. */
const CLOSING_GRACE_MS = 2_000;
/** The longest a verification of an auth frame may take before the connection is closed (4502). */
const VERIFY_CEILING_MS = 30_000;
/** "Warned for no expiry yet": a relative time no token of a live connection has (a small integer, like the times). */
const NOT_WARNED = -(2 ** 30);

/**
 * A time as the connection keeps it: milliseconds since ctx.epoch, whole. Math.floor matters even
 * for whole values: V8's interpreter boxes the result of subtracting two epoch-sized numbers in a
 * fresh heap number, where Math.floor gives back a small integer stored inside the object.
 */
function relative(ctx: ConnectionContext, time: number): number {
  return Math.floor(time - ctx.epoch);
}

/**
 * One realtime connection: an explicit state machine, the per-message checks (size by the transport,
 * then rate, parse, schema, token expiry), dispatch to the hub, and a coalescing outbound queue
 * with a byte cap. Timing (auth timeout, expiry, liveness) is driven by the gateway's shared tick.
 * The wire is its Transport's (WebSocket or SSE); the connection is its sink.
 */
export class Connection implements Subscriber, TransportSink {
  readonly id: string;
  readonly ip: string;
  /** Which slice of the heartbeat interval pings this connection (a small integer; the gateway's). */
  readonly heartbeatSlot: number;
  user = nobody;
  /** The session this connection belongs to (logout closes it); set by the gateway. */
  sessionId: string | undefined;
  readonly #transport: Transport;
  readonly #ctx: ConnectionContext;
  // Idle memory per socket is part of the product: the state machine is this field plus
  // canTransition (no object per connection), the queue exists only while frames wait, and
  // every number field only ever holds small integers: times relative to ctx.epoch, the token
  // bucket in thousandths. One fractional or epoch-sized value in any connection would turn the
  // field into a double for every connection, and V8 keeps each double in a 16-byte box.
  #state: ConnectionState = 'authenticating';
  #queue: string[] | undefined;
  #queuedBytes = 0;
  /** The transport's backlog after our last write: a cheap, conservative estimate. */
  #backlog = 0;
  /** The message bucket's tokens, in thousandths of a message. */
  #milliTokens: number;
  /** Relative to ctx.epoch, like every time below. */
  readonly #openedAt: number;
  #refilledAt: number;
  /** The access token's expiry (relative); meaningful once authenticated. */
  #expiresAt = 0;
  #invalidFrames = 0;
  #floodDrops = 0;
  #warnedExpiryFor = NOT_WARNED;
  #closingSince = 0;
  /**
   * When the auth frame was taken up (relative, like #openedAt; -1 before). The auth timeout is the
   * client's time to send the frame, not the server's to verify it: a node working through a
   * reconnect storm would otherwise close connections it already paid for, and they would come
   * back. The verification has a ceiling of its own (VERIFY_CEILING_MS, or the auth timeout if
   * longer); one that fails with an error starts the client's clock again (so it closes on time).
   */
  #authReceivedAt = -1;
  /** The tail of the in-order processing chain; undefined when nothing is in flight. */
  #inbound: Promise<void> | undefined;

  constructor(transport: Transport, ctx: ConnectionContext, meta: { id: string; ip: string; heartbeatSlot?: number }) {
    this.#transport = transport;
    this.#ctx = ctx;
    this.id = meta.id;
    this.ip = meta.ip;
    this.heartbeatSlot = meta.heartbeatSlot ?? 0;
    this.#openedAt = relative(ctx, ctx.clock());
    this.#milliTokens = ctx.limits.messageBurst * 1000;
    this.#refilledAt = this.#openedAt;
    transport.bind(this);
  }

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
    // Fast estimate first (the transport backlog as of the last flush); the exact figure only near the cap.
    const cap = this.#ctx.limits.outboundBufferBytes;
    if (this.#backlog + this.#queuedBytes + frame.length > cap && this.#transport.backlog + this.#queuedBytes + frame.length > cap) {
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
   * Writes everything queued this turn as one message (frames joined by newlines), encoded by the
   * run's encoder: shared by every connection with the same queue.
   */
  flush(encoder: PayloadEncoder): { frames: number; bytes: number } {
    const queue = this.#queue;
    const transport = this.#transport;
    if (queue === undefined || !transport.writable) return { frames: 0, bytes: 0 };
    this.#queue = undefined;
    this.#queuedBytes = 0;
    const bytes = transport.write(encoder.of(queue));
    this.#backlog = transport.backlog;
    return { frames: queue.length, bytes };
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

  /** The hub may have missed publications for this connection: the client reconnects and recovers them. */
  interrupt(): void {
    this.close(CloseCode.interrupted, 'realtime_interrupted');
  }

  /** Writes what is queued, closes the transport (code + reason) and moves to closing; the tick terminates laggards. */
  close(code: number, reason: string): void {
    if (!this.#transition('closing', { code, reason })) return;
    this.#closingSince = relative(this.#ctx, this.#ctx.clock());
    this.#ctx.hub.removeSubscriber(this);
    this.#ctx.scheduler.flushNow(this);
    this.#transport.close(code, reason);
  }

  /** Called by the shared timer: auth timeout, token expiry warnings and grace, close laggards. */
  tick(now: number): void {
    if (this.#state === 'closing') {
      if (now - this.#ctx.epoch - this.#closingSince > CLOSING_GRACE_MS) this.#transport.terminate();
      return;
    }
    if (this.#state === 'authenticating') {
      const elapsed = this.#authReceivedAt < 0 ? now - this.#ctx.epoch - this.#openedAt : now - this.#ctx.epoch - this.#authReceivedAt;
      const limit = this.#authReceivedAt < 0 ? this.#ctx.limits.authTimeoutMs : Math.max(VERIFY_CEILING_MS, this.#ctx.limits.authTimeoutMs);
      if (elapsed > limit) this.#fail(undefined, 'auth_timeout');
      return;
    }
    const expiresAt = this.authenticated ? this.#expiresAt + this.#ctx.epoch : 0;
    if (now >= expiresAt + this.#ctx.limits.expiredGraceMs) {
      this.#fail(undefined, 'token_expired');
    } else if (expiresAt - now <= this.#ctx.limits.expiryWarningSeconds * 1000 && this.#warnedExpiryFor !== this.#expiresAt && now < expiresAt) {
      this.#warnedExpiryFor = this.#expiresAt;
      this.#sendFrame({ t: 'exp', in: Math.max(0, Math.floor((expiresAt - now) / 1000)) });
    }
  }

  /** The heartbeat: the transport probes a peer that showed life since the last one; the others are terminated. */
  heartbeat(): void {
    if (this.#transport.heartbeat()) return;
    if (this.#transition('closing', { code: CloseCode.abnormal, reason: 'heartbeat_timeout' })) this.#ctx.hub.removeSubscriber(this);
    this.#transport.terminate();
  }

  /**
   * Admission is synchronous (a flood is dropped without queueing); processing is sequential, so
   * frames take effect in the order sent (a `sub` right after `auth` waits for the auth).
   * (TransportSink: called by the transport.)
   */
  received(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#ctx.metrics.bytesIn.inc(data.length);
    if (this.#admitMessage()) this.#afterInbound(() => this.#process(data, isBinary));
  }

  /** Runs `work` after every frame admitted so far has been processed (frames take effect in order). */
  #afterInbound(work: () => Promise<void> | void): void {
    const run = (this.#inbound ?? Promise.resolve()).then(work);
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
      if (error instanceof TandemError || error instanceof HubError) {
        this.#replyError('id' in decoded.frame ? decoded.frame.id : undefined, error.code, error.message);
      } else if (isStoreUnavailable(error)) {
        // The database is away (an ACL check, the token's session): the client retries with backoff.
        this.#replyError('id' in decoded.frame ? decoded.frame.id : undefined, 'unavailable', 'The store is unavailable right now; retry with backoff');
      } else {
        this.#ctx.log.error({ err: error, connection: this.id, frame: decoded.frame.t, channel: 'ch' in decoded.frame ? decoded.frame.ch : undefined }, 'realtime dispatch failed');
        this.#replyError('id' in decoded.frame ? decoded.frame.id : undefined, 'internal_error', 'Internal error');
      }
    }
  }

  /** The per-connection token bucket: a warning first, the close after sustained flooding. */
  #admitMessage(): boolean {
    const limits = this.#ctx.limits;
    // Flooded: the close is on its way, behind the frames admitted before the flood.
    if (this.#floodDrops > limits.messageBurst) return false;
    const now = relative(this.#ctx, this.#ctx.clock());
    // A clock that steps back (NTP, an injected clock) refills nothing; it must not drain the bucket.
    // Milliseconds × messages per second = thousandths of a message: whole numbers with an integer clock and rate.
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#milliTokens = Math.min(limits.messageBurst * 1000, this.#milliTokens + Math.floor(elapsed * limits.messagesPerSecond));
    this.#refilledAt = now;
    if (this.#milliTokens >= 1000) {
      this.#milliTokens -= 1000;
      this.#floodDrops = 0;
      return true;
    }
    this.#floodDrops += 1;
    if (this.#floodDrops === 1) this.#replyError(undefined, 'message_rate_limited', 'Slow down: messages over the limit are dropped');
    // Sustained flooding closes the connection, but frames admitted before it are still answered, in order.
    if (this.#floodDrops > limits.messageBurst) this.#afterInbound(() => this.#fail(undefined, 'message_rate_limited'));
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
    this.#authReceivedAt = relative(this.#ctx, this.#ctx.clock());
    let verdict: TokenVerdict;
    let admitted: boolean;
    try {
      verdict = await this.#ctx.verify(token);
      if (this.#state !== 'authenticating') return;
      if (!verdict.ok) return this.#fail(id, verdict.code);
      admitted = await this.#ctx.admitUser(this, verdict.claims.userId);
    } catch (error) {
      // The store or broker failed (the caller answers `unavailable`): the client's own clock runs
      // again, so the connection closes with 4502 when it would have, and the client retries.
      this.#authReceivedAt = -1;
      throw error;
    }
    if (this.#state !== 'authenticating') {
      if (admitted) this.#ctx.releaseUser(this, verdict.claims.userId);
      return;
    }
    if (!admitted) return this.#fail(id, 'too_many_connections');
    this.#expiresAt = relative(this.#ctx, verdict.claims.expiresAt);
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
    this.#expiresAt = relative(this.#ctx, verdict.claims.expiresAt);
    this.#sendFrame({ t: 'ack', id, d: { exp: Math.floor(verdict.claims.expiresAt / 1000) } });
  }

  #invalid(id: number | undefined, code: 'malformed_frame' | 'invalid_frame', message: string): void {
    this.#invalidFrames += 1;
    if (this.#invalidFrames > this.#ctx.limits.maxInvalidFrames) return this.#fail(id, 'protocol_violation');
    this.#replyError(id, code, message);
  }

  /** Sends the error, then closes with the error's close code (the catalog's). */
  #fail(id: number | undefined, code: ClosingErrorCode): void {
    const spec = libraryErrors[code];
    this.#replyError(id, code, spec.title);
    this.close(spec.close, code);
  }

  #replyError(id: number | undefined, code: string, message: string): void {
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
    if (this.#backlog + this.#queuedBytes > 2 * this.#ctx.limits.outboundBufferBytes && this.#transport.backlog + this.#queuedBytes > 2 * this.#ctx.limits.outboundBufferBytes) {
      this.close(CloseCode.slowConsumer, 'slow_consumer');
      return;
    }
    this.#enqueue(JSON.stringify(frame));
  }

  /** The transport has ended (TransportSink: called by the transport). */
  ended(code: number): void {
    this.#ctx.scheduler.forget(this);
    if (this.#state === 'closed') return;
    if (this.#state !== 'closing') this.#ctx.hub.removeSubscriber(this);
    this.#transition('closed', { code });
  }
}
