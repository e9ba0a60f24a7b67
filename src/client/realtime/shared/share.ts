import { Backoff } from '../../backoff';
import { Connection } from '../connection';
import type { RealtimeEngine } from '../engine';
import { defaults, type RealtimeClientOptions } from '../options';
import { resolvePlatform, type Platform } from '../platform';
import { LeaderElection, type LockManagerLike } from './election';
import { SharedHub } from './hub';
import { broadcastHubLink, broadcastTabLink, portTabLink, type BroadcastChannelConstructor, type MessagePortLike } from './links';
import type { SharedConfig, TabId } from './protocol';
import { SharedConnection } from './tab-connection';

/** A SharedWorker as the SDK uses it: its port to this tab, and its `error` (its script failed to load or run). */
export interface SharedWorkerLike {
  readonly port: MessagePortLike;
  addEventListener?(type: 'error', listener: () => void): void;
}

/** Where page lifecycle events are heard: `pagehide`/`pageshow` on the window, `freeze`/`resume` and the visibility on the document. */
export interface LifecycleEvents {
  window?: { addEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void };
  document?: { addEventListener(type: string, listener: () => void): void; readonly visibilityState?: string };
}

/** RealtimeClient's `share` option: one connection for all the tabs of the browser (docs/client.md). */
export interface ShareOptions {
  /** Tabs (of one origin) with the same name share a connection: the BroadcastChannel's and the locks' name. Default 'tandem-realtime'. */
  name?: string;
  /**
   * The SharedWorker that holds the connection, where the browser has SharedWorker; undefined
   * (or no option) elects a leader tab instead. The worker's script calls `serveRealtimeWorker(self)`.
   *
   * @example
   * worker: () => typeof SharedWorker === 'function' ? new SharedWorker(new URL('./realtime-worker.ts', import.meta.url), { type: 'module', name: 'tandem-realtime' }) : undefined
   */
  worker?: () => SharedWorkerLike | undefined;
  /** Leader mode: the leader's sign of life to the other tabs, this often. Default 1 000 ms. */
  heartbeatMs?: number;
  /** Leader mode: a visible tab that hears nothing from the leader this long takes the lead by force. Default 5 000 ms. */
  silenceMs?: number;
  /** Default `navigator.locks`; null: none (then each tab has its own connection unless there is a worker). */
  locks?: LockManagerLike | null;
  /** Default the global BroadcastChannel; null: none (as above). */
  BroadcastChannel?: BroadcastChannelConstructor | null;
  /** Default the global `window` and `document`; null: none (a page that never goes away, as in tests). */
  lifecycle?: LifecycleEvents | null;
}

const DEFAULT_NAME = 'tandem-realtime';

/**
 * The engine of a RealtimeClient with `share`: through a SharedWorker when the page gives one;
 * else (or once the worker fails to start) through a leader tab elected with Web Locks, frames
 * carried by a BroadcastChannel; else, where neither exists, a connection of the page's own, as
 * without `share`.
 */
export function sharedEngine(options: RealtimeClientOptions, share: ShareOptions): RealtimeEngine {
  const platform = resolvePlatform(options);
  const name = share.name ?? DEFAULT_NAME;
  const locks = share.locks === null ? undefined : share.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  const Channel = share.BroadcastChannel === null ? undefined : share.BroadcastChannel ?? (globalThis as { BroadcastChannel?: BroadcastChannelConstructor }).BroadcastChannel;
  const lifecycle = share.lifecycle === null ? {} : share.lifecycle ?? defaultLifecycle();
  const election = locks === undefined || Channel === undefined ? undefined : new LeaderElection({
    lock: `${name}:leader`,
    locks,
    timers: platform.timers,
    clock: platform.clock,
    silenceMs: share.silenceMs ?? 5_000,
    mayTakeOver: () => lifecycle.document?.visibilityState !== 'hidden',
    lead: () => leadHub(options, platform, { name, locks, Channel, heartbeatMs: share.heartbeatMs ?? 1_000, after: connection.hubTerm }),
  });
  const worker = share.worker?.();
  if (worker === undefined && election === undefined) return new Connection(options);

  let mode: 'worker' | 'leader' = worker === undefined ? 'leader' : 'worker';
  /** Whether the page called connect(): only then is the tab a candidate to lead. */
  let candidate = false;
  const connection = new SharedConnection({
    config: sharedConfig(options),
    tokens: options.tokens,
    timers: platform.timers,
    clock: platform.clock,
    random: platform.random,
    requestTimeoutMs: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
    ...(locks === undefined ? {} : { holdTab: (tab: TabId) => holdLock(locks, `${name}:tab:${tab}`) }),
    link: worker === undefined ? broadcastTabLink(new Channel!(name)) : portTabLink(worker.port),
    role: () => (mode === 'worker' ? 'worker' : election?.state === 'leading' ? 'leader' : 'follower'),
    heard: () => (mode === 'leader' ? election?.heard() : undefined),
    connecting: () => {
      candidate = true;
      if (mode === 'leader') election?.start();
    },
  });
  // A worker whose script did not load (a deploy removed it, a policy refused it): elect a leader instead.
  worker?.addEventListener?.('error', () => {
    if (mode !== 'worker' || election === undefined) return;
    mode = 'leader';
    connection.relink(broadcastTabLink(new Channel!(name)));
    if (candidate) election.start();
  });
  onLifecycle(lifecycle, {
    // A leader that goes into the back/forward cache or freezes must let go at once: the next tab takes over.
    hide: () => {
      connection.suspend();
      election?.stop();
    },
    show: () => {
      if (candidate && mode === 'leader') election?.start();
      connection.resume();
    },
  });
  return connection;
}

