import type { PublicUser } from '../../src/apps/social/schemas';
import type { RealtimeClient, Subscription } from '../../src/client';
import { Listeners } from './listeners';
import { forgetPeople, redrawPerson, rememberPerson } from './people';

/**
 * Profile edits, live: the `people` channel, which every signed-in page joins once. Each
 * `profile.updated` is remembered (cards drawn later use the new name and picture) and redrawn
 * wherever the person is on screen (elements marked `data-user-id`); listeners (the profile page
 * on view, the header for your own name) hear it too.
 */
export class PeopleLive {
  #subscription: Subscription | undefined;
  readonly #realtime: RealtimeClient;
  readonly #listeners = new Listeners<[user: PublicUser]>();
  /** The newest profile heard of, per user: a copy a cache kept for a few seconds may be older. */
  readonly #profiles = new Map<number, PublicUser>();

  constructor(realtime: RealtimeClient) {
    this.#realtime = realtime;
  }

  start(): void {
    this.#subscription = this.#realtime.subscribe('people', (message) => {
      if (message.event !== 'profile.updated') return;
      const user = message.data as PublicUser;
      this.#profiles.set(user.id, this.newest(user));
      rememberPerson(user);
      redrawPerson(document, user);
      this.#listeners.emit(user);
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#listeners.clear();
    this.#profiles.clear();
    forgetPeople();
  }

  /** `user`, or the newer version of them this page heard of live (a public profile may come from a cache a few seconds old). */
  newest(user: PublicUser): PublicUser {
    const heard = this.#profiles.get(user.id);
    return heard !== undefined && heard.version > user.version ? heard : user;
  }

  /** Called with every profile edit; returns an unsubscribe. */
  onChange(listener: (user: PublicUser) => void): () => void {
    return this.#listeners.add(listener);
  }
}
