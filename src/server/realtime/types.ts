import type { Hub } from '../hub';

export type { Subscriber } from '../hub';

/** What the gateway needs from the hub. */
export type HubPort = Pick<Hub, 'subscribe' | 'unsubscribe' | 'publishEphemeral' | 'removeSubscriber' | 'stats'>;

/** Limits of the realtime gateway; every one is something an attacker would otherwise control. */
export interface RealtimeLimits {
  /** Largest inbound frame, bytes (ws closes with 1009 above it). */
  maxPayloadBytes: number;
  /** Time allowed between the upgrade and a successful auth frame. */
  authTimeoutMs: number;
  /** Token bucket per connection: sustained messages per second and burst. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Invalid frames tolerated before the connection is closed with 4010. */
  maxInvalidFrames: number;
  /** Outbound bytes queued (ours + the socket's) before ephemeral frames drop and durable ones close the socket. */
  outboundBufferBytes: number;
  /** Seconds before token expiry at which the server sends an `exp` warning. */
  expiryWarningSeconds: number;
  /** After expiry, how long a connection may stay (to refresh) before it is closed with 4501. */
  expiredGraceMs: number;
  /** Concurrent connections per IP and per user; handshakes per IP per second (burst = 2×); new connections per second node-wide. */
  maxConnectionsPerIp: number;
  maxConnectionsPerUser: number;
  handshakesPerIpPerSecond: number;
  newConnectionsPerSecond: number;
  /** Ping interval; a peer that has not answered for two intervals is terminated. */
  heartbeatIntervalMs: number;
  /** SSE fallback: bytes of written events a stream keeps for a `Last-Event-ID` resume. */
  sseReplayBytes: number;
  /** SSE fallback: how long a stream whose response ended stays subscribed, waiting for a resume. */
  sseResumeGraceMs: number;
}

export const defaultRealtimeLimits: RealtimeLimits = {
  maxPayloadBytes: 64 * 1024,
  authTimeoutMs: 5_000,
  messagesPerSecond: 20,
  messageBurst: 40,
  maxInvalidFrames: 10,
  outboundBufferBytes: 1024 * 1024,
  expiryWarningSeconds: 60,
  expiredGraceMs: 5_000,
  maxConnectionsPerIp: 50,
  maxConnectionsPerUser: 10,
  handshakesPerIpPerSecond: 10,
  newConnectionsPerSecond: 1_000,
  heartbeatIntervalMs: 25_000,
  sseReplayBytes: 64 * 1024,
  sseResumeGraceMs: 10_000,
};
