import { SocialClient } from '../../src/apps/social/client';
import { RealtimeClient, RealtimeError, TandemClientError, TokenStore } from '../../src/client';

/**
 * Refresh tokens work once, and every tab of this browser presents the same httpOnly cookie: two
 * tabs refreshing at the same moment would send one token twice, and the server would take the
 * second use for theft and revoke the session. So tabs take turns through a Web Lock; the second
 * one's request goes after the first has stored the rotated cookie, and sends that one.
 */
function inRefreshLock<T>(run: () => Promise<T>): Promise<T> {
  // Web Locks exist only in secure contexts (https, localhost); elsewhere a tab refreshes alone.
  const locks: LockManager | undefined = navigator.locks;
  if (locks === undefined) return run();
  return locks.request('tandem-refresh', () => run());
}

export interface Clients {
  api: SocialClient;
  realtime: RealtimeClient;
}

/**
 * The page's REST and realtime clients. The access token lives in memory only (the TokenStore);
 * the refresh token only in the httpOnly cookie, so a reload restores the session with `refresh()`.
 * Every tab shares one realtime connection: the SharedWorker's, or where there is none (Safari
 * before 16, Chrome on Android for most of its history) the leader tab's.
 */
export function createClients(onAuthFailure: (error: TandemClientError) => void): Clients {
  // The REST client's cookie refresh runs inside the cross-tab lock.
  const tokens = new TokenStore({ refreshLock: inRefreshLock });
  const api = new SocialClient({ baseUrl: location.origin, credentials: 'include', tokens, onAuthFailure });
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const realtime = new RealtimeClient({ url: `${scheme}//${location.host}/realtime`, tokens: api.tokens, share: { worker: realtimeWorker } });
  return { api, realtime };
}

/** The worker that holds the connection, where the browser has SharedWorker (the pattern Vite bundles as a worker). */
function realtimeWorker(): SharedWorker | undefined {
  if (typeof SharedWorker !== 'function') return undefined;
  try {
    return new SharedWorker(new URL('./realtime-worker.ts', import.meta.url), { type: 'module', name: 'tandem-realtime' });
  } catch {
    return undefined; // refused (a sandboxed frame, a policy): the tabs elect a leader instead
  }
}

const MESSAGES: Record<string, string> = {
  invalid_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken.',
  login_rate_limited: 'Too many sign-in attempts.',
  rate_limited: 'Too many requests.',
  network_error: 'Cannot reach the server. Check your connection.',
  timeout: 'The server took too long to answer.',
  not_found: 'Not found. It may have been deleted.',
  forbidden: 'You may not do that.',
  payload_too_large: 'That is too long.',
  unavailable: 'The server is busy. Try again in a moment.',
  not_connected: 'Not connected right now.',
};

/** A sentence for a person, from any error the SDK throws. */
export function describeError(error: unknown): string {
  if (error instanceof TandemClientError || error instanceof RealtimeError) {
    const known = MESSAGES[error.code];
    if (known !== undefined) {
      const wait = error instanceof TandemClientError && error.retryAfterMs !== undefined ? ` Try again in ${Math.ceil(error.retryAfterMs / 1000)} s.` : '';
      return known + wait;
    }
    if (error instanceof TandemClientError && error.code === 'validation_failed') {
      const fields = error.problem?.errors?.map((e) => `${e.field.replace(/^body\./, '')} ${e.message}`) ?? [];
      return fields.length > 0 ? `Please check: ${fields.join('; ')}.` : 'Please check what you entered.';
    }
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Whether the error means "signed out" (no session to restore), as opposed to a failure worth retrying. */
export function isSignedOut(error: unknown): boolean {
  return error instanceof TandemClientError && (error.status === 401 || error.code === 'signed_out');
}
