import { CloseCode } from '../../protocol/close-codes';
import type { Publication, ServerFrame, StreamPosition, SubscribeResult } from '../../protocol/frames';
import { Backoff } from '../backoff';
import { Emitter } from './emitter';
import type { RealtimeEngine } from './engine';
import { defaults, type RealtimeClientEvents, type RealtimeClientOptions } from './options';
import { resolvePlatform, watchNetwork, type Platform } from './platform';
import { RealtimeError } from './realtime-error';
import { decideReconnect, isCredentialFailure } from './reconnect-policy';
import { RequestTracker, type AnswerFrame } from './requests';
import { createConnectionState, type ConnectionState, type SubscriptionState } from './state';
import { ChannelSubscription, type MessageHandler, type Subscription } from './subscription';
import { SseTransport } from './sse-transport';
import { WebSocketTransport, type Transport, type TransportClose, type TransportKind } from './transport';
import { originOf, probeWebSocket, sseUrlFor, TransportChoice } from './transport-choice';

/**
 * One connection of this page's own: reconnects by itself, restores every subscription from its
 * last position, and delivers each publication once, in order. What `RealtimeClient` runs
 * without `share`, and what a shared hub runs for all the tabs (shared/hub.ts).
 */
export class Connection implements RealtimeEngine {
  readonly #options: RealtimeClientOptions;
  readonly #platform: Platform;
  readonly #backoff: Backoff;
  readonly #machine = createConnectionState();
  readonly #events = new Emitter<RealtimeClientEvents>();
  readonly #requests: RequestTracker;
  readonly #subscriptions = new Map<string, ChannelSubscription>();
  /** Subscriptions the server could not set up for now (internal_error, unavailable): retried alone, with backoff. */
  readonly #subscribeRetries = new Map<ChannelSubscription, { backoff: Backoff; timer: unknown }>();
  /** Bumped by every connection attempt and by disconnect(): callbacks of older ones are dropped. */
  #generation = 0;
  #transport: Transport | undefined;
  #retryTimer: unknown;
  /** The token last presented on the current connection (auth or refresh). */
  #token: string | undefined;
  /** A token the server said expired (4501): the next attempt must not present it again. */
  #rejectedToken: string | undefined;
  #stopListening: Array<() => void> = [];
  readonly #choice: TransportChoice;
  /** When the current transport opened (undefined until it does). */
  #openedAt: number | undefined;
  #probeTimer: unknown;

