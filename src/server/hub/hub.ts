import type { PresenceUser, SubscribeResult } from '../../protocol/frames';
import type { Broker, BrokerMessage } from '../broker/broker';
import { deliverPublication, sendToLive } from './fanout';
import { presenceFrame } from './frames-out';
import { HubError } from './hub-error';
import { clientEventSpec, PolicyRegistry, type ChannelPolicy } from './policies';
import { PresenceTracker, type ClearTimer, type SetTimer } from './presence-tracker';
import { PresenceUnion, type PresenceChange, type PresenceExchange, type UnionTransition } from './presence-union';
import { subscribeAnswer } from './recovery';
import { Subscription, type Subscriber } from './subscription';

export interface HubOptions {
  broker: Broker;
  /** Default Date.now. Inject it together with setTimer/clearTimer: presence grace reads both. */
  clock?: () => number;
  /** How long a user stays present after their last connection went. Default 5000 ms. */
  presenceGraceMs?: number;
  /** Default 100. */
  maxSubscriptionsPerSubscriber?: number;
  /** Most publications replayed on subscribe; more missed answers `too_many_missed`. Default 500. */
  maxRecoveryCount?: number;
  /** Default setTimeout (unref'd). */
  setTimer?: SetTimer;
  /** Default clearTimeout. */
  clearTimer?: ClearTimer;
  /** Called with what a subscriber's send() or a frame's serialization throws. Default: a process warning. */
  onError?: (error: unknown) => void;
  /**
   * Presence across nodes (a cluster): what clients see is the union of every live node's users.
   * Without it presence is this process's own.
   */
  presenceExchange?: PresenceExchange;
}

export interface SubscribeOptions {
  /**
   * Called with the answer at the moment the subscription goes live, before any live frame is
   * sent: a transport that writes its ack here can never have a publication overtake it.
   */
  onAnswer?: (answer: SubscribeResult) => void;
}

export interface HubStats {
  channels: number;
  subscriptions: number;
  subscribers: number;
  presenceEntries: number;
  pendingTimers: number;
}

/**
 * Channels, subscriptions, ACL, presence and recovery, without any transport: the gateway
 * calls it with one Subscriber per connection, and REST commits reach it through
 * publishCommitted. Delivery serializes each publication once and hands the same string to
 * every local subscriber of the channel.
 *
 * @example
 *   const hub = new Hub({ broker: new MemoryBroker() });
 *   hub.definePolicy('post', { canSubscribe: () => true, presence: 'users' });
 *   const answer = await hub.subscribe(connection, 'post:42', { e: epoch, o: 17 });
 */
export class Hub {
  readonly #broker: Broker;
  readonly #policies = new PolicyRegistry();
  readonly #presence: PresenceTracker;
  readonly #maxSubscriptions: number;
  readonly #maxRecovery: number;
  readonly #onError: (error: unknown) => void;
  readonly #exchange: PresenceExchange | undefined;
  /** With an exchange: every watched presence channel's users across nodes. */
  readonly #union = new PresenceUnion();
  /** Recovering and live subscriptions by channel: the delivery path. */
  readonly #channels = new Map<string, Set<Subscription>>();
  /** The tail of committed publishing, so commits are published one after another. */
  #publishing: Promise<void> = Promise.resolve();
  /**
   * Every subscription (any state) by subscriber id, then channel. A connection usually has one:
   * then the Subscription itself is the value (it knows its channel), with no map per connection.
   */
  readonly #subscribers = new Map<string, Subscription | Map<string, Subscription>>();
  readonly #stopListening: () => void;
  #subscriptionCount = 0;
  #generation = 0;
  #closed = false;

