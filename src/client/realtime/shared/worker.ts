import { Connection } from '../connection';
import { defaultTimers, type PlatformOptions } from '../platform';
import type { LockManagerLike } from './election';
import { SharedHub } from './hub';
import { PortHubLink, type MessagePortLike } from './links';

/** A SharedWorker's global scope as the SDK uses it (`self` in the worker's script). */
export interface SharedWorkerScopeLike {
  addEventListener(type: 'connect', listener: (event: { readonly ports: readonly MessagePortLike[] }) => void): void;
}

export interface WorkerOptions extends PlatformOptions {
  /** Default the worker's `navigator.locks` (it learns of tabs that died without a goodbye); null: none. */
  locks?: LockManagerLike | null;
}

/**
 * Runs the hub of a RealtimeClient `share` in a SharedWorker: the one connection of the browser,
 * made with the options of the first tab that attaches and tokens asked of the tabs. The worker's
 * script is the app's, two lines long, so that its bundler builds it:
 *
 * @example
 * // realtime-worker.ts
 * import { serveRealtimeWorker } from 'tandem/client';
 * serveRealtimeWorker(self as unknown as SharedWorkerGlobalScope);
 */
export function serveRealtimeWorker(scope: SharedWorkerScopeLike, options: WorkerOptions = {}): void {
  const link = new PortHubLink((options.clock ?? Date.now)());
  const locks = options.locks === null ? undefined : options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  // The hub lives as long as the worker: the browser ends it when the last tab goes.
  new SharedHub({
    link,
    connect: (tokens, config) => new Connection({ ...options, ...config, tokens }),
    timers: options.timers ?? defaultTimers,
    ...(locks === undefined ? {} : { watchLock: (lock: string, gone: () => void) => void locks.request(lock, {}, () => gone()) }),
  });
  scope.addEventListener('connect', (event) => {
    for (const port of event.ports) link.add(port);
  });
}
