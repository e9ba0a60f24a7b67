import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../../protocol/close-codes';
import { SUBPROTOCOL } from '../../protocol/frames';
import type { SessionStore } from '../auth/sessions';
import type { TokenService } from '../auth/tokens';
import { errorCatalog, TandemError, type ErrorCode } from '../errors';
import { KeyedRateLimiter } from '../limits/rate-limiter';
import { SetMultimap } from '../util/small-collections';
import { clientIp } from './client-ip';
import { Connection } from './connection';
import type { ConnectionContext, TokenVerdict } from './context';
import { FlushScheduler } from './flush-scheduler';
import type { RealtimeMetrics } from './metrics';
import { parseLastEventId, SseStream } from './sse-stream';
import { defaultRealtimeLimits, type HubPort, type RealtimeLimits } from './types';

export interface GatewayOptions {
  hub: HubPort;
  tokens: TokenService;
  sessions: SessionStore;
  /** The display name presence shows for a user; undefined when the user is gone. */
  userName(userId: number): Promise<string | undefined>;
  allowedOrigins: string[];
  trustProxy: boolean | number;
  metrics: RealtimeMetrics;
  log: ConnectionContext['log'];
  limits?: Partial<RealtimeLimits>;
  clock?: () => number;
  path?: string;
  /** Granularity of the shared timer (auth timeouts, expiry, laggard closes). */
  tickMs?: number;
}

/**
 * The WebSocket endpoint. Admission happens before the upgrade (path, Origin, subprotocol,
 * node-wide and per-IP rates, per-IP concurrency), so a refused client costs no socket state.
 * One shared timer drives every connection's timing; one shared heartbeat pings them all.
 */
