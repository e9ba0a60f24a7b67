/**
 * The realtime hub: channels, subscriptions, ACL hooks, presence, history recovery.
 * Transport-agnostic: the WebSocket/SSE gateway implements `Subscriber` and calls `Hub`.
 */
export { Hub, type HubOptions, type HubStats, type SubscribeOptions } from './hub';
export { HubError, type HubErrorCode } from './hub-error';
export type { ChannelPolicy, ClientEventSpec } from './policies';
export type { HubUser, Subscriber, SubscriptionState } from './subscription';
export type { SetTimer, ClearTimer } from './presence-tracker';
