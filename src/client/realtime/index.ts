export { RealtimeClient } from './realtime-client';
export { type ConnectionStateChange, type RealtimeClientEvents, type RealtimeClientOptions } from './options';
export { RealtimeError } from './realtime-error';
export { type MessageHandler, type RealtimeMessage, type Resync, type Subscription, type SubscriptionEvents } from './subscription';
export { connectionTransitions, StateMachine, subscriptionTransitions, type ConnectionState, type StateChange, type SubscriptionState, type TransitionDetail } from './state';
export { type ChannelPresence } from './presence';
export { type FetchLike, type NetworkEvents, type PlatformOptions, type StorageLike, type WebSocketConstructor, type WebSocketLike } from './platform';
export { type TransportKind } from './transport';
export { type FallbackOptions } from './transport-choice';
