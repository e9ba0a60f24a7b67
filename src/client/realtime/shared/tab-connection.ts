import type { StreamPosition } from '../../../protocol/frames';
import { CloseCode } from '../../../protocol/close-codes';
import { Emitter } from '../emitter';
import type { RealtimeEngine, SharingRole } from '../engine';
import type { ConnectionStateChange, RealtimeClientEvents, RealtimeClientOptions } from '../options';
import type { Timers } from '../platform';
import { RealtimeError } from '../realtime-error';
import { connectionTransitions, createConnectionState, pathTo, type ConnectionState, type TransitionDetail } from '../state';
import { ChannelSubscription, type MessageHandler, type Subscription } from '../subscription';
import type { TransportKind } from '../transport';
import type { TabLink } from './links';
import { toWire, type FromHub, type HubMessage, type SharedConfig, type TabId, type TabMessage } from './protocol';

export interface SharedConnectionOptions {
  link: TabLink;
  config: SharedConfig;
  /** This page's token store: the hub asks it for tokens, and hears its new ones and its sign-out. */
  tokens: RealtimeClientOptions['tokens'];
  timers: Timers;
  clock: () => number;
  random: () => number;
  requestTimeoutMs: number;
  role(): SharingRole;
  /** Any message of the hub this tab follows (leader mode: the election's sign of life). */
  heard?(): void;
  /** The page called connect() (leader mode: the tab becomes a candidate). */
  connecting?(): void;
  /**
   * Holds a Web Lock named after the tab while it is attached, so the hub hears of a tab that died
   * without a goodbye (a crash): resolves once held, with its name and release. Default: none.
   */
  holdTab?(tab: TabId): Promise<{ lock: string; release(): void }>;
}

interface PendingPublish {
  resolve(): void;
  reject(error: RealtimeError): void;
  timer: unknown;
}

/**
 * A tab's side of the shared connection: the RealtimeClient surface (state, subscriptions,
 * presence, publish) over messages to a hub. Its connection state follows the hub's; its
 * subscriptions are ChannelSubscriptions, fed the hub's answers and publications exactly as a
 * direct client feeds the server's, so each keeps its own position and drops what it already has.
 * A new hub (a hand-off) is like a reconnect: the tab attaches again with every channel's
 * position, and the new hub's answers bring what it missed.
 */
export class SharedConnection implements RealtimeEngine {
  readonly #options: SharedConnectionOptions;
  readonly #machine = createConnectionState();
  readonly #events = new Emitter<RealtimeClientEvents>();
  readonly #subscriptions = new Map<string, ChannelSubscription>();
  readonly #requests = new Map<number, PendingPublish>();
  #link: TabLink;
  #id: TabId;
  /** The hub this tab follows: later hubs have larger terms; older ones are not listened to. */
  #term = Number.NEGATIVE_INFINITY;
  #transport: TransportKind | undefined;
  /** 'hidden': the page is in the back/forward cache or frozen, and let go of the hub meanwhile. */
  #page: 'shown' | 'hidden' = 'shown';
  /**
   * Whether this tab was signed in: its store gave a token, or the connection opened while it was
   * attached (a store that held its token before this client was made never says so).
   */
  #signedIn = false;
  #nextId = 0;
  /** The tab lock held for this tab id (holdTab), and the id whose lock is on its way. */
  #lock: { tab: TabId; lock: string; release(): void } | undefined;
  #lockWanted: TabId | undefined;

