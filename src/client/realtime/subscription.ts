import type { PresenceUser, Publication, RecoveryFailure, StreamPosition, SubscribeResult } from '../../protocol/frames';
import { Emitter } from './emitter';
import { diffPresence, emptyPresence, presenceFromResult, withJoin, withLeave, type ChannelPresence } from './presence';
import type { RealtimeError } from './realtime-error';
import { acceptPublication, applySubscribeResult } from './recovery';
import { StateMachine, subscriptionTransitions, type StateChange, type SubscriptionState } from './state';

/** One publication as the app sees it. `offset` is absent on ephemeral ones (typing). */
export interface RealtimeMessage {
  channel: string;
  event: string;
  data: unknown;
  offset?: number;
}

export type MessageHandler = (message: RealtimeMessage) => void;

export interface SubscriptionEvents {
  join: (user: PresenceUser) => void;
  leave: (user: PresenceUser) => void;
  presence: (snapshot: ChannelPresence) => void;
  /** The server refused the subscription (e.g. `forbidden`); it is then 'failed'. */
  error: (error: RealtimeError) => void;
  /** The server could not replay what this channel missed: refetch it and carry on from `position` (the client's `resync`, for this channel only). */
  resync: (position: StreamPosition, why: RecoveryFailure | 'unknown') => void;
  state: (change: StateChange<SubscriptionState>) => void;
}

/** What `RealtimeClient.subscribe` returns. */
export interface Subscription {
  readonly channel: string;
  readonly state: SubscriptionState;
  /** The last position seen ({e, o}), from the subscribe answer or the last publication. */
  readonly position: StreamPosition | undefined;
  /** Who is online, kept current from the answer's `pres` and the `join` / `leave` frames. */
  readonly presence: ChannelPresence;
  on<K extends keyof SubscriptionEvents>(event: K, listener: SubscriptionEvents[K]): () => void;
  /** Stops the subscription (and tells the server when connected). Idempotent. */
  unsubscribe(): void;
}

/** A failed recovery the client reports as `resync`. */
export interface Resync {
  position: StreamPosition;
  why: RecoveryFailure | 'unknown';
}

/**
 * The client's record of one subscription: its state machine, position and presence. The
 * client drives it (answers, publications, connection loss); the app holds it as a Subscription.
 */
export class ChannelSubscription implements Subscription {
  readonly channel: string;
  readonly #handler: MessageHandler;
  readonly #machine = new StateMachine(subscriptionTransitions, 'pending');
  readonly #events = new Emitter<SubscriptionEvents>();
  readonly #onUnsubscribe: (subscription: ChannelSubscription, was: SubscriptionState) => void;
  #position: StreamPosition | undefined;
  #presence: ChannelPresence = emptyPresence;

  constructor(channel: string, handler: MessageHandler, since: StreamPosition | undefined, onUnsubscribe: (subscription: ChannelSubscription, was: SubscriptionState) => void) {
    this.channel = channel;
    this.#handler = handler;
    this.#position = since === undefined ? undefined : { e: since.e, o: since.o };
    this.#onUnsubscribe = onUnsubscribe;
    this.#machine.onChange((change) => this.#events.emit('state', change));
  }

  get state(): SubscriptionState {
    return this.#machine.state;
  }

  get position(): StreamPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position };
  }

  get presence(): ChannelPresence {
    return this.#presence;
  }

  on<K extends keyof SubscriptionEvents>(event: K, listener: SubscriptionEvents[K]): () => void {
    return this.#events.on(event, listener);
  }

  unsubscribe(): void {
    const was = this.#machine.state;
    if (!this.#machine.transition('unsubscribed')) return;
    if (was !== 'failed') this.#onUnsubscribe(this, was);
  }

  /** Moves to 'subscribing' and returns the position to ask from; undefined when not pending. */
  beginSubscribe(): { since: StreamPosition | undefined } | undefined {
    if (!this.#machine.transition('subscribing')) return undefined;
    return { since: this.position };
  }

  /**
   * Applies the subscribe answer: replayed publications are delivered in order, the position
   * moves on, presence is replaced (the difference emitted as join/leave). Returns the resync
   * to report when the server could not replay what was missed.
   */
  applyAnswer(result: SubscribeResult): Resync | undefined {
    if (!this.#machine.is('subscribing')) return undefined;
    const outcome = applySubscribeResult(this.#position, result);
    this.#position = outcome.position;
    this.#machine.transition('live');
    for (const pub of outcome.deliver) this.#deliver(pub);
    this.#replacePresence(presenceFromResult(result.pres));
    if (outcome.resync === undefined) return undefined;
    const resync = { position: { ...outcome.position }, why: outcome.resync.why };
    this.#events.emit('resync', resync.position, resync.why);
    return resync;
  }

  /** A live publication: delivered once, only past the position already seen. */
  receive(pub: Publication): void {
    // Until the ack, publications belong to an earlier subscription: the answer replays them.
    if (!this.#machine.is('live')) return;
    const outcome = acceptPublication(this.#position, pub);
    this.#position = outcome.position;
    if (outcome.deliver) this.#deliver(pub);
  }

  presenceChanged(kind: 'join' | 'leave', user: PresenceUser): void {
    if (!this.#machine.is('live')) return;
    this.#presence = kind === 'join' ? withJoin(this.#presence, user) : withLeave(this.#presence, user);
    this.#events.emit(kind, user);
    this.#events.emit('presence', this.#presence);
  }

  /** The connection ended: subscribe again (from the position) on the next one. */
  connectionLost(): void {
    if (this.#machine.is('subscribing', 'live')) this.#machine.transition('pending');
  }

  fail(error: RealtimeError): void {
    if (!this.#machine.transition('failed')) return;
    this.#events.emit('error', error);
  }

  #replacePresence(next: ChannelPresence): void {
    const { joined, left } = diffPresence(this.#presence, next);
    this.#presence = next;
    for (const user of left) this.#events.emit('leave', user);
    for (const user of joined) this.#events.emit('join', user);
    if (next.count !== undefined) this.#events.emit('presence', next);
  }

  #deliver(pub: Publication): void {
    const message: RealtimeMessage = { channel: this.channel, event: pub.ev, data: pub.d };
    if (pub.o !== undefined) message.offset = pub.o;
    try {
      this.#handler(message);
    } catch (error) {
      // The app's bug must not break delivery of what follows; it still surfaces.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
