import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type Server as WsServer } from 'ws';
import { CloseCode } from '../../protocol/close-codes';
import { SUBPROTOCOL } from '../../protocol/frames';
import type { SessionStore } from '../auth/sessions';
import type { TokenService } from '../auth/tokens';
import { TandemError, type ClosingErrorCode } from '../errors';
import type { SharedLimits } from '../limits/rate-limiter';
import { SetMultimap } from '../util/small-collections';
import type { TrustProxy } from '../http/client-address';
import { isTandemListener, tandemListener } from '../http/upgrade-listeners';
import { Admission, refuseUpgrade } from './admission';
import { Connection } from './connection';
import type { ConnectionContext, TokenVerdict } from './context';
import { FlushScheduler } from './flush-scheduler';
import type { RealtimeMetrics } from './metrics';
import { SseRegistry } from './sse-registry';
import type { Transport } from './transport';
import { defaultRealtimeLimits, type HubPort, type RealtimeLimits } from './types';
import { WebSocketTransport } from './websocket-transport';

/** How often the drain looks whether every connection has ended. */
const DRAIN_POLL_MS = 20;

export interface GatewayOptions {
  hub: HubPort;
  tokens: TokenService;
  sessions: SessionStore;
  allowedOrigins: string[];
  trustProxy: TrustProxy;
  metrics: RealtimeMetrics;
  log: ConnectionContext['log'];
  limits?: Partial<RealtimeLimits>;
  clock?: () => number;
  path?: string;
  /** Granularity of the shared timer (auth timeouts, expiry, laggard closes). */
  tickMs?: number;
  /**
   * Per-user connection slots shared by every node (a cluster). The per-user cap is checked here
   * as well as locally; when it cannot answer (Redis away) the local count alone decides.
   */
  connectionSlots?: ConnectionSlots;
  /** A cluster node's id: it starts every SSE stream id (`<node id>-…`), for the load balancer. */
  nodeId?: string;
  /** A cluster's shared rate limits: the per-IP handshake rate is then the cluster's. */
  sharedLimits?: SharedLimits | undefined;
}

/** Connection counts per user across nodes (RedisCluster implements it). */
export interface ConnectionSlots {
  acquireConnection(userId: number, cap: number): Promise<boolean>;
  releaseConnection(userId: number): void;
}

/**
 * A WebSocket handshake over the node-wide pace (newConnectionsPerSecond) waits up to this long for
 * its turn instead of being refused at once; the queue holds at most this long's worth of the pace.
 */
const PACE_WAIT_MS = 2_000;
const PACE_TICK_MS = 10;

interface WaitingUpgrade {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  ip: string;
  until: number;
}

/** The heartbeat interval is cut into this many slices (fewer when it is short), one per timer run. */
const HEARTBEAT_SLICES = 25;
const MIN_SLICE_MS = 20;

/**
 * The realtime endpoint: WebSocket upgrades on `path`, and the SSE fallback's streams (`sse`,
 * routed there by installSseEndpoints). Admission (admission.ts) happens before the upgrade or
 * the stream, so a refused client costs no connection state. The gateway keeps the connections,
 * their users and sessions, and revocations; one shared timer drives every connection's timing,
 * one shared heartbeat probes them all; `close` drains.
 */
