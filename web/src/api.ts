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
  username_taken: 'That username is taken. Try another one.',
  login_rate_limited: 'Too many sign-in attempts.',
  rate_limited: 'Too many requests.',
  network_error: 'Cannot reach the server. Check your connection.',
  timeout: 'The server took too long to answer.',
  not_found: 'Not found. It may have been deleted.',
  forbidden: 'You may not do that.',
  payload_too_large: 'That is too long.',
  unavailable: 'The server is busy. Try again in a moment.',
  not_connected: 'Not connected right now.',
  precondition_failed: 'Someone changed this meanwhile. Reload to see the newer version.',
  current_password_wrong: 'That is not your current password.',
  idempotency_key_reused: 'That was already sent with different text. Send it again.',
};

/** How each field is named in a sentence ("Your display name can't be empty."). */
const FIELD_NAMES: Record<string, string> = {
  username: 'The username',
  password: 'The password',
  displayName: 'Your display name',
  bio: 'Your bio',
  body: 'The text',
  members: 'The list of people',
  parentId: 'The comment you reply to',
};

/** One validation problem the server named, with a sentence for a person. */
export interface FieldMessage {
  /** The field as the form names its control: 'displayName', 'members' ('body.members.0' → 'members'). */
  name: string;
  sentence: string;
}

const count = new Intl.NumberFormat();

/** A sentence for one of the server's field errors, from the field, the failed keyword and its limit. */
function sentenceFor(error: { field: string; message: string; keyword?: string; limit?: number }): FieldMessage {
  const path = error.field.replace(/^(body|query|params)\./, '').split('.');
  const name = path[0] ?? '';
  const subject = FIELD_NAMES[name] ?? 'This field';
  const unknownUser = /^no user named (.+)$/.exec(error.message);
  if (unknownUser !== null) return { name, sentence: `There is no one called ${unknownUser[1]}.` };
  if (name === 'members' && /another user/.test(error.message)) return { name, sentence: 'Name someone besides yourself.' };
  const blank = error.keyword === 'pattern' && name !== 'username' || (error.keyword === 'minLength' && error.limit === 1);
  if (blank) return { name, sentence: name === 'body' ? 'Write something first.' : `${subject} can't be empty.` };
  switch (error.keyword) {
    case 'maxLength':
      return { name, sentence: `${subject} is too long: at most ${count.format(error.limit ?? 0)} characters.` };
    case 'minLength':
      return { name, sentence: `${subject} needs at least ${count.format(error.limit ?? 1)} characters.` };
    case 'pattern':
      return { name, sentence: 'A username is 3 to 24 letters, digits or _ (no spaces).' };
    case 'required':
      return { name, sentence: `${subject} is missing.` };
    case 'minItems':
      return { name, sentence: name === 'members' ? 'Name at least one person.' : `${subject} is empty.` };
    case 'maxItems':
      return { name, sentence: name === 'members' ? `That is too many people: at most ${error.limit ?? 0}.` : `${subject} has too many entries.` };
    default:
      return { name, sentence: `${subject} is not valid.` };
  }
}

/** Refusals about one field that come as their own code rather than as a validation error. */
const CODE_FIELDS: Record<string, string> = {
  username_taken: 'username',
  current_password_wrong: 'currentPassword',
};

/** The per-field sentences of a validation error, or of a refusal that concerns one field (none for any other error). */
export function fieldMessages(error: unknown): FieldMessage[] {
  if (!(error instanceof TandemClientError)) return [];
  const field = CODE_FIELDS[error.code];
  if (field !== undefined) return [{ name: field, sentence: describeError(error) }];
  if (error.code !== 'validation_failed') return [];
  return (error.problem?.errors ?? []).map(sentenceFor);
}

/** A sentence for a person, from any error the SDK throws. */
export function describeError(error: unknown): string {
  if (error instanceof TandemClientError || error instanceof RealtimeError) {
    const known = MESSAGES[error.code];
    if (known !== undefined) {
      const wait = error instanceof TandemClientError && error.retryAfterMs !== undefined ? ` Try again in ${Math.ceil(error.retryAfterMs / 1000)} s.` : '';
      return known + wait;
    }
    if (error instanceof TandemClientError && error.code === 'validation_failed') {
      const sentences = [...new Set(fieldMessages(error).map((m) => m.sentence))];
      return sentences.length > 0 ? sentences.join(' ') : 'Please check what you entered.';
    }
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Whether trying the same request again may work (the network, a busy server), as opposed to a refusal. */
export function isRetryable(error: unknown): boolean {
  return error instanceof TandemClientError && ['network_error', 'timeout', 'unavailable', 'rate_limited'].includes(error.code);
}

/**
 * Whether this browser may have a session to restore: the server sets the readable
 * `tandem_session` marker next to the httpOnly refresh cookie and clears both together. Without
 * it a refresh could only be refused, and the browser would log that 401 on every signed-out load.
 */
export function mayHaveSession(): boolean {
  return document.cookie.split(';').some((c) => c.trim() === 'tandem_session=1');
}

/** Whether the error means "signed out" (no session to restore), as opposed to a failure worth retrying. */
export function isSignedOut(error: unknown): boolean {
  return error instanceof TandemClientError && (error.status === 401 || error.code === 'signed_out');
}