  constructor(options: HubOptions) {
    this.#broker = options.broker;
    this.#maxSubscriptions = options.maxSubscriptionsPerSubscriber ?? 100;
    this.#maxRecovery = options.maxRecoveryCount ?? 500;
    this.#onError = options.onError ?? ((error) =>
      process.emitWarning(`Realtime delivery failed: ${error instanceof Error ? error.message : String(error)}`, { type: 'HubDeliveryError' }));
    this.#presence = new PresenceTracker({
      graceMs: options.presenceGraceMs ?? 5000,
      clock: options.clock ?? Date.now,
      setTimer: options.setTimer ?? defaultSetTimer,
      clearTimer: options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout)),
      onLeave: (channel, user) => this.#localTransition('leave', channel, user),
    });
    this.#exchange = options.presenceExchange;
    const stopMessages = this.#broker.onMessage((message) => this.#deliver(message));
    const stopGaps = this.#broker.onGap((channel) => this.#interrupt(channel));
    const stopPresence = this.#exchange?.onChange((change) => this.#remoteTransition(change));
    this.#stopListening = () => {
      stopMessages();
      stopGaps();
      stopPresence?.();
    };
  }

  /** Registers the policy of a channel prefix: 'post' matches 'post:42'; 'feed' matches 'feed'. */
  definePolicy(prefix: string, policy: ChannelPolicy): void {
    this.#policies.define(prefix, policy);
  }

  /**
   * ACL check, then registers; answers `{e, o}`, and with `since` either `rec: true` and the missed
   * publications in `pubs` (in order) or `rec: false` and `why`; `pres` when the channel has
   * presence. Errors (HubError): unknown_channel, already_subscribed, too_many_subscriptions,
   * forbidden, unavailable, and not_subscribed when it was unsubscribed or disconnected meanwhile.
   */
  async subscribe(sub: Subscriber, channel: string, since?: { e: string; o: number }, options: SubscribeOptions = {}): Promise<SubscribeResult> {
    this.#assertOpen();
    const resolved = this.#policies.resolve(channel);
    if (resolved === undefined) throw new HubError('unknown_channel', `No channel policy matches '${channel}'`);
    if (this.#subscriptionOf(sub.id, channel) !== undefined) throw new HubError('already_subscribed');
    if (this.#countOf(sub.id) >= this.#maxSubscriptions) throw new HubError('too_many_subscriptions', `At most ${this.#maxSubscriptions} subscriptions per connection`);
    const subscription = this.#register(sub, channel, resolved.policy);
    try {
      const allowed = await resolved.policy.canSubscribe(sub.user, channel, resolved.param);
      this.#assertCurrent(subscription);
      if (!allowed) throw new HubError('forbidden');
      subscription.transition('recovering');
      this.#addToChannel(subscription);
      // The node receives the channel from here on (held while recovering), so nothing published
      // between the history read below and going live can be missed.
      await brokerCall(() => this.#broker.watch(channel));
      this.#assertCurrent(subscription);
      const exchange = this.#exchange;
      if (exchange !== undefined && hasPresence(resolved.policy)) {
        await brokerCall(() => this.#union.load(channel, () => exchange.snapshot(channel)));
        this.#assertCurrent(subscription);
      }
      const outcome = await brokerCall(() => since === undefined
        ? this.#broker.position(channel)
        : this.#broker.history(channel, { epoch: since.e, offset: since.o }, this.#maxRecovery));
      this.#assertCurrent(subscription);
      const answer = subscribeAnswer(outcome, subscription.held());
      this.#goLive(subscription, answer);
      options.onAnswer?.(answer);
      return answer;
    } catch (error) {
      if (this.#isCurrent(subscription)) this.#drop(subscription);
      throw error;
    }
  }

  /** Ends one subscription (also one still being set up). Not subscribed: nothing to do. */
  async unsubscribe(sub: Subscriber, channel: string): Promise<void> {
    const subscription = this.#subscriptionOf(sub.id, channel);
    if (subscription !== undefined) this.#drop(subscription);
  }

  /**
   * A client's ephemeral publish (typing): fanned out, without offset and never stored, to the
   * channel's other subscribers on every node. Errors (HubError): not_subscribed,
   * publish_forbidden, invalid_payload, unavailable.
   */
  async publishEphemeral(sub: Subscriber, channel: string, event: string, data: unknown): Promise<void> {
    this.#assertOpen();
    const subscription = this.#subscriptionOf(sub.id, channel);
    if (subscription?.state !== 'live') throw new HubError('not_subscribed');
    const spec = clientEventSpec(subscription.policy, event);
    if (spec === undefined) throw new HubError('publish_forbidden', `Clients may not publish '${event}' on '${channel}'`);
    if (!passes(spec.validate, data)) throw new HubError('invalid_payload');
    const payload = spec.broadcast === undefined ? data : spec.broadcast(data, sub.user);
    await brokerCall(() => this.#broker.publish({ channel, event, data: payload, from: sub.id }));
  }

  /**
   * Durable events from committed REST writes (CommitAnnouncer), published in order. One that
   * fails does not hold back the others; the first failure is rethrown after all were tried.
   */
  async publishCommitted(events: readonly { channel: string; offset: number; event: string; data: unknown }[]): Promise<void> {
    this.#assertOpen();
    // Commits reach the broker in the order they were announced: a large commit publishes over
    // many turns, and a later commit on the same channel must not overtake it (the broker would
    // take the older offset for a duplicate and drop it).
    const run = this.#publishing.then(() => this.#publishAll(events));
    this.#publishing = run.catch(() => undefined);
    return run;
  }

  async #publishAll(events: readonly { channel: string; offset: number; event: string; data: unknown }[]): Promise<void> {
    // Together: a network broker sends a commit's publications in one write, so they reach the other
    // nodes in one read and are written to each socket as one message, as on one process.
    await this.#broker.publishAll(events);
  }

  /** Connection gone: drops all its subscriptions now; its presence ends after the grace period. */
  removeSubscriber(sub: Subscriber): void {
    const subscriptions = this.#subscribers.get(sub.id);
    if (subscriptions === undefined) return;
    for (const subscription of listOf(subscriptions)) this.#drop(subscription);
  }

  /**
   * Who is in a channel: its users, `{n}` for a counts-only channel, [] without presence. On a
   * cluster node that has no subscriber of the channel, the other nodes' entries are read first.
   */
  async presence(channel: string): Promise<PresenceUser[] | { n: number }> {
    const resolved = this.#policies.resolve(channel);
    if (resolved === undefined) throw new HubError('unknown_channel', `No channel policy matches '${channel}'`);
    const exchange = this.#exchange;
    if (exchange !== undefined && hasPresence(resolved.policy) && !this.#union.has(channel)) {
      const users = new Map<number, PresenceUser>();
      for (const { user } of await exchange.snapshot(channel)) users.set(user.id, user);
      return resolved.policy.presence === 'users' ? [...users.values()] : { n: users.size };
    }
    return this.#presenceOf(channel, resolved.policy) ?? [];
  }

  /** Sizes of every internal map and timer: all zero once nobody is connected and grace has passed. */
  stats(): HubStats {
    const presence = this.#presence.stats();
    return {
      channels: this.#channels.size,
      subscriptions: this.#subscriptionCount,
      subscribers: this.#subscribers.size,
      presenceEntries: presence.entries,
      pendingTimers: presence.timers,
    };
  }

  /** Stops delivery and forgets everything (no leave frames). The broker belongs to the caller. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopListening();
    for (const subscriptions of [...this.#subscribers.values()]) {
      for (const subscription of listOf(subscriptions)) this.#drop(subscription);
    }
    this.#presence.clear();
    this.#union.clear();
  }

  /**
   * Fanout may have missed publications (the broker lost its link to the other nodes, or gave up
   * waiting for an offset): every subscriber of the channel (of every channel: `undefined`) is
   * interrupted, and its client recovers the gap from history on its next subscribe.
   */
  #interrupt(channel: string | undefined): void {
    const affected = new Set<Subscriber>();
    const channels = channel === undefined ? [...this.#channels.values()] : [this.#channels.get(channel) ?? new Set<Subscription>()];
    for (const subscriptions of channels) for (const subscription of subscriptions) affected.add(subscription.subscriber);
    for (const subscriber of affected) {
      try {
        subscriber.interrupt();
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  /** The hot path: see deliverPublication. */
  #deliver(message: BrokerMessage): void {
    const subscriptions = this.#channels.get(message.channel);
    if (subscriptions !== undefined) deliverPublication(subscriptions, message, this.#onError);
  }

  #register(sub: Subscriber, channel: string, policy: ChannelPolicy): Subscription {
    const subscriptions = this.#subscribers.get(sub.id);
    const subscription = new Subscription(sub, channel, policy, ++this.#generation);
    if (subscriptions === undefined || (subscriptions instanceof Subscription && subscriptions.channel === channel)) {
      this.#subscribers.set(sub.id, subscription);
    } else if (subscriptions instanceof Subscription) {
      this.#subscribers.set(sub.id, new Map([[subscriptions.channel, subscriptions], [channel, subscription]]));
    } else {
      subscriptions.set(channel, subscription);
    }
    this.#subscriptionCount += 1;
    return subscription;
  }

  #addToChannel(subscription: Subscription): void {
    let subscriptions = this.#channels.get(subscription.channel);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.#channels.set(subscription.channel, subscriptions);
    }
    subscriptions.add(subscription);
  }

  /** Joins presence (announcing a new user to the others), snapshots it, and goes live. */
  #goLive(subscription: Subscription, answer: SubscribeResult): void {
    const { policy, channel, subscriber } = subscription;
    if (hasPresence(policy)) {
      const user = { id: subscriber.user.id, n: subscriber.user.name };
      if (this.#presence.connect(channel, user) === 'join') this.#localTransition('join', channel, user);
      const pres = this.#presenceOf(channel, policy);
      if (pres !== undefined) answer.pres = pres;
    }
    subscription.goLive(answer.o);
  }

  /** Removes a subscription from every map, leaving presence (with grace) if it was live. */
  #drop(subscription: Subscription): void {
    const { subscriber, channel, policy } = subscription;
    const wasLive = subscription.state === 'live';
    subscription.transition('closed');
    const mine = this.#subscribers.get(subscriber.id);
    if (mine === subscription) {
      this.#subscribers.delete(subscriber.id);
      this.#subscriptionCount -= 1;
    } else if (mine instanceof Map && mine.get(channel) === subscription) {
      mine.delete(channel);
      this.#subscriptionCount -= 1;
      if (mine.size === 0) this.#subscribers.delete(subscriber.id);
    }
    const others = this.#channels.get(channel);
    if (others?.delete(subscription) && others.size === 0) {
      this.#channels.delete(channel);
      this.#union.drop(channel);
      if (!this.#closed) this.#broker.unwatch(channel);
    }
    if (wasLive && hasPresence(policy)) this.#presence.disconnect(channel, subscriber.user.id);
  }

  /** This node's user joined or left (after its grace): tell the other nodes, and our subscribers if the union changed. */
  #localTransition(kind: 'join' | 'leave', channel: string, user: PresenceUser): void {
    const exchange = this.#exchange;
    if (exchange === undefined) return this.#announce(kind, channel, user);
    exchange.publish(channel, kind, user);
    this.#announceAll(this.#union.apply({ kind, channel, node: exchange.nodeId, user }));
  }

  #remoteTransition(change: PresenceChange): void {
    if (!this.#closed) this.#announceAll(this.#union.apply(change));
  }

  #announceAll(transitions: readonly UnionTransition[]): void {
    for (const { kind, channel, user } of transitions) this.#announce(kind, channel, user);
  }

  /** Sends a join/leave frame to the channel's live subscribers ('users' presence only). */
  #announce(kind: 'join' | 'leave', channel: string, user: PresenceUser): void {
    const subscriptions = this.#channels.get(channel);
    if (subscriptions === undefined || this.#policies.resolve(channel)?.policy.presence !== 'users') return;
    sendToLive(subscriptions, presenceFrame(kind, channel, user), this.#onError);
  }

  #presenceOf(channel: string, policy: ChannelPolicy): PresenceUser[] | { n: number } | undefined {
    const clustered = this.#exchange !== undefined && this.#union.has(channel);
    if (policy.presence === 'users') return clustered ? this.#union.users(channel) : this.#presence.users(channel);
    if (policy.presence === 'counts') return { n: clustered ? this.#union.count(channel) : this.#presence.count(channel) };
    return undefined;
  }

  #isCurrent(subscription: Subscription): boolean {
    return this.#subscriptionOf(subscription.subscriber.id, subscription.channel)?.generation === subscription.generation;
  }

  #subscriptionOf(subscriberId: string, channel: string): Subscription | undefined {
    const subscriptions = this.#subscribers.get(subscriberId);
    if (subscriptions instanceof Subscription) return subscriptions.channel === channel ? subscriptions : undefined;
    return subscriptions?.get(channel);
  }

  #countOf(subscriberId: string): number {
    const subscriptions = this.#subscribers.get(subscriberId);
    if (subscriptions instanceof Subscription) return 1;
    return subscriptions?.size ?? 0;
  }

  /** After every await: a subscription unsubscribed or disconnected meanwhile drops the result. */
  #assertCurrent(subscription: Subscription): void {
    if (!this.#isCurrent(subscription)) throw new HubError('not_subscribed', cancelled);
  }

  #assertOpen(): void {
    if (this.#closed) throw new HubError('unavailable');
  }
}

/** A broker (or cluster) that cannot answer (Redis away) is `unavailable` to the client: retry later. */
async function brokerCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof HubError) throw error;
    throw new HubError('unavailable', 'Realtime is unavailable right now; retry with backoff', { cause: error });
  }
}

function hasPresence(policy: ChannelPolicy): boolean {
  return policy.presence === 'users' || policy.presence === 'counts';
}

/** A snapshot of one subscriber's subscriptions (safe to drop them while iterating). */
function listOf(subscriptions: Subscription | Map<string, Subscription>): Subscription[] {
  return subscriptions instanceof Subscription ? [subscriptions] : [...subscriptions.values()];
}

const cancelled = 'The subscription was cancelled (unsubscribed or disconnected) while it was being set up';

function passes(validate: (data: unknown) => boolean, data: unknown): boolean {
  try {
    return validate(data) === true;
  } catch {
    return false;
  }
}

function defaultSetTimer(callback: () => void, ms: number): unknown {
  const timer = setTimeout(callback, ms);
  timer.unref();
  return timer;
}
