import type { StreamPosition } from '../../../protocol/frames';
import { CloseCode } from '../../../protocol/close-codes';
import type { RealtimeEngine } from '../engine';
import type { ConnectionStateChange } from '../options';
import type { Timers } from '../platform';
import { TimerSlot } from '../timer-slot';
import { toWire, type ChannelRequest, type HubMessage, type SharedConfig, type TabId, type TabMessage } from './protocol';
import { RemoteTokens } from './remote-tokens';
import { SharedChannel, type ChannelHost } from './shared-channel';

/** The hub's end of the tab link: a SharedWorker's ports, or the leader's BroadcastChannel. */
export interface HubLink {
  send(to: TabId[] | undefined, message: HubMessage): void;
  listen(listener: (tab: TabId, message: TabMessage) => void): void;
  /** A tab is gone: its port (if any) is dropped. */
  forget(tab: TabId): void;
  close(): void;
}

export interface HubOptions {
  link: HubLink;
  /** Makes the one connection, when the first tab attaches (with that tab's config). */
  connect(tokens: RemoteTokens, config: SharedConfig): RealtimeEngine;
  timers: Timers;
  /** Publications kept per channel, to answer tabs that ask from a recent position. Default 256. */
  bufferSize?: number;
  /** How long a tab may take to answer a token request before the next tab is asked. Default 3 000 ms. */
  tokenTimeoutMs?: number;
  /** Leader mode: announce the hub now and this often (the followers' sign of life). */
  announceEveryMs?: number;
  /** Calls `gone` once the tab's lock (its attach names it) is free: the tab is gone, even without a goodbye. */
  watchLock?(lock: string, gone: () => void): void;
}

/**
 * The hub: the browser's one connection, used by every tab that attached. The connection is
 * reference-counted (up while a tab is attached, closed when the last one detaches) and so is each
 * channel (SharedChannel). It runs in a SharedWorker (worker.ts) or in the leader tab (share.ts);
 * either way it only talks to tabs through its link.
 */
export class SharedHub {
  readonly #options: HubOptions;
  readonly #link: HubLink;
  /** Attached tabs, the most recently attached last. */
  readonly #tabs = new Set<TabId>();
  readonly #watched = new Set<TabId>();
  readonly #channels = new Map<string, SharedChannel>();
  readonly #tokens: RemoteTokens;
  readonly #announce: TimerSlot;
  #engine: RealtimeEngine | undefined;
  #host: ChannelHost | undefined;
  #last: ConnectionStateChange | undefined;
  /** A sign-out's close, reported to the tabs instead of the connection's own `client_disconnect`. */
  #ending: { code: number; reason: string } | undefined;
  #closed = false;

