import type { PublicUser } from '../../src/apps/social/schemas';
import type { RealtimeClient } from '../../src/client';
import { connectionIndicator } from './connection';
import { h, icon, icons, installAnnouncer, replace } from './dom';
import { topbarSearch } from './views/search';

/**
 * The frame around every screen: the top bar (navigation, the notification bell, the connection
 * indicator, sign out), the main region and a footer with the API's own pages.
 */
export class Shell {
  readonly main = h('main', { id: 'main', tabindex: '-1' });
  readonly #nav = h('nav', { 'aria-label': 'Main', class: 'nav', hidden: true });
  readonly #bellCount = h('span', { class: 'badge', 'aria-hidden': 'true', 'data-testid': 'bell-count', hidden: true });
  readonly #bell = h('a', { href: '/notifications', class: 'nav-link bell', 'data-nav': '/notifications', 'aria-label': 'Notifications' }, icon(icons.bell), this.#bellCount);
  readonly #messagesCount = h('span', { class: 'badge', 'aria-hidden': 'true', 'data-testid': 'messages-count', hidden: true });
  readonly #messagesUnread = h('span', { id: 'messages-unread', class: 'visually-hidden' });
  readonly #profile = h('a', { href: '/profile', class: 'nav-link', 'data-nav': '/profile' }, icon(icons.user), h('span', { class: 'label' }));
  readonly #connection: HTMLElement;

  constructor(root: HTMLElement, realtime: RealtimeClient, onSignOut: () => void) {
    const connection = connectionIndicator(realtime);
    this.#connection = connection.el;
    this.#connection.hidden = true;
    const signOut = h('button', { type: 'button', class: 'nav-link sign-out', on: { click: onSignOut } }, 'Sign out');
    replace(this.#nav, h('ul', {},
      h('li', { class: 'nav-search' }, topbarSearch()),
      h('li', {}, h('a', { href: '/', class: 'nav-link', 'data-nav': '/' }, icon(icons.feed), h('span', { class: 'label' }, 'Feed'))),
      h('li', {}, h('a', { href: '/messages', class: 'nav-link messages-link', 'data-nav': '/messages', 'aria-describedby': 'messages-unread' },
        icon(icons.message), h('span', { class: 'label' }, 'Messages'), this.#messagesCount), this.#messagesUnread),
      h('li', {}, this.#bell),
      h('li', {}, this.#profile),
      h('li', {}, signOut)));
    const header = h('header', { class: 'topbar' },
      h('div', { class: 'topbar-inner' },
        h('a', { href: '/', class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Tandem'),
        this.#connection,
        this.#nav));
    const footer = h('footer', { class: 'footer' },
      h('p', {}, 'Tandem: REST owns state, the realtime channel owns change.'),
      h('p', {}, 'API: ',
        h('a', { href: '/api/docs' }, 'docs'), ' · ',
        h('a', { href: '/api/openapi.json' }, 'OpenAPI'), ' · ',
        h('a', { href: '/api/asyncapi.json' }, 'AsyncAPI'), ' · ',
        h('a', { href: '/healthz' }, 'healthz'), ' · ',
        h('a', { href: '/readyz' }, 'readyz'), ' · ',
        h('a', { href: '/metrics' }, 'metrics')));
    replace(root, header, this.main, footer);
    installAnnouncer();
  }

  /** Shows the signed-in parts (or hides them when `me` is undefined). */
  setUser(me: PublicUser | undefined): void {
    this.#nav.hidden = me === undefined;
    this.#connection.hidden = me === undefined;
    replace(this.#profile.querySelector('.label')!, me === undefined ? '' : me.displayName);
    // A long name is cut short with an ellipsis in the bar; the tooltip has all of it.
    if (me === undefined) this.#profile.removeAttribute('title');
    else this.#profile.setAttribute('title', me.displayName);
    this.#profile.setAttribute('aria-label', me === undefined ? 'Profile' : `Your profile (${me.username})`);
    if (me === undefined) {
      this.setUnread(0);
      this.setUnreadMessages(0);
    }
  }

  setUnread(count: number): void {
    this.#bellCount.hidden = count === 0;
    replace(this.#bellCount, count > 99 ? '99+' : String(count));
    this.#bell.setAttribute('aria-label', count === 0 ? 'Notifications' : `Notifications (${count} unread)`);
  }

  /**
   * The Messages badge: unread messages over the conversations. The link keeps its name
   * ("Messages"); the count is its description, read after it.
   */
  setUnreadMessages(count: number): void {
    this.#messagesCount.hidden = count === 0;
    replace(this.#messagesCount, count > 99 ? '99+' : String(count));
    replace(this.#messagesUnread, count === 0 ? '' : `${count} unread`);
  }

  /** Marks the navigation link of the current section with aria-current. */
  setCurrent(path: string): void {
    for (const link of this.#nav.querySelectorAll<HTMLAnchorElement>('a[data-nav]')) {
      const section = link.dataset.nav!;
      const current = section === '/' ? path === '/' || path.startsWith('/posts/') : path.startsWith(section);
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }
}
