import type { SocialClient } from '../../src/apps/social/client';
import type { PublicUser } from '../../src/apps/social/schemas';
import type { RealtimeClient } from '../../src/client';
import type { Inbox } from './inbox';
import type { OnlineUsers } from './online';
import type { PeopleLive } from './people-live';

/** What exists while someone is signed in. */
export interface Session {
  me: PublicUser;
  inbox: Inbox;
  online: OnlineUsers;
  /** Profile edits, live (the `people` channel). */
  people: PeopleLive;
}

/** What every view gets. */
export interface AppContext {
  api: SocialClient;
  realtime: RealtimeClient;
  navigate(path: string, options?: { replace?: boolean }): void;
  /** Starts the session after a login or registration (tokens are already in the store). */
  signedIn(me: PublicUser): Promise<void>;
  signOut(): Promise<void>;
  /** The profile changed (the header shows the name). */
  meChanged(me: PublicUser): void;
}

/** What views of a signed-in user get. */
export interface SessionContext extends AppContext {
  session: Session;
}

/** A screen: its element, its title, and what to release when leaving it (subscriptions, timers). */
export interface View {
  title: string;
  el: HTMLElement;
  dispose?(): void;
}
