/**
 * The realtime hub: channels, subscriptions, ACL hooks, presence, history recovery.
 * Transport-agnostic: the WebSocket/SSE gateway implements `Subscriber` and calls `Hub`.
 */
export { Hub, type HubOptions, type HubStats } from './hub';
export { HubError } from './hub-error';
export type { ChannelPolicy, ClientEventSpec } from './policies';
export type { PresenceChange, PresenceExchange } from './presence-union';
export type { HubUser, Subscriber } from './subscription';