  constructor(options: HubOptions) {
    this.#options = options;
    this.#link = options.link;
    this.#announce = new TimerSlot(options.timers);
    this.#tokens = new RemoteTokens({
      send: (tab, message) => this.#send([tab], message),
      tabs: () => [...this.#tabs],
      timers: options.timers,
      timeoutMs: options.tokenTimeoutMs ?? 3_000,
    });
    this.#link.listen((tab, message) => this.#receive(tab, message));
    if (options.announceEveryMs !== undefined) this.#heartbeat(options.announceEveryMs);
  }

  /** The leader resigns (it closes or freezes): no goodbye to the tabs, whose next hub takes over from their positions. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#announce.clear();
    this.#link.close();
    this.#engine?.disconnect();
  }

  #heartbeat(everyMs: number): void {
    this.#send(undefined, { t: 'hub' });
    this.#announce.schedule(() => this.#heartbeat(everyMs), everyMs);
  }

  #receive(tab: TabId, message: TabMessage): void {
    if (this.#closed) return;
    switch (message.t) {
      case 'attach':
        return this.#attach(tab, message);
      case 'detach':
        return this.#detach(tab);
      case 'tokens':
        if (message.token === undefined) return this.#signOut();
        return this.#tokens.changed(message.token);
      case 'token':
        return this.#tokens.answered(tab, message.id, message.token, message.error);
    }
    // From a tab that did not attach to this hub (it will: it hears the hub and sends its attach).
    const engine = this.#engine;
    if (!this.#tabs.has(tab) || engine === undefined) return;
    switch (message.t) {
      case 'sub':
        return this.#join(tab, message.ch, message.since);
      case 'unsub':
        return this.#leave(tab, message.ch);
      case 'retry':
        return engine.retryNow();
      case 'pub':
        return void engine.publish(message.ch, message.ev, message.d).then(
          () => this.#send([tab], { t: 'done', id: message.id }),
          (error: unknown) => this.#send([tab], { t: 'done', id: message.id, error: toWire(error) }),
        );
    }
  }

  #attach(tab: TabId, { config, subs, lock }: { config: SharedConfig; subs: ChannelRequest[]; lock?: string }): void {
    const engine = this.#engine ?? this.#start(config);
    this.#tabs.delete(tab);
    this.#tabs.add(tab);
    if (lock !== undefined) this.#watch(tab, lock);
    engine.connect(); // a no-op unless idle or closed
    this.#send([tab], { t: 'state', change: this.#last ?? { state: engine.state, previous: engine.state }, transport: engine.transport });
    const wanted = new Set(subs.map((s) => s.ch));
    for (const channel of [...this.#channels.values()]) if (channel.has(tab) && !wanted.has(channel.channel)) this.#leave(tab, channel.channel);
    for (const { ch, since } of subs) this.#join(tab, ch, since);
  }

  #detach(tab: TabId): void {
    if (!this.#tabs.delete(tab)) return;
    for (const channel of [...this.#channels.values()]) if (channel.has(tab)) this.#leave(tab, channel.channel);
    this.#tokens.forget(tab);
    this.#link.forget(tab);
    if (this.#tabs.size === 0) this.#engine?.disconnect();
  }

  #signOut(): void {
    if (this.#engine === undefined || this.#engine.state === 'idle' || this.#engine.state === 'closed') return;
    this.#ending = { code: CloseCode.unauthorized, reason: 'signed_out' };
    this.#engine.disconnect();
  }

  #start(config: SharedConfig): RealtimeEngine {
    const engine = this.#options.connect(this.#tokens, config);
    this.#engine = engine;
    this.#host = {
      engine,
      send: (to, message) => this.#send(to, message),
      failed: (channel) => {
        this.#channels.get(channel)?.close();
        this.#channels.delete(channel);
      },
      bufferSize: this.#options.bufferSize ?? 256,
    };
    engine.on('state', (change) => this.#relay(engine, change));
    engine.on('error', (error) => this.#send([...this.#tabs], { t: 'error', error: toWire(error) }));
    return engine;
  }

  #relay(engine: RealtimeEngine, change: ConnectionStateChange): void {
    if (this.#closed) return;
    const ending = change.state === 'closed' ? this.#ending : undefined;
    const shown = ending === undefined ? change : { ...change, ...ending };
    this.#last = shown;
    this.#send([...this.#tabs], { t: 'state', change: shown, transport: engine.transport });
    if (change.state !== 'closed') return;
    // Closed for good (the last tab left, a sign-out, a revoked session): every tab stops, as a
    // direct client does, and attaches again with its next connect().
    this.#ending = undefined;
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
    for (const tab of this.#tabs) this.#tokens.forget(tab);
    this.#tabs.clear();
  }

  #join(tab: TabId, channel: string, since: StreamPosition | undefined): void {
    let shared = this.#channels.get(channel);
    if (shared === undefined) {
      shared = new SharedChannel(this.#host!, channel, since);
      this.#channels.set(channel, shared);
    }
    shared.add(tab, since);
  }

  #leave(tab: TabId, channel: string): void {
    if (this.#channels.get(channel)?.remove(tab)) this.#channels.delete(channel);
  }

  #watch(tab: TabId, lock: string): void {
    if (this.#watched.has(tab) || this.#options.watchLock === undefined) return;
    this.#watched.add(tab);
    this.#options.watchLock(lock, () => {
      this.#watched.delete(tab);
      this.#detach(tab);
    });
  }

  #send(to: TabId[] | undefined, message: HubMessage): void {
    if (this.#closed || (to !== undefined && to.length === 0)) return;
    this.#link.send(to, message);
  }
}