export class RealtimeGateway {
  readonly limits: RealtimeLimits;
  /** The SSE fallback's streams (installSseEndpoints answers their HTTP requests through it). */
  readonly sse: SseRegistry;
  readonly #options: GatewayOptions;
  readonly #wss: WsServer<typeof WebSocketTransport>;
  readonly #context: ConnectionContext;
  readonly #admission: Admission;
  readonly #connections = new Set<Connection>();
  /**
   * Connection ids: this gateway's random prefix and a counter. Unique across a cluster's nodes (a
   * publisher's id travels with its publications so no node echoes them back to it), never shown to
   * clients, and without a random draw per handshake (randomBytes was ~3% of connecting).
   */
  readonly #idPrefix = randomBytes(9).toString('base64url');
  /** Upgrades waiting for the node-wide pace, oldest first (from #waitingHead on). */
  #waiting: Array<WaitingUpgrade | undefined> = [];
  #waitingHead = 0;
  readonly #waitingPerIp = new Map<string, number>();
  #pacer: NodeJS.Timeout | undefined;
  #lastId = 0;
  /** Admitted (authenticated) connections per user: only their number is ever needed. */
  readonly #byUser = new Map<number, number>();
  /** Connections holding a cluster-wide slot (given back when they end). */
  readonly #clusterSlots = new WeakSet<Connection>();
  /** A session's connections; one connection is kept inline, without a set per session. */
  readonly #bySession = new SetMultimap<string, Connection>();
  /** Sessions revoked in the last minute, to catch connections whose auth raced the revocation. */
  readonly #recentlyRevoked = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #clock: () => number;
  #unsubscribeRevocations: () => void;
  #detach: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.limits = { ...defaultRealtimeLimits, ...options.limits };
    this.#clock = options.clock ?? Date.now;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.limits.maxPayloadBytes,
      perMessageDeflate: false,
      // Every socket is its own transport (a subclass of ws's WebSocket: no wrapper, no listeners).
      WebSocket: WebSocketTransport,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.#admission = new Admission({ limits: this.limits, allowedOrigins: options.allowedOrigins, trustProxy: options.trustProxy, clock: this.#clock, sharedLimits: options.sharedLimits });
    this.#context = this.#makeContext();
    this.sse = new SseRegistry({
      admission: this.#admission,
      limits: this.limits,
      metrics: options.metrics,
      clock: this.#clock,
      epoch: this.#context.epoch,
      connect: (transport, ip) => this.#connect(transport, ip),
      ...(options.nodeId === undefined ? {} : { streamIdPrefix: `${options.nodeId}-` }),
    });
    options.metrics.observe({ connections: () => this.#connections.size, subscriptions: () => options.hub.stats().subscriptions });
    this.#unsubscribeRevocations = options.sessions.onRevoked((sessionId) => this.sessionRevoked(sessionId));
    const tick = setInterval(() => this.#tick(), options.tickMs ?? 1_000);
    // Each connection is pinged once per interval, but not all at once: at 10,000 connections one
    // loop of pings held the event loop for 200-350 ms every 25 s (bench:storm's idle reader saw it
    // as its p99). The interval is cut into slices and a connection is pinged in its own slice.
    const slices = Math.max(1, Math.min(HEARTBEAT_SLICES, Math.floor(this.limits.heartbeatIntervalMs / MIN_SLICE_MS)));
    let slice = 0;
    const beat = setInterval(() => {
      const current = slice;
      slice = (slice + 1) % slices;
      for (const connection of this.#connections) if (connection.heartbeatSlot % slices === current) connection.heartbeat();
    }, this.limits.heartbeatIntervalMs / slices);
    tick.unref();
    beat.unref();
    this.#timers.push(tick, beat);
  }

  /** Starts answering upgrades on `path` (default /realtime) of the HTTP server. */
  attach(server: Server): void {
    const listener = tandemListener((request: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(server, request, socket, head));
    server.on('upgrade', listener);
    this.#detach = () => server.off('upgrade', listener);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Sizes of the gateway's own maps (the churn test expects zeros when idle). */
  stats() {
    return { connections: this.#connections.size, ips: this.#admission.ips, users: this.#byUser.size, sessions: this.#bySession.size, ...this.sse.stats() };
  }

  /** A session was revoked (here, or on another node): its connections close with 4009, and so does one still authenticating. */
  sessionRevoked(sessionId: string): void {
    this.#recentlyRevoked.set(sessionId, this.#clock());
    this.closeSession(sessionId, CloseCode.sessionRevoked, 'session_revoked');
  }

  /** Closes every connection of a session (logout, revocation). */
  closeSession(sessionId: string, code: number, reason: string): void {
    for (const connection of this.#bySession.get(sessionId)) connection.close(code, reason);
  }

  /**
   * Drain: refuse new upgrades, close every socket with 1012 and a jittered reconnect hint
   * (so clients do not all return in the same millisecond), terminate what lingers.
   */
  close(maxWaitMs = 3_000): Promise<void> {
    this.#closing ??= this.#drain(maxWaitMs);
    return this.#closing;
  }

  async #drain(maxWaitMs: number): Promise<void> {
    this.#admission.drain();
    this.#admitWaiting(); // draining: every waiting upgrade is refused
    for (const timer of this.#timers) clearInterval(timer);
    this.#unsubscribeRevocations();
    for (const connection of this.#connections) {
      connection.close(CloseCode.serviceRestart, JSON.stringify({ retry_ms: Math.floor(Math.random() * 5_000) }));
    }
    const deadline = this.#clock() + maxWaitMs;
    // The polls are counted too: an injected clock that stands still (a test's) must not hold the drain forever.
    for (let polls = Math.ceil(maxWaitMs / DRAIN_POLL_MS); polls > 0 && this.#connections.size > 0 && this.#clock() < deadline; polls--) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    for (const connection of this.#connections) connection.tick(Number.POSITIVE_INFINITY);
    this.#wss.close();
    this.#detach?.();
  }

  #onUpgrade(server: Server, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = this.#options.path ?? '/realtime';
    if ((request.url ?? '').split('?')[0] !== path) {
      // Another upgrade endpoint on the same server (the app's own WebSocket server) takes it;
      // with nobody else listening, it is refused rather than left hanging.
      if (server.listeners('upgrade').some((listener) => !isTandemListener(listener))) return;
      socket.on('error', destroyOnError);
      return refuseUpgrade(socket, 'not_found', this.#options.metrics);
    }
    // Node removes its own error handler from an upgrading socket: without one, a peer that
    // resets while being refused (a write ECONNRESET/EPIPE) would be an uncaught exception.
    // Shared (no closure per socket) and removed once ws has put its own handler on the socket.
    socket.on('error', destroyOnError);
    const refusal = this.#admission.admit(request, 'websocket');
    if (refusal !== undefined) {
      if (refusal.code === 'server_busy' && this.#wait(request, socket, head)) return;
      return refuseUpgrade(socket, refusal.code, this.#options.metrics, refusal.retryAfter);
    }
    this.#accept(request, socket, head);
  }

  /**
   * Admission by delay: a handshake over the node-wide pace waits for its turn (up to PACE_WAIT_MS)
   * rather than getting a 503 at once. A refused client backs off and its backoff grows with each
   * refusal: in a reconnect storm, 503s stretched the last clients' return to 30 s and more while
   * the node had CPU to spare. A full queue, an address over its own budget, or a drain still refuse.
   */
  #wait(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const waiting = this.#waiting.length - this.#waitingHead;
    if (waiting >= Math.ceil((this.limits.newConnectionsPerSecond * PACE_WAIT_MS) / 1000)) return false;
    const ip = this.#admission.ipOf(request);
    const mine = this.#waitingPerIp.get(ip) ?? 0;
    if (!this.#admission.mayWait(request, mine)) return false;
    this.#waitingPerIp.set(ip, mine + 1);
    this.#waiting.push({ request, socket, head, ip, until: this.#clock() + PACE_WAIT_MS });
    if (this.#pacer === undefined) {
      this.#pacer = setInterval(() => this.#admitWaiting(), PACE_TICK_MS);
      this.#pacer.unref();
    }
    return true;
  }

  /** Admits the waiting upgrades the pace allows now, oldest first; refuses the expired (and all of them while draining). */
  #admitWaiting(): void {
    while (this.#waitingHead < this.#waiting.length) {
      const next = this.#waiting[this.#waitingHead]!;
      const current = !next.socket.destroyed && this.#clock() < next.until && !this.#admission.draining;
      const refusal = current ? this.#admission.admit(next.request, 'websocket') : undefined;
      // Still over the pace: it (and everyone behind it) waits for the next run.
      if (current && refusal?.code === 'server_busy' && !this.#admission.draining) break;
      this.#waiting[this.#waitingHead++] = undefined; // admitted or refused: let it go
      const mine = (this.#waitingPerIp.get(next.ip) ?? 1) - 1;
      if (mine > 0) this.#waitingPerIp.set(next.ip, mine);
      else this.#waitingPerIp.delete(next.ip);
      if (next.socket.destroyed) continue;
      if (!current) refuseUpgrade(next.socket, 'server_busy', this.#options.metrics, 1);
      else if (refusal !== undefined) refuseUpgrade(next.socket, refusal.code, this.#options.metrics, refusal.retryAfter);
      else this.#accept(next.request, next.socket, next.head);
    }
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting = [];
      this.#waitingHead = 0;
      clearInterval(this.#pacer);
      this.#pacer = undefined;
    } else if (this.#waitingHead > 1_024) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  /** An admitted upgrade: ws completes the handshake and the connection starts. */
  #accept(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ip = this.#admission.ipOf(request);
    forgetPeername(socket);
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      socket.removeListener('error', destroyOnError);
      // Counted here, not before: ws answers a malformed handshake itself and never calls back.
      this.#connect(ws, this.#admission.count(ip));
    });
  }

  /** A new connection over `transport`, from `ip` (already counted by admission). */
  #connect(transport: Transport, ip: string): Connection {
    // join builds one flat string; a template literal would keep two cons strings and the counter's (~56 B more per connection).
    const id = [this.#idPrefix, (++this.#lastId).toString(36)].join('.');
    const connection = new Connection(transport, this.#context, { id, ip, heartbeatSlot: this.#lastId % HEARTBEAT_SLICES });
    this.#connections.add(connection);
    return connection;
  }

  #tick(): void {
    const now = this.#clock();
    for (const [sessionId, at] of this.#recentlyRevoked) if (now - at > 60_000) this.#recentlyRevoked.delete(sessionId);
    this.sse.sweep(now);
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
      admitUser: async (connection, userId) => {
        const mine = this.#byUser.get(userId) ?? 0;
        if (mine >= this.limits.maxConnectionsPerUser) return false;
        this.#byUser.set(userId, mine + 1);
        const slots = this.#options.connectionSlots;
        if (slots === undefined) return true;
        try {
          if (await slots.acquireConnection(userId, this.limits.maxConnectionsPerUser)) {
            this.#clusterSlots.add(connection);
            return true;
          }
        } catch (err) {
          // The cluster cannot count now: the node's own cap still holds.
          this.#options.log.warn({ err }, 'cluster connection slots unavailable; the per-user cap holds per node');
          return true;
        }
        this.#releaseLocal(userId);
        return false;
      },
      releaseUser: (connection, userId) => this.#releaseUser(connection, userId),
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
      // One query per handshake: the session is live (not revoked) and the user's name for presence.
      const name = await this.#options.sessions.activeUserName(claims.sessionId, claims.userId);
      if (name === undefined) return { ok: false, code: 'session_revoked' };
      return { ok: true, claims, name };
    } catch (error) {
      if (error instanceof TandemError) return { ok: false, code: closingCodeOf(error.code) };
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
    this.#unbindSession(connection);
    this.#admission.release(connection.ip);
    if (connection.authenticated) this.#releaseUser(connection, connection.user.id);
  }

  #releaseUser(connection: Connection, userId: number): void {
    this.#releaseLocal(userId);
    if (this.#clusterSlots.delete(connection)) this.#options.connectionSlots?.releaseConnection(userId);
  }

  #releaseLocal(userId: number): void {
    const mine = (this.#byUser.get(userId) ?? 1) - 1;
    if (mine <= 0) this.#byUser.delete(userId);
    else this.#byUser.set(userId, mine);
  }
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Reading remoteAddress makes net.Socket cache {address, family, port} in `_peername` for the
 * socket's whole life (~56 bytes per connection). The connection keeps the address it needs, and
 * Node recomputes the cache on the next read, so it is dropped (if this Node keeps it there).
 * Deleted, not set to undefined: it is the socket's last-added property (admission just read the
 * address), so V8 rolls the socket back to its previous shape and frees the property array the
 * field had needed (40 bytes); ws's own property then fits in the socket as it does for bare ws.
 * (Deleting any other property would put the socket in dictionary mode: nothing may be added to
 * the socket between admission's read and this call. A heap snapshot shows which one happened.)
 */
function forgetPeername(socket: Duplex): void {
  if (Object.hasOwn(socket, '_peername')) delete (socket as unknown as { _peername?: unknown })._peername;
}

/** A token check's failure as the code the connection closes with (an unexpected one: unauthorized). */
function closingCodeOf(code: string): ClosingErrorCode {
  return code === 'token_expired' || code === 'session_revoked' ? code : 'token_invalid';
}
