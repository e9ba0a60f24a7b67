import type { StreamPosition } from '../../protocol/frames';
import { Backoff, type BackoffOptions } from '../backoff';
import type { Platform } from './platform';
import { RealtimeError } from './realtime-error';
import { StateMachine, type TransitionTable } from './state';
import type { MessageHandler, RealtimeMessage, Subscription } from './subscription';
import { TimerSlot } from './timer-slot';

/** What a follower loads over REST: some state, and where in its channel it was read (a ListResult is one). */
export interface Snapshot {
  /** The channel the state changes on (a list's `Tandem-Channel`); the `channel` option overrides it. */
  channel?: string | undefined;
  /** Where in the channel the state was read: the follower subscribes from here. */
  position: StreamPosition | undefined;
}

export interface FollowOptions<S extends Snapshot> {
  /** Reads the state over REST (REST owns state). */
  load(): Promise<S>;
  /** Replaces the app's state with a fresh snapshot (the first one, and each reload's). */
  snapshot(state: S): void;
  /**
   * A change after the snapshot (the channel owns change), or an ephemeral event (typing, no
   * `offset`). Should be idempotent by id: a write of your own may arrive in a snapshot and live.
   */
  message(message: RealtimeMessage): void;
  /** The first load failed, or the server refused the subscription (e.g. `forbidden`). */
  failed?(error: unknown): void;
  /** The channel to follow. Default: the first snapshot's `channel`. */
  channel?: string;
  /** How failed reloads are retried. Default: full jitter, 1 s base, 30 s cap. */
  retry?: BackoffOptions;
}

/**
 * 'idle': not started (or the first load failed); 'loading': the first load is on its way;
 * 'live': subscribed, changes applied as they come; 'reloading': a reload is on its way and
 * changes are held; 'stopped': for good.
 */
export type FollowState = 'idle' | 'loading' | 'live' | 'reloading' | 'stopped';

const followTransitions: TransitionTable<FollowState> = {
  idle: ['loading', 'stopped'],
  loading: ['idle', 'live', 'stopped'],
  live: ['reloading', 'stopped'],
  reloading: ['live', 'stopped'],
  stopped: [],
};

/** What `realtime.follow()` returns. */
export interface Follow {
  readonly state: FollowState;
  /** The channel followed, once known (the option, or the first snapshot's). */
  readonly channel: string | undefined;
  /** The channel's subscription once started (its presence, to publish typing on it). */
  readonly subscription: Subscription | undefined;
  /**
   * Loads, shows and subscribes from the snapshot's position. Resolves true once following,
   * false when the load failed (reported through `failed`; start() may be called again) or the
   * follower was stopped meanwhile. Calling it again while started returns the same answer.
   */
  start(): Promise<boolean>;
  /**
   * Loads the state again (after a resync, or when an event says "refetch"); changes are held
   * meanwhile. A no-op before the first snapshot and after stop().
   */
  reload(): void;
  /** Unsubscribes and drops whatever is on its way. Idempotent. */
  stop(): void;
}

/** The part of the RealtimeClient a follower uses. */
export interface FollowHost {
  subscribe(channel: string, handler: MessageHandler, options?: { since?: StreamPosition }): Subscription;
}

/**
 * The snapshot handoff: load over REST, subscribe from the position the load reported (nothing
 * between the two is lost or duplicated), and when the server cannot replay what was missed
 * (`resync`), load again. Publications that arrive while a reload is on its way are held and
 * applied after it, minus those the reload already contains (offset at or below its position).
 * A failed reload is retried with backoff, still holding. Ephemeral events pass straight through.
 */
