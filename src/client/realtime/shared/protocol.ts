import type { PresenceUser, Publication, StreamPosition, SubscribeResult } from '../../../protocol/frames';
import type { BackoffOptions } from '../../backoff';
import type { AccessToken } from '../../token-store';
import type { ConnectionStateChange } from '../options';
import type { TransportKind } from '../transport';
import type { FallbackOptions } from '../transport-choice';

/**
 * The messages between the tabs and the hub that holds the browser's one connection, carried by a
 * SharedWorker's MessagePorts or by a BroadcastChannel (leader mode). Plain objects only: they are
 * structured-cloned. A tab says who it is (`tab`); the hub says which hub it is (`hub`: its term,
 * later hubs have larger ones) and whom a message is for (`to`; absent: every tab).
 */

export type TabId = string;

/** A channel a tab wants, from its last delivered position. */
export interface ChannelRequest {
  ch: string;
  since?: StreamPosition;
}

/** An error as it crosses to another tab or the worker: its code, message and (a token refresh's) HTTP status. */
export interface WireError {
  code: string;
  message: string;
  status?: number;
}

/** The RealtimeClient options the connection is made with, as plain data (a function-valued URL is read once). */
export interface SharedConfig {
  url: string;
  sseUrl?: string;
  transports?: TransportKind[];
  heartbeatIntervalMs?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  backoff?: Pick<BackoffOptions, 'baseMs' | 'capMs' | 'factor' | 'stableMs'>;
  fallback?: FallbackOptions;
}

export type TabMessage =
  /**
   * This tab uses the connection, with these channels (sent again to every new hub: the hand-off).
   * `lock`: a Web Lock the tab holds while it lives, for the hub to learn of a tab gone without a goodbye.
   */
  | { t: 'attach'; config: SharedConfig; subs: ChannelRequest[]; lock?: string }
  /** This tab lets go of the connection and of all its channels (disconnect, pagehide, freeze). */
  | { t: 'detach' }
  | { t: 'sub'; ch: string; since?: StreamPosition }
  | { t: 'unsub'; ch: string }
  | { t: 'pub'; id: number; ch: string; ev: string; d?: unknown }
  | { t: 'retry' }
  /** The answer to the hub's token request `id`. */
  | { t: 'token'; id: number; token?: string | undefined; error?: WireError }
  /** This tab's store has a new token; undefined: signed out, which ends the connection for every tab. */
  | { t: 'tokens'; token: AccessToken | undefined };

export type HubMessage =
  /** A new hub, and its heartbeat in leader mode. */
  | { t: 'hub' }
  | { t: 'state'; change: ConnectionStateChange; transport: TransportKind | undefined }
  /** A channel's subscribe answer for this tab: what it missed since its position, the presence. */
  | { t: 'answer'; ch: string; result: SubscribeResult }
  | { t: 'pub'; ch: string; pub: Publication }
  | { t: 'presence'; ch: string; kind: 'join' | 'leave'; user: PresenceUser }
  /** The channel's subscription is being set up again (a reconnect): an answer follows. */
  | { t: 'lost'; ch: string }
  | { t: 'failed'; ch: string; error: WireError }
  | { t: 'error'; error: WireError }
  /** The answer to the publish `id`. */
  | { t: 'done'; id: number; error?: WireError }
  /** A token for the connection, please: fresh, or newer than `rejected`. */
  | { t: 'token'; id: number; kind: 'fresh' | 'after'; rejected?: string | undefined };

export interface FromTab {
  tab: TabId;
  m: TabMessage;
}

export interface FromHub {
  hub: number;
  to?: TabId[];
  m: HubMessage;
}

export function isFromHub(data: unknown): data is FromHub {
  return typeof data === 'object' && data !== null && typeof (data as FromHub).hub === 'number' && typeof (data as FromHub).m === 'object';
}

export function isFromTab(data: unknown): data is FromTab {
  return typeof data === 'object' && data !== null && typeof (data as FromTab).tab === 'string' && typeof (data as FromTab).m === 'object';
}

export function toWire(error: unknown): WireError {
  const { code, message, status } = (error ?? {}) as { code?: unknown; message?: unknown; status?: unknown };
  const wire: WireError = { code: typeof code === 'string' ? code : 'unknown', message: typeof message === 'string' ? message : String(error) };
  if (typeof status === 'number') wire.status = status;
  return wire;
}