/** The leader's hub: the real connection, on a BroadcastChannel of its own (it hears this tab's messages too). */
function leadHub(options: RealtimeClientOptions, platform: Platform, leader: { name: string; locks: LockManagerLike; Channel: BroadcastChannelConstructor; heartbeatMs: number; after: number }): () => void {
  // Tabs follow the hub with the largest term. Above the one this tab followed, so that a takeover in
  // the same millisecond as the hub it replaces (or on a clock behind that hub's tab) still wins.
  const term = Math.max(platform.clock(), Math.floor(leader.after) + 1) + platform.random();
  const hub = new SharedHub({
    link: broadcastHubLink(new leader.Channel(leader.name), term),
    connect: (tokens) => new Connection({ ...options, share: undefined, tokens }),
    timers: platform.timers,
    announceEveryMs: leader.heartbeatMs,
    watchLock: (lock, gone) => void leader.locks.request(lock, {}, () => gone()),
  });
  return () => hub.close();
}

/** Takes a lock and keeps it until `release` is called; resolves once it is held. */
export function holdLock(locks: LockManagerLike, lock: string): Promise<{ lock: string; release(): void }> {
  return new Promise((held) => {
    void locks.request(lock, {}, () => new Promise<void>((release) => held({ lock, release })));
  });
}

/** The options a worker's connection is made with: a function-valued URL is read once, here. */
export function sharedConfig(options: RealtimeClientOptions): SharedConfig {
  const read = (value: string | (() => string)) => (typeof value === 'function' ? value() : value);
  const config: SharedConfig = { url: read(options.url) };
  if (options.sseUrl !== undefined) config.sseUrl = read(options.sseUrl);
  if (options.transports !== undefined) config.transports = [...options.transports];
  if (options.heartbeatIntervalMs !== undefined) config.heartbeatIntervalMs = options.heartbeatIntervalMs;
  if (options.requestTimeoutMs !== undefined) config.requestTimeoutMs = options.requestTimeoutMs;
  if (options.connectTimeoutMs !== undefined) config.connectTimeoutMs = options.connectTimeoutMs;
  if (options.fallback !== undefined) config.fallback = { ...options.fallback };
  if (options.backoff !== undefined && !(options.backoff instanceof Backoff)) {
    const { baseMs, capMs, factor, stableMs } = options.backoff;
    config.backoff = Object.fromEntries(Object.entries({ baseMs, capMs, factor, stableMs }).filter(([, v]) => v !== undefined));
  }
  return config;
}

function defaultLifecycle(): LifecycleEvents {
  const scope = globalThis as { addEventListener?: unknown; document?: LifecycleEvents['document'] };
  const lifecycle: LifecycleEvents = {};
  if (typeof scope.addEventListener === 'function') lifecycle.window = globalThis as unknown as LifecycleEvents['window'];
  if (scope.document !== undefined) lifecycle.document = scope.document;
  return lifecycle;
}

function onLifecycle(lifecycle: LifecycleEvents, page: { hide(): void; show(): void }): void {
  lifecycle.window?.addEventListener('pagehide', () => page.hide());
  lifecycle.window?.addEventListener('pageshow', (event) => {
    if (event.persisted === true) page.show();
  });
  lifecycle.document?.addEventListener('freeze', () => page.hide());
  lifecycle.document?.addEventListener('resume', () => page.show());
}
