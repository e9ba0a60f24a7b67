import { CloseCode } from './close-codes';

/** One error: its HTTP status, a title for people, and the close code when it ends a connection. */
export interface ErrorSpec {
  status: number;
  title: string;
  close?: number;
}

/**
 * The library's error catalog: every error Tandem itself reports, over REST (problem+json) or
 * over the realtime connection (`err` frames, close codes), has a stable string code here. Codes
 * are never reused or renamed. An app adds its own codes with `defineErrors` (tandem/server);
 * docs/errors.md is generated from both. No imports but the close codes: the client bundles it.
 */
export const libraryErrors = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  invalid_cursor: { status: 400, title: 'The pagination cursor is not valid' },
  invalid_idempotency_key: { status: 400, title: 'The Idempotency-Key header is not valid' },
  unauthenticated: { status: 401, title: 'Authentication is required' },
  invalid_credentials: { status: 401, title: 'The username or password is wrong' },
  token_invalid: { status: 401, title: 'The access token is not valid', close: CloseCode.unauthorized },
  token_expired: { status: 401, title: 'The access token has expired', close: CloseCode.tokenExpired },
  session_revoked: { status: 401, title: 'The session has been revoked', close: CloseCode.sessionRevoked },
  refresh_token_invalid: { status: 401, title: 'The refresh token is not valid' },
  refresh_token_reused: { status: 401, title: 'The refresh token was already used; the session is revoked' },
  forbidden: { status: 403, title: 'You may not do this' },
  current_password_wrong: { status: 403, title: 'The current password is wrong' },
  not_found: { status: 404, title: 'Not found' },
  username_taken: { status: 409, title: 'The username is taken' },
  idempotency_in_progress: { status: 409, title: 'A request with this Idempotency-Key is still in progress' },
  precondition_failed: { status: 412, title: 'The resource has changed (If-Match does not match)' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request content type is not supported' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key was used with a different request' },
  rate_limited: { status: 429, title: 'Too many requests' },
  login_rate_limited: { status: 429, title: 'Too many login attempts' },
  internal_error: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'The service is unavailable' },
  // Realtime. `status` is the HTTP status of a refused handshake or the nearest equivalent.
  origin_forbidden: { status: 403, title: 'This Origin may not open a realtime connection' },
  unsupported_subprotocol: { status: 400, title: 'Use the tandem.v1 subprotocol' },
  too_many_connections: { status: 429, title: 'Too many concurrent connections', close: CloseCode.rateLimited },
  handshake_rate_limited: { status: 429, title: 'Too many new connections from this address' },
  server_busy: { status: 503, title: 'The server is taking no new connections right now' },
  not_acceptable: { status: 406, title: 'Ask for text/event-stream (Accept) to open an event stream' },
  stream_lost: { status: 410, title: 'The event stream is gone or cannot be resumed without a gap: open a new one' },
  auth_timeout: { status: 401, title: 'No authentication within the time allowed', close: CloseCode.authTimeout },
  not_authenticated: { status: 401, title: 'Authenticate first' },
  already_authenticated: { status: 409, title: 'The connection is already authenticated' },
  malformed_frame: { status: 400, title: 'The frame is not one JSON object' },
  invalid_frame: { status: 400, title: 'The frame does not match the protocol' },
  protocol_violation: { status: 400, title: 'Too many invalid frames', close: CloseCode.protocolViolation },
  message_rate_limited: { status: 429, title: 'Too many messages; slow down', close: CloseCode.rateLimited },
  unknown_channel: { status: 404, title: 'No such channel' },
  already_subscribed: { status: 409, title: 'Already subscribed to this channel' },
  not_subscribed: { status: 409, title: 'Not subscribed to this channel' },
  too_many_subscriptions: { status: 429, title: 'Too many subscriptions on this connection' },
  publish_forbidden: { status: 403, title: 'Clients may not publish this event here' },
  invalid_payload: { status: 400, title: 'The event data is not valid' },
  slow_consumer: { status: 503, title: 'The connection could not keep up', close: CloseCode.slowConsumer },
} as const satisfies Record<string, ErrorSpec>;

export type LibraryErrorCode = keyof typeof libraryErrors;

/** The library's codes that end a connection, with the close code they end it with. */
export type ClosingErrorCode = { [C in LibraryErrorCode]: (typeof libraryErrors)[C] extends { close: number } ? C : never }[LibraryErrorCode];
