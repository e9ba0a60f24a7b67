import type { StreamPosition } from '../../protocol/frames';
import type { RealtimeClientEvents } from './options';
import type { ConnectionState } from './state';
import type { MessageHandler, Subscription } from './subscription';
import type { TransportKind } from './transport';

/**
 * How this page reaches the server. 'none': a connection of its own. 'worker': through the
 * SharedWorker that holds the browser's one connection. 'leader': this tab holds it for the
 * others. 'follower': through the tab that leads.
 */
export type SharingRole = 'none' | 'worker' | 'leader' | 'follower';

/**
 * What a RealtimeClient runs: its own Connection, or a SharedConnection that reaches the one
 * connection of the browser through a hub. The page sees the same surface either way.
 */
export interface RealtimeEngine {
  readonly state: ConnectionState;
  readonly transport: TransportKind | undefined;
  readonly sharing: SharingRole;
  on<K extends keyof RealtimeClientEvents>(event: K, listener: RealtimeClientEvents[K]): () => void;
  connect(): void;
  retryNow(): void;
  disconnect(): void;
  subscribe(channel: string, handler: MessageHandler, options?: { since?: StreamPosition }): Subscription;
  subscription(channel: string): Subscription | undefined;
  publish(channel: string, event: string, data?: unknown): Promise<void>;
}