  constructor(options: SharedConnectionOptions) {
    this.#options = options;
    this.#link = options.link;
    this.#id = this.#newId();
    this.#machine.onChange((change) => this.#events.emit('state', change));
    this.#link.listen((envelope) => this.#receive(envelope));
    options.tokens.onChange((token) => {
      // A sign-out is everyone's: said even by a tab that is no longer attached (it disconnects first).
      if (token === undefined && (this.#signedIn || this.#attached())) this.#send({ t: 'tokens', token: undefined });
      if (token !== undefined && this.#attached()) this.#send({ t: 'tokens', token });
      this.#signedIn = token !== undefined;
    });
  }

  get state(): ConnectionState {
    return this.#machine.state;
  }

  get transport(): TransportKind | undefined {
    return this.#machine.is('open') ? this.#transport : undefined;
  }

  /** The term of the hub this tab follows (-Infinity before it has heard one): a new hub's must be larger. */
  get hubTerm(): number {
    return this.#term;
  }

  get sharing(): SharingRole {
    return this.#options.role();
  }

  on<K extends keyof RealtimeClientEvents>(event: K, listener: RealtimeClientEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  connect(): void {
    if (!this.#machine.is('idle', 'closed')) return;
    this.#options.connecting?.();
    this.#machine.transition('connecting');
    this.#attach();
  }

  retryNow(): void {
    if (this.#machine.is('reconnecting')) this.#send({ t: 'retry' });
  }

  disconnect(): void {
    if (this.#attached()) this.#send({ t: 'detach' });
    this.#loseConnection();
    this.#machine.transition('closed', { code: CloseCode.normal, reason: 'client_disconnect' });
  }

  subscribe(channel: string, handler: MessageHandler, options: { since?: StreamPosition } = {}): Subscription {
    if (this.#subscriptions.has(channel)) throw new RealtimeError('already_subscribed', `Already subscribed to ${channel}`);
    const subscription = new ChannelSubscription(channel, handler, options.since, (s) => this.#unsubscribe(s));
    this.#subscriptions.set(channel, subscription);
    if (this.#attached()) this.#send(options.since === undefined ? { t: 'sub', ch: channel } : { t: 'sub', ch: channel, since: options.since });
    return subscription;
  }

  subscription(channel: string): Subscription | undefined {
    return this.#subscriptions.get(channel);
  }

  publish(channel: string, event: string, data?: unknown): Promise<void> {
    if (!this.#machine.is('open')) return Promise.reject(new RealtimeError('not_connected', `Not connected (${this.#machine.state})`));
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      const timer = this.#options.timers.setTimeout(() => {
        this.#requests.delete(id);
        reject(new RealtimeError('request_timeout', 'No answer from the shared connection'));
      }, this.#options.requestTimeoutMs);
      this.#requests.set(id, { resolve, reject, timer });
      this.#send(data === undefined ? { t: 'pub', id, ch: channel, ev: event } : { t: 'pub', id, ch: channel, ev: event, d: data });
    });
  }

  /** The page goes into the back/forward cache or is frozen: it lets go of the hub meanwhile. */
  suspend(): void {
    if (this.#page === 'hidden') return;
    if (this.#attached()) this.#send({ t: 'detach' });
    this.#page = 'hidden';
    this.#failRequests();
    this.#lock?.release();
    this.#lock = undefined;
  }

  /** The page is back: it attaches again (as a new tab, so a goodbye of its old self cannot undo it). */
  resume(): void {
    if (this.#page === 'shown') return;
    this.#page = 'shown';
    this.#id = this.#newId();
    for (const subscription of this.#subscriptions.values()) subscription.connectionLost();
    this.#attach();
  }

  /** Moves to another link (a SharedWorker that failed to start: the tabs elect a leader instead). */
  relink(link: TabLink): void {
    this.#link.close();
    this.#link = link;
    this.#term = Number.NEGATIVE_INFINITY;
    link.listen((envelope) => this.#receive(envelope));
    this.#loseConnection();
    this.#attach();
  }

  #attached(): boolean {
    return !this.#machine.is('idle', 'closed');
  }

  #attach(): void {
    if (!this.#attached() || this.#page === 'hidden') return;
    const hold = this.#options.holdTab;
    if (hold !== undefined && this.#lock?.tab !== this.#id) return this.#holdThenAttach(hold);
    const subs = [...this.#subscriptions.values()].map(({ channel, position }) => (position === undefined ? { ch: channel } : { ch: channel, since: position }));
    this.#send(this.#lock === undefined ? { t: 'attach', config: this.#options.config, subs } : { t: 'attach', config: this.#options.config, subs, lock: this.#lock.lock });
  }

  /** The hub watches the tab's lock from its attach on: the lock must be held before the attach goes out. */
  #holdThenAttach(hold: (tab: TabId) => Promise<{ lock: string; release(): void }>): void {
    const tab = this.#id;
    if (this.#lockWanted === tab) return;
    this.#lockWanted = tab;
    void hold(tab).then(({ lock, release }) => {
      if (this.#id !== tab || this.#page === 'hidden') return release();
      this.#lock = { tab, lock, release };
      this.#attach();
    });
  }

  #receive(envelope: FromHub): void {
    if (this.#page === 'hidden' || envelope.hub < this.#term) return;
    const forMe = envelope.to === undefined || envelope.to.includes(this.#id);
    if (envelope.hub > this.#term) this.#adopt(envelope.hub, envelope.to !== undefined && forMe);
    this.#options.heard?.();
    if (forMe) this.#handle(envelope.m);
  }

  /** A new hub: like a reconnect. The hub has this tab's channels only if it wrote to this tab. */
  #adopt(term: number, knowsMe: boolean): void {
    const handOff = this.#term !== Number.NEGATIVE_INFINITY;
    this.#term = term;
    if (!this.#attached()) return;
    if (handOff) {
      this.#loseConnection();
      if (this.#machine.is('open')) this.#machine.transition('reconnecting', { code: CloseCode.abnormal, reason: 'handoff', nextAttemptAt: this.#options.clock() });
    }
    if (!knowsMe) this.#attach();
  }

  #handle(message: HubMessage): void {
    if (message.t === 'token') return this.#answerToken(message.id, message.kind, message.rejected);
    if (!this.#attached()) return;
    const subscription = 'ch' in message ? this.#subscriptions.get(message.ch) : undefined;
    switch (message.t) {
      case 'state':
        return this.#follow(message.change, message.transport);
      case 'answer': {
        if (subscription === undefined) return;
        // An answer is the whole truth from the tab's position: a second one (a duplicate attach) replays from where the tab is.
        subscription.connectionLost();
        subscription.beginSubscribe();
        const resync = subscription.applyAnswer(message.result);
        if (resync !== undefined) this.#events.emit('resync', message.ch, resync.position, resync.why);
        return;
      }
      case 'pub':
        return subscription?.receive(message.pub);
      case 'presence':
        return subscription?.presenceChanged(message.kind, message.user);
      case 'lost':
        return subscription?.connectionLost();
      case 'failed':
        if (subscription === undefined) return;
        this.#subscriptions.delete(message.ch);
        return subscription.fail(new RealtimeError(message.error.code, message.error.message));
      case 'error':
        return this.#events.emit('error', new RealtimeError(message.error.code, message.error.message));
      case 'done':
        return this.#settle(message.id, message.error === undefined ? undefined : new RealtimeError(message.error.code, message.error.message));
    }
  }

  /** Moves this tab's state to the hub's along legal edges (a tab attaching to an open hub: connecting, then open). */
  #follow(change: ConnectionStateChange, transport: TransportKind | undefined): void {
    this.#transport = transport;
    if (change.state === 'open') this.#signedIn = true;
    const detail: TransitionDetail = {};
    if (change.code !== undefined) detail.code = change.code;
    if (change.reason !== undefined) detail.reason = change.reason;
    if (change.nextAttemptAt !== undefined) detail.nextAttemptAt = change.nextAttemptAt;
    if (change.state !== 'open') this.#loseConnection();
    for (const step of pathTo(connectionTransitions, this.#machine.state, change.state) ?? []) {
      this.#machine.transition(step, step === change.state ? detail : {});
    }
  }

  #answerToken(id: number, kind: 'fresh' | 'after', rejected: string | undefined): void {
    const { tokens } = this.#options;
    const pending = kind === "fresh" ? tokens.getFresh() : tokens.refreshAfterRejection(rejected);
    pending.then(
      (token) => {
        if (token !== undefined) this.#signedIn = true;
        this.#send({ t: 'token', id, token });
      },
      (error: unknown) => this.#send({ t: 'token', id, error: toWire(error) }),
    );
  }

  #unsubscribe(subscription: ChannelSubscription): void {
    if (this.#subscriptions.get(subscription.channel) !== subscription) return;
    this.#subscriptions.delete(subscription.channel);
    if (this.#attached()) this.#send({ t: 'unsub', ch: subscription.channel });
  }

  /** As a direct client on a lost connection: requests fail, subscriptions wait for their next answer. */
  #loseConnection(): void {
    this.#failRequests();
    for (const subscription of this.#subscriptions.values()) subscription.connectionLost();
  }

  #failRequests(): void {
    for (const id of [...this.#requests.keys()]) this.#settle(id, new RealtimeError('connection_lost', 'The connection closed before the answer'));
  }

  #settle(id: number, error: RealtimeError | undefined): void {
    const pending = this.#requests.get(id);
    if (pending === undefined) return;
    this.#requests.delete(id);
    this.#options.timers.clearTimeout(pending.timer);
    if (error === undefined) pending.resolve();
    else pending.reject(error);
  }

  #send(message: TabMessage): void {
    this.#link.send({ tab: this.#id, m: message });
  }

  #newId(): TabId {
    return `${this.#options.clock().toString(36)}-${this.#options.random().toString(36).slice(2, 10)}`;
  }
}
