import { Backoff, type ChannelPosition, type RealtimeClient, type RealtimeMessage, type Subscription } from '../../src/client';

/** What a follower loads over REST: some state, and where in the channel it was read. */
export interface Snapshot {
  position: ChannelPosition | undefined;
}

export interface FollowOptions<S extends Snapshot> {
  channel: string;
  /** Reads the state over REST (REST owns state). */
  load(): Promise<S>;
  /** Replaces the view's state with a fresh snapshot. */
  snapshot(state: S): void;
  /** A change after the snapshot (the channel owns change). Must be idempotent by id: replays overlap own writes. */
  message(message: RealtimeMessage): void;
  /** The first load failed, or the server refused the subscription. */
  failed?(error: unknown): void;
}

/**
 * The snapshot handoff, for a view: load over REST, subscribe from the position the load
 * reported (nothing between the two is lost or duplicated), and when the server cannot replay
 * what was missed (`resync`), load again. Publications that arrive while a reload is under way
 * are held and applied after it, minus those the reload already contains (offset ≤ its position).
 *
 * @example
 * const feed = new Follower(realtime, { channel: 'feed', load: () => api.listPosts(), snapshot: render, message: apply });
 * await feed.start();
 * // … on leaving the page:
 * feed.stop();
 */
export class Follower<S extends Snapshot> {
  readonly #realtime: RealtimeClient;
  readonly #options: FollowOptions<S>;
  #subscription: Subscription | undefined;
  /** Offsets at or below this are in the last snapshot. */
  #floor: number | undefined;
  /** Held publications while a reload is on its way; undefined when none is. */
  #held: RealtimeMessage[] | undefined;
  /** Bumped by every load and by stop(): answers of older loads are dropped. */
  #generation = 0;
  #stopped = false;
  #retry: number | undefined;
  readonly #backoff = new Backoff({ baseMs: 1_000, capMs: 30_000 });
  readonly #cleanups: Array<() => void> = [];

  constructor(realtime: RealtimeClient, options: FollowOptions<S>) {
    this.#realtime = realtime;
    this.#options = options;
  }

  /** The channel's subscription once started (presence, typing). */
  get subscription(): Subscription | undefined {
    return this.#subscription;
  }

  /** Loads, shows and subscribes. Resolves false when the load failed (reported through `failed`). */
  async start(): Promise<boolean> {
    const generation = ++this.#generation;
    let state: S;
    try {
      state = await this.#options.load();
    } catch (error) {
      if (generation === this.#generation && !this.#stopped) this.#options.failed?.(error);
      return false;
    }
    if (generation !== this.#generation || this.#stopped) return false;
    this.#apply(state);
    const position = state.position;
    const since = position === undefined ? undefined : { e: position.epoch, o: position.offset };
    const subscription = this.#realtime.subscribe(this.#options.channel, (m) => this.#receive(m), since === undefined ? {} : { since });
    this.#subscription = subscription;
    this.#cleanups.push(
      subscription.on('error', (error) => this.#options.failed?.(error)),
      this.#realtime.on('resync', (channel) => {
        if (channel === this.#options.channel) this.reload();
      }),
    );
    return true;
  }

  /** Loads the state again (after a resync, or when an event says "refetch"); live changes are held meanwhile. */
  reload(): void {
    if (this.#stopped) return;
    const generation = ++this.#generation;
    this.#held ??= [];
    window.clearTimeout(this.#retry);
    this.#options.load().then(
      (state) => {
        if (generation !== this.#generation || this.#stopped) return;
        this.#backoff.reset();
        const held = this.#held ?? [];
        this.#held = undefined;
        this.#apply(state);
        for (const message of held) this.#receive(message);
      },
      () => {
        if (generation !== this.#generation || this.#stopped) return;
        // Keep holding, and try again: the state on screen is stale until a load succeeds.
        this.#retry = window.setTimeout(() => this.reload(), this.#backoff.next());
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#generation += 1;
    window.clearTimeout(this.#retry);
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    this.#subscription?.unsubscribe();
  }

  #apply(state: S): void {
    this.#floor = state.position?.offset;
    this.#options.snapshot(state);
  }

  #receive(message: RealtimeMessage): void {
    if (this.#stopped) return;
    // Ephemeral events (typing) have no offset and are never part of a snapshot.
    if (message.offset === undefined) return this.#options.message(message);
    if (this.#held !== undefined) {
      this.#held.push(message);
      return;
    }
    if (this.#floor !== undefined && message.offset <= this.#floor) return;
    this.#options.message(message);
  }
}
