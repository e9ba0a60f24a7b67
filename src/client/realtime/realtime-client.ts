import type { StreamPosition } from '../../protocol/frames';
import { Connection } from './connection';
import type { RealtimeEngine, SharingRole } from './engine';
import { Follower, type Follow, type FollowOptions, type Snapshot } from './follow';
import type { RealtimeClientEvents, RealtimeClientOptions } from './options';
import { resolvePlatform, type Platform } from './platform';
import { sharedEngine } from './shared/share';
import type { ConnectionState } from './state';
import type { MessageHandler, Subscription } from './subscription';
import type { TransportKind } from './transport';

/**
 * The realtime half of the SDK: one connection that reconnects by itself, restores every
 * subscription from its last position, and delivers each publication once, in order. With
 * `share`, every tab of the browser goes through one connection (a SharedWorker's, or a leader
 * tab's); the page uses the same methods and events either way (docs/client.md, "One connection
 * for all the tabs").
 *
 * @example
 * const client = new RealtimeClient({ url: 'wss://example.com/realtime', tokens, WebSocket });
 * client.on('state', ({ state, code, nextAttemptAt }) => render(state));
 * client.on('resync', (channel) => refetch(channel));
 * const sub = client.subscribe('post:42', (m) => console.log(m.event, m.data), { since: { e, o: 17 } });
 * client.connect();
 */
export class RealtimeClient {
  readonly #engine: RealtimeEngine;
  readonly #platform: Platform;

  constructor(options: RealtimeClientOptions) {
    this.#platform = resolvePlatform(options);
    this.#engine = options.share === undefined ? new Connection(options) : sharedEngine(options, options.share);
  }

  get state(): ConnectionState {
    return this.#engine.state;
  }

  /** The transport of the current connection attempt: 'websocket', or 'sse' (the fallback); undefined between attempts. */
  get transport(): TransportKind | undefined {
    return this.#engine.transport;
  }

  /** How this page reaches the server: 'none' (its own connection), 'worker', 'leader' or 'follower' (shared). */
  get sharing(): SharingRole {
    return this.#engine.sharing;
  }

  on<K extends keyof RealtimeClientEvents>(event: K, listener: RealtimeClientEvents[K]): () => void {
    return this.#engine.on(event, listener);
  }

  /** Starts connecting (from 'idle' or 'closed'); a no-op while connecting, open or reconnecting. */
  connect(): void {
    this.#engine.connect();
  }

  /** Skips the rest of the backoff wait and tries at once (a "Retry now" button). A no-op unless reconnecting. */
  retryNow(): void {
    this.#engine.retryNow();
  }

  /**
   * Closes the connection and stops reconnecting; subscriptions are kept for a later connect().
   * Shared: this page lets go of the connection, which stays up while another tab uses it.
   */
  disconnect(): void {
    this.#engine.disconnect();
  }

  /**
   * Subscribes to a channel. With `since` (e.g. a REST list's `Tandem-Position` and the epoch)
   * only what follows it is delivered. One subscription per channel at a time.
   */
  subscribe(channel: string, handler: MessageHandler, options: { since?: StreamPosition } = {}): Subscription {
    return this.#engine.subscribe(channel, handler, options);
  }

  /** The subscription to a channel, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.#engine.subscription(channel);
  }

  /**
   * The snapshot handoff in one call: `start()` loads over REST, subscribes to the snapshot's
   * channel from its position, reloads on `resync` (holding live changes meanwhile) and retries
   * failed reloads with backoff on this client's timers. See docs/client.md, "Following a list".
   *
   * @example
   * const feed = realtime.follow({ load: () => api.listPosts(), snapshot: render, message: apply });
   * await feed.start(); // … and feed.stop() when leaving the page
   */
  follow<S extends Snapshot>(options: FollowOptions<S>): Follow {
    return new Follower(this, this.#platform, options);
  }

  /**
   * Publishes an ephemeral event (typing) to a channel this user may publish on. Not queued:
   * rejects with `not_connected` unless open, and with the server's code when refused.
   */
  publish(channel: string, event: string, data?: unknown): Promise<void> {
    return this.#engine.publish(channel, event, data);
  }
}