export class RealtimeGateway {
  readonly limits: RealtimeLimits;
  readonly #options: GatewayOptions;
  readonly #wss: WebSocketServer;
  readonly #context: ConnectionContext;
  readonly #connections = new Set<Connection>();
  /** Open connections per IP; the entry's `ip` is the one string every connection of that IP shares. */
  readonly #perIp = new Map<string, { ip: string; count: number }>();
  /** Admitted (authenticated) connections per user: only their number is ever needed. */
  readonly #byUser = new Map<number, number>();
  /** A session's connections; one connection is kept inline, without a set per session. */
  readonly #bySession = new SetMultimap<string, Connection>();
  /** Sessions revoked in the last minute, to catch connections whose auth raced the revocation. */
  readonly #recentlyRevoked = new Map<string, number>();
  /** SSE fallback streams by stream id (a capability, never logged: connections have ids of their own). */
  readonly #streams = new Map<string, { stream: SseStream; connection: Connection; closedByClient?: boolean }>();
  readonly #streamIdOf = new Map<Connection, string>();
  /** Streams the server closed while detached: a resume within the grace period learns the close. */
  readonly #closedStreams = new Map<string, { code: number; reason: string; at: number }>();
  readonly #handshakes: KeyedRateLimiter;
  readonly #nodeRate: KeyedRateLimiter;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #clock: () => number;
  #draining = false;
  #unsubscribeRevocations: () => void;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.limits = { ...defaultRealtimeLimits, ...options.limits };
    this.#clock = options.clock ?? Date.now;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.limits.maxPayloadBytes,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.#handshakes = new KeyedRateLimiter({ capacity: this.limits.handshakesPerIpPerSecond * 2, refillPerSecond: this.limits.handshakesPerIpPerSecond, clock: this.#clock });
    this.#nodeRate = new KeyedRateLimiter({ capacity: this.limits.newConnectionsPerSecond, refillPerSecond: this.limits.newConnectionsPerSecond, clock: this.#clock });
    this.#context = this.#makeContext();
    options.metrics.observe({ connections: () => this.#connections.size, subscriptions: () => options.hub.stats().subscriptions });
    this.#unsubscribeRevocations = options.sessions.onRevoked((sessionId) => {
      this.#recentlyRevoked.set(sessionId, this.#clock());
      this.closeSession(sessionId, CloseCode.sessionRevoked, 'session_revoked');
    });
    const tick = setInterval(() => this.#tick(), options.tickMs ?? 1_000);
    const beat = setInterval(() => this.#connections.forEach((c) => c.heartbeat()), this.limits.heartbeatIntervalMs);
    tick.unref();
    beat.unref();
    this.#timers.push(tick, beat);
  }

  /** Starts answering upgrades on `path` (default /realtime) of the HTTP server. */
  attach(server: Server): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(request, socket, head));
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Sizes of the gateway's own maps (the churn test expects zeros when idle). */
  stats() {
    return { connections: this.#connections.size, ips: this.#perIp.size, users: this.#byUser.size, sessions: this.#bySession.size, streams: this.#streams.size, closedStreams: this.#closedStreams.size };
  }

  /** Closes every connection of a session (logout, revocation). */
  closeSession(sessionId: string, code: number, reason: string): void {
    for (const connection of this.#bySession.get(sessionId)) connection.close(code, reason);
  }

  /**
   * The SSE fallback's GET: a new stream (admitted like a WebSocket handshake, minus the
   * subprotocol), or, with `Last-Event-ID: <stream>.<seq>`, the resume of one whose response
   * ended. `open` takes over the HTTP response (status and headers written) once admitted.
   * Returns the refusal instead when there is one.
   */
  openStream(request: IncomingMessage, lastEventId: string | undefined, open: () => ServerResponse): Refusal | undefined {
    const resume = parseLastEventId(lastEventId);
    if (resume !== undefined) return this.#resumeStream(request, resume, open);
    const refusal = this.#streamRequestRefusal(request) ?? this.#admission(request, false);
    if (refusal !== undefined) {
      this.#options.metrics.refusals.inc({ reason: refusal.code });
      return refusal;
    }
    const ip = this.#countIp(clientIp(request, this.#options.trustProxy));
    const streamId = randomBytes(18).toString('base64url');
    const stream = new SseStream(streamId, { replayBytes: this.limits.sseReplayBytes, resumeGraceMs: this.limits.sseResumeGraceMs, heartbeatIntervalMs: this.limits.heartbeatIntervalMs });
    const connection = new Connection(stream, this.#context, { id: randomBytes(9).toString('base64url'), ip });
    this.#connections.add(connection);
    this.#streams.set(streamId, { stream, connection });
    this.#streamIdOf.set(connection, streamId);
    stream.attach(open(), { resumed: false, hb: this.limits.heartbeatIntervalMs });
    return undefined;
  }

  /** Whether a stream of this id is open (the upstream endpoints answer 410 before reading a body otherwise). */
  hasStream(streamId: string): boolean {
    const stream = this.#streams.get(streamId)?.stream;
    return stream !== undefined && stream.readyState === stream.OPEN;
  }

  /**
   * What a browser would not send from our own page: an Accept without text/event-stream (an
   * <img> or <script> pointed at the endpoint), or a cross-site request without Origin (no-cors
   * requests omit it). Either would let a foreign page spend its visitors' connection budget.
   */
  #streamRequestRefusal(request: IncomingMessage): Refusal | undefined {
    if (!String(request.headers.accept ?? '').includes('text/event-stream')) return { code: 'not_acceptable' };
    const site = request.headers['sec-fetch-site'];
    if (request.headers.origin === undefined && (site === 'cross-site' || site === 'same-site')) return { code: 'origin_forbidden' };
    return undefined;
  }

  #resumeStream(request: IncomingMessage, resume: { streamId: string; seq: number }, open: () => ServerResponse): Refusal | undefined {
    const refusal = this.#streamRequestRefusal(request);
    if (refusal !== undefined) return refusal;
    if (this.#draining) return { code: 'server_busy', retryAfter: 1 };
    if (!this.#originAllowed(request)) return { code: 'origin_forbidden' };
    const handshake = this.#handshakes.consume(clientIp(request, this.#options.trustProxy));
    if (!handshake.allowed) return { code: 'handshake_rate_limited', retryAfter: handshake.retryAfterSeconds };
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
    entry.stream.attach(open(), { resumed: true, hb: this.limits.heartbeatIntervalMs }, resume.seq);
    return undefined;
  }

  /**
   * The SSE fallback's upstream: client frames, one JSON text per line, fed to the stream's
   * connection in order, exactly as WebSocket messages (same checks, rates and answers; the
   * answers travel down the stream). The stream id is the capability, like an open socket.
   */
  streamFrames(request: IncomingMessage, streamId: string, body: string): Refusal | undefined {
    if (!this.#originAllowed(request)) return { code: 'origin_forbidden' };
    const entry = this.#streams.get(streamId);
    if (entry === undefined || entry.stream.readyState !== entry.stream.OPEN) return { code: 'stream_lost' };
    for (const line of body.split('\n')) if (line.trim() !== '') entry.stream.receive(Buffer.from(line, 'utf8'));
    return undefined;
  }

  /** The SSE fallback's DELETE: the client is done with the stream (no resume wait, presence leaves now). */
  closeStream(request: IncomingMessage, streamId: string): Refusal | undefined {
    if (!this.#originAllowed(request)) return { code: 'origin_forbidden' };
    const entry = this.#streams.get(streamId);
    if (entry === undefined) return { code: 'stream_lost' };
    entry.closedByClient = true; // it knows: nothing to tell a resume
    entry.connection.close(1000, 'client_close');
    return undefined;
  }

  /**
   * Drain: refuse new upgrades, close every socket with 1012 and a jittered reconnect hint
   * (so clients do not all return in the same millisecond), terminate what lingers.
   */
  async close(maxWaitMs = 3_000): Promise<void> {
    this.#draining = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#unsubscribeRevocations();
    for (const connection of this.#connections) {
      connection.close(CloseCode.serviceRestart, JSON.stringify({ retry_ms: Math.floor(Math.random() * 5_000) }));
    }
    const deadline = Date.now() + maxWaitMs;
    while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const connection of this.#connections) connection.tick(Number.POSITIVE_INFINITY);
    this.#wss.close();
  }

  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error handler from an upgrading socket: without one, a peer that
    // resets while being refused (a write ECONNRESET/EPIPE) would be an uncaught exception.
    // Shared (no closure per socket) and removed once ws has put its own handler on the socket.
    socket.on('error', destroyOnError);
    const path = this.#options.path ?? '/realtime';
    if ((request.url ?? '').split('?')[0] !== path) return refuse(socket, 'not_found', this.#options.metrics);
    const refusal = this.#admission(request, true);
    if (refusal !== undefined) return refuse(socket, refusal.code, this.#options.metrics, refusal.retryAfter);
    const ip = clientIp(request, this.#options.trustProxy);
    forgetPeername(socket);
    this.#wss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      socket.removeListener('error', destroyOnError);
      // Counted here, not before: ws answers a malformed handshake itself and never calls back.
      const connection = new Connection(ws, this.#context, { id: randomBytes(9).toString('base64url'), ip: this.#countIp(ip) });
      this.#connections.add(connection);
    });
  }

  /** Counts a new connection of `ip`; returns the one string every connection of that IP shares. */
  #countIp(ip: string): string {
    let perIp = this.#perIp.get(ip);
    if (perIp === undefined) this.#perIp.set(ip, (perIp = { ip, count: 0 }));
    perIp.count += 1;
    return perIp.ip;
  }

  #admission(request: IncomingMessage, websocket: boolean): Refusal | undefined {
    if (this.#draining) return { code: 'server_busy', retryAfter: 1 };
    if (!this.#originAllowed(request)) return { code: 'origin_forbidden' };
    if (websocket) {
      const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      if (!offered.includes(SUBPROTOCOL)) return { code: 'unsupported_subprotocol' };
    }
    // The node-wide budget is only spent by a handshake every per-IP check let through: one
    // address refused for its own rate must not use up everyone else's new connections.
    const busy = this.#nodeRate.peek('node');
    if (!busy.allowed) return { code: 'server_busy', retryAfter: busy.retryAfterSeconds };
    const ip = clientIp(request, this.#options.trustProxy);
    const handshake = this.#handshakes.consume(ip);
    if (!handshake.allowed) return { code: 'handshake_rate_limited', retryAfter: handshake.retryAfterSeconds };
    if ((this.#perIp.get(ip)?.count ?? 0) >= this.limits.maxConnectionsPerIp) return { code: 'too_many_connections', retryAfter: 5 };
    const node = this.#nodeRate.consume('node');
    if (!node.allowed) return { code: 'server_busy', retryAfter: node.retryAfterSeconds };
    return undefined;
  }

  /** Browsers always send Origin: it must be this site or on the allow-list (no cross-site hijacking). */
  #originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.#options.allowedOrigins.includes(origin)) return true;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }

  #tick(): void {
    const now = this.#clock();
    for (const [sessionId, at] of this.#recentlyRevoked) if (now - at > 60_000) this.#recentlyRevoked.delete(sessionId);
    for (const [streamId, closed] of this.#closedStreams) if (now - closed.at > this.limits.sseResumeGraceMs) this.#closedStreams.delete(streamId);
    for (const connection of this.#connections) connection.tick(now);
  }

  #makeContext(): ConnectionContext {
    const options = this.#options;
    return {
      hub: options.hub,
      limits: this.limits,
      // Metrics per coalesced run, not per delivery: at 10,000 subscribers a per-write
      // histogram observation would cost more than the write's own JavaScript.
      scheduler: new FlushScheduler((run) => {
        options.metrics.messagesOut.inc({ kind: 'frame' }, run.frames);
        options.metrics.bytesOut.inc(run.bytes);
        options.metrics.flushLatency.observe(run.latencyMs / 1000);
        options.metrics.queueDepth.observe(run.maxFramesPerWrite);
      }),
      metrics: options.metrics,
      log: options.log,
      clock: this.#clock,
      epoch: this.#clock(),
      verify: (token) => this.#verify(token),
      // Called once per connection, by its auth: the connection is admitted iff this returns true.
      admitUser: (userId) => {
        const mine = this.#byUser.get(userId) ?? 0;
        if (mine >= this.limits.maxConnectionsPerUser) return false;
        this.#byUser.set(userId, mine + 1);
        return true;
      },
      rebindSession: (connection, sessionId) => this.#bindSession(connection, sessionId),
      onStateChange: (connection, change) => {
        // Once per connection: when we close (with our reason), or when the peer closes first.
        if (change.to === 'closing' || (change.to === 'closed' && change.from !== 'closing')) {
          options.metrics.closes.inc({ reason: change.reason ?? 'peer' });
        }
        if (change.to === 'closed') this.#forget(connection);
      },
    };
  }

  async #verify(token: string): Promise<TokenVerdict> {
    try {
      const claims = await this.#options.tokens.verify(token);
      if (!(await this.#options.sessions.isActive(claims.sessionId))) return { ok: false, code: 'session_revoked' };
      const name = await this.#options.userName(claims.userId);
      if (name === undefined) return { ok: false, code: 'token_invalid' };
      return { ok: true, claims, name };
    } catch (error) {
      if (error instanceof TandemError) return { ok: false, code: error.code };
      throw error;
    }
  }

  #bindSession(connection: Connection, sessionId: string): void {
    // A token verified just before its session was revoked would otherwise outlive the logout.
    if (this.#recentlyRevoked.has(sessionId)) {
      connection.close(CloseCode.sessionRevoked, 'session_revoked');
      return;
    }
    this.#unbindSession(connection);
    this.#bySession.add(sessionId, connection);
    connection.sessionId = sessionId;
  }

  #unbindSession(connection: Connection): void {
    const previous = connection.sessionId;
    if (previous === undefined) return;
    this.#bySession.delete(previous, connection);
    connection.sessionId = undefined;
  }

  #forget(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    const streamId = this.#streamIdOf.get(connection);
    if (streamId !== undefined) {
      const entry = this.#streams.get(streamId);
      const closed = entry?.stream.closedWith;
      if (closed !== undefined && entry?.closedByClient !== true && !this.#draining) this.#closedStreams.set(streamId, { ...closed, at: this.#clock() });
      this.#streams.delete(streamId);
      this.#streamIdOf.delete(connection);
    }
    this.#unbindSession(connection);
    const perIp = this.#perIp.get(connection.ip);
    if (perIp !== undefined && --perIp.count <= 0) this.#perIp.delete(connection.ip);
    if (!connection.authenticated) return;
    const mine = (this.#byUser.get(connection.user.id) ?? 1) - 1;
    if (mine <= 0) this.#byUser.delete(connection.user.id);
    else this.#byUser.set(connection.user.id, mine);
  }
}

/** Why a handshake (WebSocket upgrade or SSE GET) was refused, and when to come back. */
export interface Refusal {
  code: ErrorCode;
  retryAfter?: number;
  /** For a stream the server closed while the client was away: that close. */
  close?: { code: number; reason: string };
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Reading remoteAddress makes net.Socket cache {address, family, port} in `_peername` for the
 * socket's whole life (~56 bytes per connection). The connection keeps the address it needs, and
 * Node recomputes the cache on the next read, so it is dropped (if this Node keeps it there).
 */
function forgetPeername(socket: Duplex): void {
  if (Object.hasOwn(socket, '_peername')) (socket as unknown as { _peername: unknown })._peername = undefined;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** Answers a refused upgrade with a plain HTTP problem response and closes the socket. */
function refuse(socket: Duplex, code: ErrorCode | 'not_found', metrics: RealtimeMetrics, retryAfter?: number): void {
  const entry = errorCatalog[code];
  metrics.refusals.inc({ reason: code });
  const body = JSON.stringify({ type: `urn:tandem:error:${code}`, title: entry.title, status: entry.status, code });
  const headers = [
    `HTTP/1.1 ${entry.status} ${REASONS[entry.status] ?? 'Refused'}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(retryAfter === undefined ? [] : [`Retry-After: ${retryAfter}`]),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