  constructor(options: RealtimeClientOptions) {
    this.#options = options;
    this.#platform = resolvePlatform(options);
    this.#choice = new TransportChoice({
      fallback: options.fallback ?? {},
      transports: options.transports ?? ['websocket', 'sse'],
      sseAvailable: this.#platform.fetch !== undefined,
      storage: this.#platform.storage,
      origin: originOf(this.#webSocketUrl()),
      clock: this.#platform.clock,
      random: this.#platform.random,
    });
    this.#backoff = options.backoff instanceof Backoff ? options.backoff : new Backoff({ random: this.#platform.random, now: this.#platform.clock, ...options.backoff });
    this.#requests = new RequestTracker(this.#platform.timers);
    this.#machine.onChange((change) => this.#events.emit('state', change));
  }

  get state(): ConnectionState {
    return this.#machine.state;
  }

  /** The transport of the current connection attempt: 'websocket', or 'sse' (the fallback); undefined between attempts. */
  get transport(): TransportKind | undefined {
    return this.#transport?.kind;
  }

  get sharing(): 'none' {
    return 'none';
  }

  on<K extends keyof RealtimeClientEvents>(event: K, listener: RealtimeClientEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  /** Starts connecting (from 'idle' or 'closed'); a no-op while connecting, open or reconnecting. */
  connect(): void {
    if (!this.#machine.is('idle', 'closed')) return;
    this.#listen();
    this.#attempt();
  }

  /** Skips the rest of the backoff wait and tries at once (a "Retry now" button). A no-op unless reconnecting. */
  retryNow(): void {
    if (!this.#machine.is('reconnecting')) return;
    this.#clearRetry();
    this.#attempt();
  }

  /** Closes the connection and stops reconnecting; subscriptions are kept for a later connect(). */
  disconnect(): void {
    this.#stop({ code: CloseCode.normal, reason: 'client_disconnect' });
  }

  /**
   * Subscribes to a channel. With `since` (e.g. a REST list's `Tandem-Position` and the epoch)
   * only what follows it is delivered. One subscription per channel at a time.
   */
  subscribe(channel: string, handler: MessageHandler, options: { since?: StreamPosition } = {}): Subscription {
    if (this.#subscriptions.has(channel)) throw new RealtimeError('already_subscribed', `Already subscribed to ${channel}`);
    const subscription = new ChannelSubscription(channel, handler, options.since, (s, was) => this.#unsubscribe(s, was));
    this.#subscriptions.set(channel, subscription);
    if (this.#machine.is('open')) this.#sendSubscribe(this.#generation, subscription);
    return subscription;
  }

  /** The subscription to a channel, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.#subscriptions.get(channel);
  }

  /**
   * Publishes an ephemeral event (typing) to a channel this user may publish on. Not queued:
   * rejects with `not_connected` unless open, and with the server's code when refused.
   */
  async publish(channel: string, event: string, data?: unknown): Promise<void> {
    if (!this.#machine.is('open')) throw new RealtimeError('not_connected', `Not connected (${this.#machine.state})`);
    const answer = await this.#request(data === undefined ? { t: 'pub', ch: channel, ev: event } : { t: 'pub', ch: channel, ev: event, d: data });
    if (answer.t === 'err') throw new RealtimeError(answer.c ?? 'unknown', answer.m ?? 'Refused');
  }

  #attempt(): void {
    const generation = ++this.#generation;
    if (!this.#machine.transition('connecting') || generation !== this.#generation) return;
    const token = this.#rejectedToken === undefined ? this.#options.tokens.getFresh() : this.#options.tokens.refreshAfterRejection(this.#rejectedToken);
    token.catch(() => {}); // Handled once the socket is open; a socket that never opens leaves it unread.
    const kind = this.#choice.next();
    const timing = {
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs,
      connectTimeoutMs: this.#options.connectTimeoutMs ?? defaults.connectTimeoutMs,
    };
    const handlers = {
      open: () => {
        if (generation !== this.#generation) return;
        this.#openedAt = this.#platform.clock();
        this.#choice.opened(kind);
        void this.#authenticate(generation, token);
      },
      frame: (frame: ServerFrame) => this.#onFrame(generation, frame),
      close: (close: TransportClose) => this.#onClose(generation, kind, close),
    };
    this.#openedAt = undefined;
    try {
      const url = this.#webSocketUrl();
      const fetch = this.#platform.fetch;
      this.#transport = kind === 'sse' && fetch !== undefined
        ? new SseTransport({ url: this.#sseUrl(url), platform: { ...this.#platform, fetch }, ...timing }, handlers)
        : new WebSocketTransport({ url, platform: this.#platform, ...timing }, handlers);
    } catch (error) {
      // A malformed URL or a missing WebSocket: retrying cannot help.
      this.#stop({ code: CloseCode.abnormal, reason: `cannot_connect: ${(error as Error).message}` });
    }
  }

  #webSocketUrl(): string {
    return typeof this.#options.url === 'function' ? this.#options.url() : this.#options.url;
  }

  #sseUrl(webSocketUrl: string): string {
    const option = this.#options.sseUrl;
    if (option === undefined) return sseUrlFor(webSocketUrl);
    return typeof option === 'function' ? option() : option;
  }

  /**
   * On SSE, WebSocket is probed: at once after a fallback (a restarting server is not a broken
   * path), and again whenever the remembered choice runs out. When it holds, the client moves back.
   */
  #scheduleProbe(generation: number): void {
    this.#clearProbe();
    const delay = this.#choice.probeDelay();
    if (this.#transport?.kind !== 'sse' || delay === undefined) return;
    this.#probeTimer = this.#platform.timers.setTimeout(() => {
      this.#probeTimer = undefined;
      if (generation !== this.#generation || this.#transport?.kind !== 'sse') return;
      const timeoutMs = this.#options.connectTimeoutMs ?? defaults.connectTimeoutMs;
      void probeWebSocket(this.#platform, this.#webSocketUrl(), this.#choice.quickDeathMs, timeoutMs).then((ok) => {
        if (generation !== this.#generation) return;
        if (!ok) {
          this.#choice.probeFailed();
          return this.#scheduleProbe(generation);
        }
        this.#choice.probeSucceeded();
        this.#restartConnection('transport_upgrade');
      });
    }, delay);
  }

  #clearProbe(): void {
    if (this.#probeTimer !== undefined) this.#platform.timers.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** Ends the connection on purpose and connects again at once (subscriptions resume from their positions). */
  #restartConnection(reason: string): void {
    const transport = this.#transport;
    this.#generation += 1;
    this.#transport = undefined;
    this.#clearProbe();
    transport?.close(CloseCode.normal, reason);
    this.#loseConnection();
    this.#scheduleAttempt(0, { code: CloseCode.normal, reason });
  }

  async #authenticate(generation: number, pending: Promise<string | undefined>): Promise<void> {
    let token: string | undefined;
    try {
      token = await pending;
    } catch (error) {
      if (generation !== this.#generation) return;
      if (isCredentialFailure(error)) return this.#stop({ code: CloseCode.unauthorized, reason: 'token_unavailable' });
      return this.#transport?.abort('token_unavailable');
    }
    if (generation !== this.#generation) return;
    if (token === undefined) return this.#stop({ code: CloseCode.unauthorized, reason: 'signed_out' });
    this.#token = token;
    let answer: AnswerFrame;
    try {
      answer = await this.#request({ t: 'auth', tok: token });
    } catch {
      if (generation === this.#generation) this.#transport?.abort('auth_timeout');
      return;
    }
    // A refused auth is followed by the server's close (4001, 4009, 4501): that close decides.
    if (generation !== this.#generation || answer.t !== 'ack') return;
    this.#rejectedToken = undefined;
    if (!this.#machine.transition('open') || generation !== this.#generation) return;
    this.#backoff.markOpen();
    for (const subscription of this.#subscriptions.values()) this.#sendSubscribe(generation, subscription);
    this.#scheduleProbe(generation);
  }

  #sendSubscribe(generation: number, subscription: ChannelSubscription): void {
    // A state listener may have called disconnect() while the subscriptions were being sent.
    if (generation !== this.#generation || this.#transport === undefined) return;
    const begun = subscription.beginSubscribe();
    if (begun === undefined) return;
    const { since } = begun;
    const frame = since === undefined ? { t: 'sub', ch: subscription.channel } : { t: 'sub', ch: subscription.channel, since };
    // Answered synchronously, not through a promise: live publications may follow the ack in the
    // same message, and the subscription must be live before they are read.
    this.#send(frame, {
      answer: (answer) => this.#onSubscribeAnswer(generation, subscription, answer),
      fail: () => {
        if (generation === this.#generation) this.#transport?.abort('subscribe_timeout');
      },
    });
  }

  #onSubscribeAnswer(generation: number, subscription: ChannelSubscription, answer: AnswerFrame): void {
    if (generation !== this.#generation) return;
    const channel = subscription.channel;
    // Let go of while its answer was on the way: its unsub has already been sent.
    if (subscription.state === 'unsubscribed') return;
    if (answer.t === 'err') {
      // An expired token is fixed by reconnecting with a fresh one; other refusals are final.
      if (answer.c === 'token_expired') this.#rejectedToken = this.#token; // never present it again
      if (answer.c === 'token_expired') return this.#transport?.abort(answer.c);
      // The server failed to set up this one subscription (its policy threw, a store hiccup): try it
      // again later, alone; the connection and the other subscriptions carry on.
      if (answer.c === 'internal_error' || answer.c === 'unavailable') return this.#retrySubscribe(generation, subscription);
      this.#subscriptions.delete(channel);
      return subscription.fail(new RealtimeError(answer.c ?? 'unknown', answer.m ?? 'Subscription refused'));
    }
    this.#subscribeRetries.get(subscription)?.backoff.reset();
    const resync = subscription.applyAnswer(answer.d as SubscribeResult);
    if (resync !== undefined) this.#events.emit('resync', channel, resync.position, resync.why);
  }

  #retrySubscribe(generation: number, subscription: ChannelSubscription): void {
    subscription.connectionLost();
    let retry = this.#subscribeRetries.get(subscription);
    if (retry === undefined) {
      const options = this.#options.backoff instanceof Backoff ? {} : this.#options.backoff;
      retry = { backoff: new Backoff({ random: this.#platform.random, now: this.#platform.clock, ...options }), timer: undefined };
      this.#subscribeRetries.set(subscription, retry);
    }
    const entry = retry;
    entry.timer = this.#platform.timers.setTimeout(() => {
      entry.timer = undefined;
      if (generation === this.#generation && this.#machine.is('open') && this.#subscriptions.get(subscription.channel) === subscription) this.#sendSubscribe(generation, subscription);
    }, entry.backoff.next());
  }

  #unsubscribe(subscription: ChannelSubscription, was: SubscriptionState): void {
    const retry = this.#subscribeRetries.get(subscription);
    if (retry?.timer !== undefined) this.#platform.timers.clearTimeout(retry.timer);
    this.#subscribeRetries.delete(subscription);
    if (this.#subscriptions.get(subscription.channel) !== subscription) return;
    this.#subscriptions.delete(subscription.channel);
    // Live or in flight: unsub now. The server handles frames in order, so sub, unsub, sub of the
    // same channel (a quick re-subscribe) ends subscribed, never refused as already_subscribed.
    if ((was === 'live' || was === 'subscribing') && this.#machine.is('open')) this.#send({ t: 'unsub', ch: subscription.channel });
  }

  #onFrame(generation: number, frame: ServerFrame): void {
    if (generation !== this.#generation) return;
    switch (frame.t) {
      case 'ack':
      case 'err':
      case 'pong':
        if (frame.id !== undefined && this.#requests.settle(frame as AnswerFrame)) return;
        if (frame.t === 'err') this.#events.emit('error', new RealtimeError(frame.c, frame.m));
        return;
      case 'pub':
        return this.#subscriptions.get(frame.ch)?.receive(frame as Publication);
      case 'join':
      case 'leave':
        return this.#subscriptions.get(frame.ch)?.presenceChanged(frame.t, frame.u);
      case 'exp':
        return void this.#refreshToken(generation);
    }
  }

  /** The server warned that the token expires soon: get a newer one and hand it over. */
  async #refreshToken(generation: number): Promise<void> {
    try {
      const token = await this.#options.tokens.refreshAfterRejection(this.#token);
      if (generation === this.#generation) await this.#sendRefresh(generation, token);
    } catch (error) {
      if (generation !== this.#generation) return;
      const code = error instanceof RealtimeError ? error.code : 'token_refresh_failed';
      this.#events.emit('error', new RealtimeError(code, `Could not refresh the token: ${(error as Error).message}`));
    }
  }

  async #sendRefresh(generation: number, token: string): Promise<void> {
    if (!this.#machine.is('open') || token === this.#token) return;
    // Recorded before the answer, so the same new token is not sent twice (exp and onChange both bring it).
    this.#token = token;
    const answer = await this.#request({ t: 'refresh', tok: token });
    if (generation !== this.#generation) return;
    if (answer.t === 'err') {
      // E.g. another user's token after an account switch: this socket must not stay the old user's.
      // Reconnecting authenticates with the store's current token (or stops when signed out).
      this.#transport?.abort('refresh_refused');
      throw new RealtimeError(answer.c ?? 'unknown', answer.m ?? 'Refresh refused');
    }
  }

  #onClose(generation: number, kind: TransportKind, close: TransportClose): void {
    if (generation !== this.#generation) return;
    this.#transport = undefined;
    this.#clearProbe();
    this.#choice.closed(kind, close, this.#openedAt);
    this.#loseConnection();
    const decision = decideReconnect(close, () => this.#backoff.next());
    if (decision.kind === 'stop') return this.#stop({ code: close.code, reason: close.reason });
    if (decision.refreshToken) this.#rejectedToken = this.#token;
    this.#scheduleAttempt(decision.delayMs, { code: close.code, reason: close.reason });
  }

  #scheduleAttempt(delayMs: number, detail: { code: number; reason: string }): void {
    const generation = this.#generation;
    if (!this.#machine.transition('reconnecting', { ...detail, nextAttemptAt: this.#platform.clock() + delayMs })) return;
    if (generation !== this.#generation) return; // a state listener called disconnect()
    this.#clearRetry();
    this.#retryTimer = this.#platform.timers.setTimeout(() => {
      this.#retryTimer = undefined;
      if (generation === this.#generation && this.#machine.is('reconnecting')) this.#attempt();
    }, delayMs);
  }

  /** What every lost connection means: requests in flight fail, subscriptions wait for the next one. */
  #loseConnection(): void {
    this.#requests.failAll(new RealtimeError('connection_lost', 'The connection closed before the answer'));
    // The next connection subscribes everything again anyway.
    for (const retry of this.#subscribeRetries.values()) if (retry.timer !== undefined) this.#platform.timers.clearTimeout(retry.timer);
    this.#subscribeRetries.clear();
    for (const subscription of this.#subscriptions.values()) subscription.connectionLost();
  }

  #stop(detail: { code: number; reason: string }): void {
    this.#generation += 1;
    this.#clearRetry();
    this.#clearProbe();
    const transport = this.#transport;
    this.#transport = undefined;
    transport?.close(CloseCode.normal, detail.reason.slice(0, 100));
    this.#loseConnection();
    for (const stop of this.#stopListening.splice(0)) stop();
    this.#machine.transition('closed', detail);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) this.#platform.timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** New tokens from elsewhere (the RestClient refreshed) go to the server; the network's comings and goings too. */
  #listen(): void {
    this.#stopListening.push(this.#options.tokens.onChange((token) => {
      if (token !== undefined) void this.#sendRefresh(this.#generation, token.accessToken).catch(() => {});
    }));
    // Offline: the socket is probably dead but may take minutes to notice. Online: retry now.
    this.#stopListening.push(watchNetwork(this.#platform.network, {
      offline: () => this.#transport?.abort('offline'),
      online: () => this.retryNow(),
    }));
  }

  #request(frame: Record<string, unknown>): Promise<AnswerFrame> {
    return new Promise((resolve, reject) => this.#send(frame, { answer: resolve, fail: reject }));
  }

  /** Sends a request with a fresh id; without callbacks its answer is not awaited. */
  #send(frame: Record<string, unknown>, callbacks?: { answer(answer: AnswerFrame): void; fail(error: RealtimeError): void }): void {
    const transport = this.#transport;
    if (transport === undefined) return callbacks?.fail(new RealtimeError('not_connected', 'Not connected'));
    const id = this.#requests.start(this.#options.requestTimeoutMs ?? defaults.requestTimeoutMs, callbacks ?? { answer: () => {}, fail: () => {} });
    if (!transport.send({ ...frame, id })) this.#requests.cancel(id, new RealtimeError('not_connected', 'Not connected'));
  }
}
