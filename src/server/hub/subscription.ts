import type { BrokerMessage } from '../broker/broker';
import type { ChannelPolicy } from './policies';

export interface HubUser {
  id: number;
  name: string;
}

/** One per connection, implemented by the gateway. */
export interface Subscriber {
  /** Unique per connection (across nodes: it also marks the sender of a client publish). */
  readonly id: string;
  readonly user: HubUser;
  /** Delivers a pre-serialized frame; `ephemeral` frames may be dropped/coalesced by a slow connection. */
  send(frame: string, kind: 'durable' | 'ephemeral'): void;
  /**
   * Publications may have been missed (see Broker.onGap): end the connection in a way that makes
   * the client reconnect and recover from its positions (the gateway closes with 4504).
   */
  interrupt(): void;
}

/**
 * authorizing: the policy is deciding; receives nothing.
 * recovering: in the channel's delivery set, buffering durable publications while the
 *   broker answers (history or position), so none that arrives meanwhile is lost.
 * live: frames go straight to the subscriber.
 * closed: unsubscribed, disconnected or failed; every pending step drops its result.
 */
export type SubscriptionState = 'authorizing' | 'recovering' | 'live' | 'closed';

const edges: Readonly<Record<SubscriptionState, readonly SubscriptionState[]>> = {
  authorizing: ['recovering', 'closed'],
  recovering: ['live', 'closed'],
  live: ['closed'],
  closed: [],
};

const nothingHeld: readonly BrokerMessage[] = Object.freeze([]);

/** One subscriber on one channel: an explicit state machine plus the recovery buffer. */
export class Subscription {
  readonly subscriber: Subscriber;
  readonly channel: string;
  readonly policy: ChannelPolicy;
  /** Unique per subscribe attempt: a result for an older generation is dropped. */
  readonly generation: number;
  #state: SubscriptionState = 'authorizing';
  // Created on the first held publication: most subscriptions never need one.
  #buffer: BrokerMessage[] | undefined;
  /**
   * The newest durable offset the subscriber has been given (the answer's `o`, then each live one).
   * On a cluster the replay is read on one Redis connection and live publications arrive on
   * another, so one the replay already held can still arrive live afterwards: it is a repeat.
   * Read only once live (set by goLive). -1, not -Infinity: a field that ever holds a non-integer
   * is a double in every subscription, each in a 16-byte box of its own.
   */
  #offset = -1;

  constructor(subscriber: Subscriber, channel: string, policy: ChannelPolicy, generation: number) {
    this.subscriber = subscriber;
    this.channel = channel;
    this.policy = policy;
    this.generation = generation;
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** Moves to `to`; an edge not in the table is a bug in the hub and throws. */
  transition(to: SubscriptionState): void {
    if (!edges[this.#state].includes(to)) throw new Error(`Illegal subscription transition ${this.#state} -> ${to} on ${this.channel}`);
    this.#state = to;
    if (to !== 'recovering') this.#buffer = undefined;
  }

  /** Live from `offset` (the subscribe answer's `o`: the last publication the subscriber has). */
  goLive(offset: number): void {
    this.transition('live');
    this.#offset = offset;
  }

  /** Whether a live durable publication at `offset` is new to this subscriber; records it if so. */
  advance(offset: number): boolean {
    if (offset <= this.#offset) return false;
    this.#offset = offset;
    return true;
  }

  /** Keeps a durable publication that arrived while recovering (ephemeral ones are dropped). */
  hold(message: BrokerMessage): void {
    if (this.#state === 'recovering' && message.offset !== undefined) (this.#buffer ??= []).push(message);
  }

  /** The publications held while recovering, in arrival order. */
  held(): readonly BrokerMessage[] {
    return this.#buffer ?? nothingHeld;
  }
}
