import type { Timers } from '../http';

export type { Timers };

/**
 * The platform pieces the realtime client needs, injected so that the client has no runtime
 * dependency and no Node-only import: a browser uses its globals, Node 20 passes `ws`.
 */

/**
 * The part of the WHATWG WebSocket the client uses. Handler slots take `never` so that any
 * implementation's own event types fit (a browser's MessageEvent, `ws`'s); the client assigns
 * its handlers and never calls the slots itself.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Where `online` / `offline` events come from (a browser's `window`). */
export interface NetworkEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

/** The part of the WHATWG fetch the SSE fallback uses (a browser's, Node 20's global one). */
export type FetchLike = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal; cache?: 'no-store'; keepalive?: boolean }) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  body: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> }; cancel(): Promise<void> } | null;
  text(): Promise<string>;
}>;

/** Where the SSE fallback remembers its choice per origin (a browser's localStorage). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Platform {
  WebSocket: WebSocketConstructor;
  /** Undefined: no SSE fallback on this platform. */
  fetch: FetchLike | undefined;
  storage: StorageLike | undefined;
  timers: Timers;
  clock: () => number;
  random: () => number;
  network: NetworkEvents | undefined;
}

export interface PlatformOptions {
  /** Default: `globalThis.WebSocket`. In Node 20 pass `ws`'s `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Default: the global setTimeout / clearTimeout. */
  timers?: Timers;
  /** Default: `Date.now`. */
  clock?: () => number;
  /** Default: `Math.random`. */
  random?: () => number;
  /** Default: `globalThis` when it has `addEventListener` (browsers); `null` turns the events off. */
  network?: NetworkEvents | null;
  /** For the SSE fallback. Default: the global `fetch`; `null` turns the fallback off. */
  fetch?: FetchLike | null;
  /** Where the fallback choice is remembered. Default: `localStorage` where there is one; `null`: memory only. */
  storage?: StorageLike | null;
}

export const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

export function resolvePlatform(options: PlatformOptions): Platform {
  const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocketImpl === undefined) throw new TypeError('No WebSocket implementation: pass the WebSocket option (in Node, `ws`)');
  const global = globalThis as Partial<NetworkEvents>;
  const network = options.network === null ? undefined : options.network ?? (typeof global.addEventListener === 'function' && typeof global.removeEventListener === 'function' ? (globalThis as unknown as NetworkEvents) : undefined);
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
  return {
    WebSocket: WebSocketImpl,
    fetch: options.fetch === null ? undefined : options.fetch ?? (globalFetch === undefined ? undefined : (url, init) => globalFetch(url, init)),
    storage: options.storage === null ? undefined : options.storage ?? defaultStorage(),
    timers: options.timers ?? defaultTimers,
    clock: options.clock ?? Date.now,
    random: options.random ?? Math.random,
    network,
  };
}

/** Listens to `online` / `offline` when the platform has them; returns the function that stops. */
export function watchNetwork(network: NetworkEvents | undefined, handlers: { online(): void; offline(): void }): () => void {
  if (network === undefined) return () => {};
  const online = () => handlers.online();
  const offline = () => handlers.offline();
  network.addEventListener('online', online);
  network.addEventListener('offline', offline);
  return () => {
    network.removeEventListener('online', online);
    network.removeEventListener('offline', offline);
  };
}

/** `localStorage` when the platform has one and lets us use it (it throws in some sandboxes). */
function defaultStorage(): StorageLike | undefined {
  try {
    const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
    if (storage === undefined) return undefined;
    storage.getItem('tandem.probe');
    return storage;
  } catch {
    return undefined;
  }
}
