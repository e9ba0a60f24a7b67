import type { PublicUser } from '../../src/apps/social/schemas';
import { CloseCode } from '../../src/client';
import { createClients, describeError, isSignedOut, mayHaveSession, type Clients } from './api';
import type { AppContext, Session, SessionContext, View } from './context';
import { h } from './dom';
import { installBrowserNotifications } from './browser-notifications';
import { Inbox } from './inbox';
import { OnlineUsers } from './online';
import { PeopleLive } from './people-live';
import { Router, type Match } from './router';
import { Shell } from './shell';
import { flushPendingDelete, installToasts } from './toast';
import { signInView, signUpView } from './views/auth';
import { conversationView } from './views/conversation';
import { feedView } from './views/feed';
import { conversationsView } from './views/messages';
import { notificationsView } from './views/notifications';
import { postView } from './views/post';
import { profileView } from './views/profile';
import { searchView } from './views/search';
import { userView } from './views/user';

/** The client routes; each is also a server route answering index.html (src/apps/social/web.ts). */
const ROUTES = {
  feed: '/',
  login: '/login',
  signup: '/signup',
  post: '/posts/:id',
  notifications: '/notifications',
  messages: '/messages',
  conversation: '/messages/:id',
  profile: '/profile',
  search: '/search',
  user: '/u/:username',
} as const;

const SIGNED_IN_VIEWS: Record<string, (ctx: SessionContext, params: Record<string, string>) => View> = {
  feed: feedView,
  post: postView,
  notifications: notificationsView,
  messages: conversationsView,
  conversation: conversationView,
  profile: profileView,
  search: searchView,
  user: userView,
};

/** Closes after which the session is over (not a network problem): unauthorized, forbidden, revoked. */
const SESSION_OVER = new Set<number>([CloseCode.unauthorized, CloseCode.sessionRevoked]);

type TabMessage = { type: 'signed-in'; userId: number } | { type: 'signed-out' };

/** The page: clients, session, router and the current view. */
export class App {
  readonly #clients: Clients;
  readonly #shell: Shell;
  readonly #router: Router;
  readonly #tabs: BroadcastChannel | undefined;
  #session: Session | undefined;
  #view: View | undefined;
  #notice: string | undefined;
  #rendered = false;

