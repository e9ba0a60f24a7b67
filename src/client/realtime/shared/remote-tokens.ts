import { TandemClientError } from '../../errors';
import type { AccessToken, TokenListener } from '../../token-store';
import type { Timers } from '../platform';
import type { HubMessage, TabId, WireError } from './protocol';

interface Pending {
  kind: 'fresh' | 'after';
  rejected: string | undefined;
  /** Tabs not asked yet, the next one first. */
  untried: TabId[];
  asked: TabId | undefined;
  timer: unknown;
  resolve(token: string | undefined): void;
  reject(error: unknown): void;
}

/**
 * The hub's token store: it has none of its own (a SharedWorker has no cookie jar worth the name,
 * and every tab already holds the session), so it asks a tab, whose TokenStore refreshes in turn
 * with the other tabs' under the refresh lock. The most recently attached tab is asked first; one
 * that does not answer within `timeoutMs` (frozen, closing) is skipped for the next.
 */
export class RemoteTokens {
  readonly #send: (tab: TabId, message: HubMessage) => void;
  readonly #tabs: () => TabId[];
  readonly #timers: Timers;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<{ listener: TokenListener }>();
  #nextId = 0;

  constructor(options: { send(tab: TabId, message: HubMessage): void; tabs(): TabId[]; timers: Timers; timeoutMs: number }) {
    this.#send = options.send;
    this.#tabs = options.tabs;
    this.#timers = options.timers;
    this.#timeoutMs = options.timeoutMs;
  }

  getFresh(): Promise<string | undefined> {
    return this.#ask('fresh', undefined);
  }

  async refreshAfterRejection(rejected: string | undefined): Promise<string> {
    const token = await this.#ask('after', rejected);
    if (token === undefined) throw new TandemClientError('signed_out', 'No token, and no way to refresh one');
    return token;
  }

  onChange(listener: TokenListener): () => void {
    const entry = { listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** A tab's store changed token (a REST refresh): the connection hands it to the server. */
  changed(token: AccessToken | undefined): void {
    for (const { listener } of [...this.#listeners]) listener(token);
  }

  answered(tab: TabId, id: number, token: string | undefined, error: WireError | undefined): void {
    const pending = this.#pending.get(id);
    if (pending === undefined || pending.asked !== tab) return;
    this.#settle(id, pending);
    if (error === undefined) return pending.resolve(token);
    pending.reject(new TandemClientError(error.code, error.message, error.status === undefined ? {} : { status: error.status }));
  }

  /** A tab left: what it was asked goes to the next tab. */
  forget(tab: TabId): void {
    for (const [id, pending] of this.#pending) if (pending.asked === tab) this.#next(id, pending);
  }

  #ask(kind: 'fresh' | 'after', rejected: string | undefined): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId;
      const pending: Pending = { kind, rejected, untried: [...this.#tabs()].reverse(), asked: undefined, timer: undefined, resolve, reject };
      this.#pending.set(id, pending);
      this.#next(id, pending);
    });
  }

  #next(id: number, pending: Pending): void {
    if (pending.timer !== undefined) this.#timers.clearTimeout(pending.timer);
    const tab = pending.untried.shift();
    pending.asked = tab;
    if (tab === undefined) {
      this.#pending.delete(id);
      // Not a credential failure: the connection retries with backoff (and there is no tab to serve anyway).
      return pending.reject(new TandemClientError('network_error', 'No tab answered the token request'));
    }
    pending.timer = this.#timers.setTimeout(() => this.#next(id, pending), this.#timeoutMs);
    this.#send(tab, { t: 'token', id, kind: pending.kind, rejected: pending.rejected });
  }

  #settle(id: number, pending: Pending): void {
    if (pending.timer !== undefined) this.#timers.clearTimeout(pending.timer);
    this.#pending.delete(id);
  }
}
