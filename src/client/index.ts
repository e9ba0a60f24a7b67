/**
 * tandem/client: the generic HTTP core (RestClient), the realtime client and what they share.
 * No runtime dependencies and no app in here: an app's typed client extends RestClient
 * (the social app's is src/apps/social/client.ts).
 */
export { Backoff, type BackoffOptions } from './backoff';
export { TandemClientError, type ClientErrorCode, type Problem, type TandemClientErrorInit } from './errors';
export { TokenStore, type AccessToken, type Refresher, type TokenListener, type TokenStoreOptions } from './token-store';
export { type ApiResponse, type AuthMode, type ChannelRead, type RequestSpec, type RetryOptions, type Timers } from './http';
export { RestClient, type CallOptions, type CreateOptions, type ListOptions, type ListResult, type PageOptions, type RegisterInput, type RestClientOptions, type Session, type WriteOptions } from './rest-client';
export { RealtimeClient, RealtimeError, serveRealtimeWorker, type BroadcastChannelConstructor, type BroadcastChannelLike, type LifecycleEvents, type LockManagerLike, type MessagePortLike, type SharedWorkerLike, type SharedWorkerScopeLike, type ShareOptions, type SharingRole, type WorkerOptions, type ChannelPresence, type ConnectionState, type ConnectionStateChange, type FallbackOptions, type FetchLike, type Follow, type FollowOptions, type FollowState, type MessageHandler, type NetworkEvents, type PlatformOptions, type RealtimeClientEvents, type RealtimeClientOptions, type RealtimeMessage, type Snapshot, type StateChange, type StorageLike, type Subscription, type SubscriptionEvents, type SubscriptionState, type TransitionDetail, type TransportKind, type WebSocketConstructor, type WebSocketLike } from './realtime/index';
export { CloseCode } from '../protocol/close-codes';
export type { PresenceUser, RecoveryFailure, StreamPosition } from '../protocol/frames';