  constructor(root: HTMLElement) {
    this.#clients = createClients(() => this.#endSession('Your session has ended. Please sign in again.'));
    this.#shell = new Shell(root, this.#clients.realtime, () => void this.signOut());
    this.#router = new Router(ROUTES, (match, path) => this.#show(match, path));
    this.#tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('tandem-session') : undefined;
    this.#tabs?.addEventListener('message', (event: MessageEvent<TabMessage>) => this.#fromOtherTab(event.data));
    this.#clients.realtime.on('state', ({ state, code }) => {
      if (state === 'closed' && code !== undefined && SESSION_OVER.has(code)) this.#endSession('Your session has ended. Please sign in again.');
    });
  }

  /** Restores the session from the refresh cookie (if any), then shows the address bar's screen. */
  async boot(): Promise<void> {
    this.#router.start();
    installToasts();
    this.#shell.main.append(h('p', { class: 'muted', role: 'status' }, 'Loading…'));
    try {
      await this.#restore();
    } catch (error) {
      this.#shell.main.replaceChildren(h('section', { class: 'card narrow' },
        h('h1', {}, 'Tandem is not reachable'),
        h('p', { role: 'alert' }, describeError(error)),
        h('button', { type: 'button', class: 'primary', on: { click: () => location.reload() } }, 'Try again')));
      return;
    }
    this.#router.refresh();
  }

  async signOut(): Promise<void> {
    // A delete waiting for its Undo goes now, while there is a session to send it with.
    flushPendingDelete();
    // The other tabs first, and this tab's socket closed by us: the server's answer to the logout
    // is to close every socket of the session with 4009, which must not read as "session ended".
    this.#tabs?.postMessage({ type: 'signed-out' } satisfies TabMessage);
    this.#clients.realtime.disconnect();
    try {
      await this.#clients.api.logout();
    } catch {
      // Signed out here whatever the server said; the session expires on its own.
    }
    this.#endSession(undefined);
  }

  /** A refresh with the cookie: signed in if it works, signed out if refused; network errors propagate. */
  async #restore(): Promise<void> {
    let me: PublicUser;
    // No marker cookie, no session: skip the refresh that could only be refused (a 401 in the console).
    if (!mayHaveSession()) return;
    try {
      await this.#clients.api.refresh();
      me = await this.#clients.api.me();
    } catch (error) {
      if (isSignedOut(error)) return;
      throw error;
    }
    this.#startSession(me);
  }

  #startSession(me: PublicUser): void {
    this.#stopSession();
    const { api, realtime } = this.#clients;
    const session: Session = { me, inbox: new Inbox(api, realtime, me.id), online: new OnlineUsers(realtime), people: new PeopleLive(realtime) };
    this.#session = session;
    this.#notice = undefined;
    session.inbox.onChange(() => {
      this.#shell.setUnread(session.inbox.unreadCount);
      this.#shell.setUnreadMessages(session.inbox.unreadMessages);
    });
    session.online.start();
    session.people.start();
    // Your own name and picture in the header follow your edits made anywhere (another tab, device).
    session.people.onChange((user) => {
      if (user.id !== session.me.id || user.version < session.me.version) return;
      session.me = user;
      this.#shell.setUser(user);
    });
    installBrowserNotifications(session.inbox, (path) => this.#router.navigate(path));
    realtime.connect();
    void session.inbox.start();
    this.#shell.setUser(me);
  }

  #stopSession(): void {
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    this.#unmount();
    session.inbox.stop();
    session.online.stop();
    session.people.stop();
    this.#clients.realtime.disconnect();
    this.#shell.setUser(undefined);
  }

  #endSession(notice: string | undefined): void {
    if (this.#session === undefined) return;
    this.#stopSession();
    this.#notice = notice;
    this.#router.navigate('/login', { replace: true });
  }

  #fromOtherTab(message: TabMessage): void {
    if (message.type === 'signed-out') return this.#endSession('You signed out in another tab.');
    if (message.userId === this.#session?.me.id) return;
    // Signed in (maybe as someone else) in another tab: the cookie is that session's now.
    this.#restore().then(() => this.#router.refresh(), () => {});
  }

  #context(): AppContext {
    return {
      api: this.#clients.api,
      realtime: this.#clients.realtime,
      navigate: (path, options) => this.#router.navigate(path, options),
      signedIn: async (me) => {
        this.#startSession(me);
        this.#tabs?.postMessage({ type: 'signed-in', userId: me.id } satisfies TabMessage);
      },
      signOut: () => this.signOut(),
      meChanged: (me) => {
        if (this.#session === undefined) return;
        this.#session.me = me;
        this.#shell.setUser(me);
      },
    };
  }

  #show(match: Match | undefined, path: string): void {
    this.#shell.setCurrent(path);
    const ctx = this.#context();
    const session = this.#session;
    if (match?.name === 'login' || match?.name === 'signup') {
      if (session !== undefined) return this.#router.navigate('/', { replace: true });
      return this.#mount(match.name === 'login' ? signInView(ctx, this.#notice) : signUpView(ctx));
    }
    const view = match === undefined ? undefined : SIGNED_IN_VIEWS[match.name];
    if (view === undefined) return this.#mount(notFound(session !== undefined));
    if (session === undefined) return this.#router.navigate(`/login?next=${encodeURIComponent(path + location.search + location.hash)}`, { replace: true });
    this.#mount(view({ ...ctx, session }, match!.params));
  }

  #mount(view: View): void {
    this.#unmount();
    this.#view = view;
    this.#shell.main.replaceChildren(view.el);
    document.title = `${view.title} · Tandem`;
    // After the first screen, move focus to the new screen's heading so it is announced.
    if (this.#rendered) (view.el.querySelector<HTMLElement>('h1') ?? this.#shell.main).focus({ preventScroll: true });
    if (this.#rendered && location.hash === '') window.scrollTo(0, 0);
    this.#rendered = true;
  }

  #unmount(): void {
    this.#view?.dispose?.();
    this.#view = undefined;
  }
}

/**
 * The screen for an address the app does not know (the server answers these with 404 and this
 * page, src/server/http/static-site.ts); signed out, its way back is to sign in.
 */
function notFound(signedIn: boolean): View {
  return {
    title: 'Page not found',
    el: h('section', { class: 'card narrow not-found', 'data-testid': 'not-found' },
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'There is no page at ', h('code', {}, location.pathname), '. The link may be mistyped, or the page may have moved.'),
      signedIn
        ? h('p', { class: 'not-found-links' }, h('a', { href: '/', class: 'button primary' }, 'Go to the feed'), ' ', h('a', { href: '/messages' }, 'Messages'))
        : h('p', { class: 'not-found-links' }, h('a', { href: '/login', class: 'button primary' }, 'Sign in'), ' ', h('a', { href: '/signup' }, 'Create an account'))),
  };
}
