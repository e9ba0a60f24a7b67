/**
 * Close codes of a realtime connection (WebSocket close frames, and the SSE fallback's `close`
 * events). 4000-4499: the client must not reconnect on its own (it needs new credentials or a
 * code change). 4500-4999 and 1012: reconnect with backoff and jitter, and recover from the last
 * positions. The one source of these numbers: the server, the client and docs/protocol.md's table.
 */
export const CloseCode = {
  normal: 1000,
  /** Sent by a WebSocket implementation that received a frame breaking RFC 6455; never by Tandem itself. */
  protocolError: 1002,
  /** Never sent: reported when a close frame carried no code. */
  noStatus: 1005,
  /** Never sent: how an end without a close frame is reported (a dead peer, a local abort). */
  abnormal: 1006,
  invalidPayload: 1007,
  messageTooBig: 1009,
  serviceRestart: 1012,
  /** Never sent: reported when the TLS handshake failed. */
  tlsFailure: 1015,
  unauthorized: 4001,
  sessionRevoked: 4009,
  protocolViolation: 4010,
  slowConsumer: 4500,
  tokenExpired: 4501,
  authTimeout: 4502,
  rateLimited: 4503,
  interrupted: 4504,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** What each code means and what a client does about it (rendered into docs/protocol.md). */
export const closeCodeGuide: Record<CloseCodeValue, { meaning: string; reconnect: string }> = {
  [CloseCode.normal]: { meaning: 'normal (the client ended it, or `client_close` after a DELETE of an SSE stream)', reconnect: "client's choice" },
  [CloseCode.protocolError]: { meaning: 'protocol error, sent by a WebSocket implementation (not by Tandem) on a frame that breaks RFC 6455', reconnect: 'yes, with backoff' },
  [CloseCode.noStatus]: { meaning: 'never sent: a close frame without a code', reconnect: 'yes, with backoff' },
  [CloseCode.abnormal]: { meaning: 'never sent: the connection ended without a close frame (a dead peer, a heartbeat timeout)', reconnect: 'yes, with backoff, and recover' },
  [CloseCode.invalidPayload]: { meaning: 'invalid frame payload (text that is not UTF-8), sent by the WebSocket layer', reconnect: 'yes, after fixing the frame' },
  [CloseCode.messageTooBig]: { meaning: 'message too big (over the payload limit), sent by the WebSocket layer', reconnect: 'yes, after fixing the frame' },
  [CloseCode.serviceRestart]: { meaning: 'service restart (drain); the reason is `{"retry_ms":N}`, a jittered delay to wait first', reconnect: 'yes, after `retry_ms`' },
  [CloseCode.unauthorized]: { meaning: 'unauthorized (invalid token)', reconnect: '**no** (get new credentials)' },
  [CloseCode.sessionRevoked]: { meaning: 'session revoked (logout, refresh token reuse)', reconnect: '**no**' },
  [CloseCode.protocolViolation]: { meaning: 'protocol violation (too many invalid frames)', reconnect: '**no**' },
  [CloseCode.slowConsumer]: { meaning: 'slow consumer (outbound cap reached by a durable frame)', reconnect: 'yes, and recover' },
  [CloseCode.tokenExpired]: { meaning: 'token expired (and not refreshed within the grace period)', reconnect: 'yes, after refreshing the token' },
  [CloseCode.authTimeout]: { meaning: 'auth timeout (no `auth` frame in time)', reconnect: 'yes' },
  [CloseCode.rateLimited]: { meaning: 'rate limited (flooding, or too many connections for the user)', reconnect: 'yes, with backoff' },
  [CloseCode.interrupted]: { meaning: 'realtime interrupted: the node lost its link to the other nodes (Redis) and publications may have been missed', reconnect: 'yes, with backoff, and recover' },
  [CloseCode.tlsFailure]: { meaning: 'never sent: the TLS handshake failed', reconnect: 'yes, with backoff' },
};

/** True when a client should reconnect after this close code. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4000 && code < 4500) return false;
  return true;
}
