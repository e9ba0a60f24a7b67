/**
 * WebSocket close codes. 4000-4499: the client must not reconnect on its own (it needs new
 * credentials or a code change). 4500-4999 and 1012: reconnect (with backoff and jitter) and
 * recover from the last positions.
 */
export const CloseCode = {
  normal: 1000,
  messageTooBig: 1009,
  internalError: 1011,
  serviceRestart: 1012,
  unauthorized: 4001,
  forbidden: 4003,
  sessionRevoked: 4009,
  protocolViolation: 4010,
  slowConsumer: 4500,
  tokenExpired: 4501,
  authTimeout: 4502,
  rateLimited: 4503,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** True when a client should reconnect after this close code. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4000 && code < 4500) return false;
  return true;
}