export class Follower<S extends Snapshot> implements Follow {
  readonly #host: FollowHost;
  readonly #options: FollowOptions<S>;
  readonly #machine = new StateMachine(followTransitions, 'idle');
  readonly #retry: TimerSlot;
  readonly #backoff: Backoff;
  #channel: string | undefined;
  #subscription: Subscription | undefined;
  #started: Promise<boolean> | undefined;
  /** Offsets at or below this are in the last snapshot. */
  #floor: number | undefined;
  /** Publications held while reloading. */
  #held: RealtimeMessage[] = [];
  /** Bumped by every load and by stop(): answers of older loads are dropped. */
  #generation = 0;
  readonly #cleanups: Array<() => void> = [];

  constructor(host: FollowHost, platform: Pick<Platform, 'timers' | 'clock' | 'random'>, options: FollowOptions<S>) {
    this.#host = host;
    this.#options = options;
    this.#channel = options.channel;
    this.#retry = new TimerSlot(platform.timers);
    this.#backoff = new Backoff({ baseMs: 1_000, capMs: 30_000, random: platform.random, now: platform.clock, ...options.retry });
  }

  get state(): FollowState {
    return this.#machine.state;
  }

  get channel(): string | undefined {
    return this.#channel;
  }

  get subscription(): Subscription | undefined {
    return this.#subscription;
  }

  start(): Promise<boolean> {
    if (!this.#machine.is('idle')) return this.#started ?? Promise.resolve(false);
    this.#machine.transition('loading');
    this.#started = this.#first(++this.#generation);
    return this.#started;
  }

  reload(): void {
    if (!this.#machine.is('live', 'reloading')) return;
    const generation = ++this.#generation;
    this.#machine.transition('reloading');
    this.#retry.clear();
    this.#load().then(
      (state) => {
        if (generation !== this.#generation) return;
        this.#backoff.reset();
        const held = this.#held;
        this.#held = [];
        this.#machine.transition('live');
        this.#apply(state);
        for (const message of held) this.#receive(message);
      },
      () => {
        if (generation !== this.#generation) return;
        // Keep holding, and try again: the state shown is stale until a load succeeds.
        this.#retry.schedule(() => this.reload(), this.#backoff.next());
      },
    );
  }

  stop(): void {
    if (!this.#machine.transition('stopped')) return;
    this.#generation += 1;
    this.#started = undefined;
    this.#retry.clear();
    this.#held = [];
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    this.#subscription?.unsubscribe();
  }

  async #first(generation: number): Promise<boolean> {
    let state: S;
    try {
      state = await this.#load();
    } catch (error) {
      return this.#startFailed(generation, error);
    }
    if (generation !== this.#generation) return false;
    const channel = this.#channel ?? state.channel;
    if (channel === undefined) return this.#startFailed(generation, new RealtimeError('no_channel', 'The snapshot names no channel: pass the channel option'));
    this.#channel = channel;
    this.#machine.transition('live');
    this.#apply(state);
    // The snapshot callback may have stopped the follower.
    if (generation !== this.#generation) return false;
    const position = state.position;
    const subscription = this.#host.subscribe(channel, (m) => this.#receive(m), position === undefined ? {} : { since: position });
    this.#subscription = subscription;
    this.#cleanups.push(
      subscription.on('error', (error) => this.#options.failed?.(error)),
      subscription.on('resync', () => this.reload()),
    );
    return true;
  }

  #startFailed(generation: number, error: unknown): false {
    if (generation !== this.#generation) return false;
    this.#machine.transition('idle');
    this.#started = undefined;
    this.#options.failed?.(error);
    return false;
  }

  /** The app's load, with a synchronous throw turned into a rejection. */
  async #load(): Promise<S> {
    return this.#options.load();
  }

  #apply(state: S): void {
    this.#floor = state.position?.o;
    this.#options.snapshot(state);
  }

  #receive(message: RealtimeMessage): void {
    if (this.#machine.is('stopped')) return;
    // Ephemeral events (typing) have no offset and are never part of a snapshot.
    if (message.offset === undefined) return this.#options.message(message);
    if (this.#machine.is('reloading')) {
      this.#held.push(message);
      return;
    }
    if (this.#floor !== undefined && message.offset <= this.#floor) return;
    this.#options.message(message);
  }
}
