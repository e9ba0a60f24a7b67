import type { RealtimeClient, Subscription } from '../../src/client';
import { Listeners } from './listeners';

/**
 * Who is online: the presence of the `online` channel, which every signed-in page joins. A user
 * with three tabs is one user; one who closes their last tab stays online for the server's grace
 * period, so a reload does not flap.
 */
export class OnlineUsers {
  #ids = new Set<number>();
  #subscription: Subscription | undefined;
  readonly #realtime: RealtimeClient;
  readonly #listeners = new Listeners();

  constructor(realtime: RealtimeClient) {
    this.#realtime = realtime;
  }

  start(): void {
    const subscription = this.#realtime.subscribe('online', () => {});
    this.#subscription = subscription;
    subscription.on('presence', ({ users }) => {
      this.#ids = new Set((users ?? []).map((u) => u.id));
      this.#listeners.emit();
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
    this.#listeners.clear();
  }

  isOnline(userId: number): boolean {
    return this.#ids.has(userId);
  }

  onChange(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }
}
