export { Backoff, backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
export { TandemClientError, parseRetryAfter, type ClientErrorCode, type Problem, type TandemClientErrorInit } from './errors';
export { TokenStore, type AccessToken, type Refresher, type TokenListener, type TokenStoreOptions } from './token-store';
export { EtagCache, type CachedResponse, type EtagCacheOptions } from './etag-cache';
export { positionOf, type ApiResponse, type AuthMode, type ChannelPosition, type RequestSpec, type RetryOptions, type Timers } from './http';
export { RestClient, type CallOptions, type CreateOptions, type ListResult, type PageOptions, type PresenceSnapshot, type RestClientOptions, type Session, type WriteOptions } from './rest-client';
export { RealtimeClient, RealtimeError, StateMachine, connectionTransitions, subscriptionTransitions, type ChannelPresence, type ConnectionState, type ConnectionStateChange, type MessageHandler, type NetworkEvents, type PlatformOptions, type RealtimeClientEvents, type RealtimeClientOptions, type RealtimeMessage, type Resync, type StateChange, type Subscription, type SubscriptionEvents, type SubscriptionState, type TransitionDetail, type WebSocketConstructor, type WebSocketLike, type FetchLike, type StorageLike, type TransportKind, type FallbackOptions } from './realtime/index';
