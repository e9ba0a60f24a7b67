import type { RecoveryFailure, StreamPosition } from '../../protocol/frames';
import type { Backoff, BackoffOptions } from '../backoff';
import type { TokenStore } from '../token-store';
import type { PlatformOptions } from './platform';
import type { TransportKind } from './transport';
import type { FallbackOptions } from './transport-choice';
import type { RealtimeError } from './realtime-error';
import type { ShareOptions } from './shared/share';
import type { ConnectionState, StateChange } from './state';

export interface RealtimeClientOptions extends PlatformOptions {
  /** `ws(s)://host/realtime`, or a function giving the URL for each attempt. */
  url: string | (() => string);
  /** Where access tokens come from (shared with the RestClient). */
  tokens: Pick<TokenStore, 'getFresh' | 'refreshAfterRejection' | 'onChange'>;
  /** The reconnect schedule. Default: full-jitter exponential, 500 ms base, 30 s cap, reset after 10 s up. */
  backoff?: Backoff | BackoffOptions;
  /** Send a `ping` this often; twice as long without any frame is a dead connection. Default 20 000. */
  heartbeatIntervalMs?: number;
  /** How long a request (auth, sub, pub, refresh) may wait for its answer. Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a socket may take to open. Default 10 000. */
  connectTimeoutMs?: number;
  /** Which transports may be used: WebSocket first when it is listed, SSE as the fallback. Default `['websocket', 'sse']` (SSE where `fetch` exists). */
  transports?: TransportKind[];
  /** The SSE fallback's endpoint. Default: the WebSocket URL's, `http(s)://host/realtime/sse`. */
  sseUrl?: string | (() => string);
  /** When to fall back to SSE, and for how long the choice is kept (see docs/client.md). */
  fallback?: FallbackOptions;
  /**
   * One connection for all the tabs of the browser: a SharedWorker's where the page gives one,
   * else a leader tab's (Web Locks + BroadcastChannel). Default: none (a connection per page).
   * See docs/client.md, "One connection for all the tabs".
   */
  share?: ShareOptions;
}

export type ConnectionStateChange = StateChange<ConnectionState>;

export interface RealtimeClientEvents {
  state: (change: ConnectionStateChange) => void;
  /** The server could not replay what a channel missed: refetch it (REST) and carry on from `position`. */
  resync: (channel: string, position: StreamPosition, why: RecoveryFailure | 'unknown') => void;
  /** Problems that do not change the state: a refused token refresh, an `err` about the connection. */
  error: (error: RealtimeError) => void;
}

/** The defaults of RealtimeClientOptions' timings, in milliseconds. */
export const defaults = { heartbeatIntervalMs: 20_000, requestTimeoutMs: 10_000, connectTimeoutMs: 10_000 };
