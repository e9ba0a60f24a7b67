import { CloseCode, shouldReconnect } from '../../protocol/close-codes';
import type { TransportClose } from './transport';

/**
 * What to do after a connection ended, as a pure decision over the close (docs/protocol.md,
 * "Close codes"): stop for good, or wait this long and reconnect.
 */
export type ReconnectDecision =
  | { kind: 'stop' }
  | { kind: 'retry'; delayMs: number; refreshToken: boolean };

/**
 * - 4000-4499 (auth denied, forbidden, revoked, protocol violation): stop, no retry.
 * - 1012 (service restart): the server's jittered `{"retry_ms":N}` hint, without growing the backoff.
 * - a refused handshake with `Retry-After`: at least that long.
 * - 4501 (token expired): reconnect with a refreshed token (never the rejected one).
 * - anything else: the backoff's next full-jitter delay.
 *
 * @example
 * decideReconnect({ code: 1012, reason: '{"retry_ms":800}', opened: true }, () => 500)
 * // → { kind: 'retry', delayMs: 800, refreshToken: false }
 */
export function decideReconnect(close: TransportClose, nextBackoff: () => number): ReconnectDecision {
  if (!shouldReconnect(close.code)) return { kind: 'stop' };
  const refreshToken = close.code === CloseCode.tokenExpired;
  if (close.code === CloseCode.serviceRestart) {
    const hinted = retryHint(close.reason);
    if (hinted !== undefined) return { kind: 'retry', delayMs: hinted, refreshToken };
  }
  const delayMs = nextBackoff();
  if (close.retryAfterMs !== undefined) return { kind: 'retry', delayMs: Math.max(close.retryAfterMs, delayMs), refreshToken };
  return { kind: 'retry', delayMs, refreshToken };
}

/** The `retry_ms` of a 1012 close reason (`{"retry_ms":N}`); undefined when absent or unreadable. */
export function retryHint(reason: string): number | undefined {
  try {
    const value = (JSON.parse(reason) as { retry_ms?: unknown }).retry_ms;
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.min(value, 60_000) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when getting a token failed for good (the refresh token was refused, or the user is
 * signed out): only new credentials help, so the client stops instead of retrying.
 */
export function isCredentialFailure(error: unknown): boolean {
  const { status, code } = (error ?? {}) as { status?: unknown; code?: unknown };
  return status === 401 || status === 403 || code === 'signed_out';
}
