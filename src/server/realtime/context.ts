import type { Logger } from 'pino';
import type { AccessClaims } from '../auth/tokens';
import type { ClosingErrorCode } from '../errors';
import type { Connection } from './connection';
import type { FlushScheduler } from './flush-scheduler';
import type { RealtimeMetrics } from './metrics';
import type { StateChange } from './state';
import type { HubPort, RealtimeLimits } from './types';

export type TokenVerdict = { ok: true; claims: AccessClaims; name: string } | { ok: false; code: ClosingErrorCode };

/** What a connection needs from its gateway; one object shared by every connection. */
export interface ConnectionContext {
  hub: HubPort;
  limits: RealtimeLimits;
  scheduler: FlushScheduler;
  metrics: RealtimeMetrics;
  log: Pick<Logger, 'error' | 'warn' | 'info' | 'debug'>;
  clock: () => number;
  /**
   * A clock reading taken when the context was made. Connections keep their times relative to it:
   * small integers are stored inline, where a full epoch-milliseconds value would be a separate
   * heap number per field per connection.
   */
  epoch: number;
  /** Verifies an access token: signature, expiry, session not revoked; resolves the user's name. */
  verify(token: string): Promise<TokenVerdict>;
  /**
   * Counts an authenticated connection against its user's cap (cluster-wide when the gateway has
   * connection slots); false when the user is at the cap. A connection that closed while this
   * was pending gives the slot back with releaseUser.
   */
  admitUser(connection: Connection, userId: number): Promise<boolean>;
  releaseUser(connection: Connection, userId: number): void;
  /** A refresh may carry a token of a new session (after a REST re-login). */
  rebindSession(connection: Connection, sessionId: string): void;
  onStateChange(connection: Connection, change: StateChange): void;
}
