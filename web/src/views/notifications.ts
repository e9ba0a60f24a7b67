import type { Notification } from '../../../src/apps/social/schemas';
import { describeError } from '../api';
import { browserNotificationsControl } from '../browser-notifications';
import type { SessionContext, View } from '../context';
import { h, Keyed, replace, syncChildren, timeAgo } from '../dom';
import { describeNotification, notificationHref } from '../inbox';
import { avatar } from '../people';

/** The notifications list (REST, kept live by the inbox), with "mark all read" and paging. */
export function notificationsView(ctx: SessionContext): View {
  const { inbox } = ctx.session;
  const list = h('ul', { class: 'notification-list', 'aria-labelledby': 'notifications-title' });
  const status = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const markAll = h('button', { type: 'button', class: 'secondary' }, 'Mark all read');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const rows = new Keyed<Notification>((n) => n.id, (n) => `${n.version}:${n.read}`, (n) => row(n));

  function row(n: Notification): HTMLLIElement {
    const text = describeNotification(n);
    const link = h('a', {
      href: notificationHref(n),
      on: { click: () => void inbox.markRead([n.id]).catch(() => {}) },
    }, text, n.read ? null : h('span', { class: 'visually-hidden' }, ' (unread)'));
    // Up to three faces of the people who did it, newest in front; decorative (the text names them).
    const faces = h('span', { class: 'notification-faces', 'aria-hidden': 'true' }, ...n.actors.slice(0, 3).map((u) => avatar(u)));
    return h('li', { class: n.read ? 'notification' : 'notification unread', 'data-notification-id': n.id, 'data-kind': n.kind },
      h('span', { class: 'unread-dot', 'aria-hidden': 'true' }), faces, link, timeAgo(n.createdAt));
  }

  const render = () => {
    syncChildren(list, rows.elements(inbox.notifications));
    replace(status, !inbox.loaded ? 'Loading…' : inbox.notifications.length === 0 ? 'Nothing yet. Comments, replies, mentions and reactions show up here.' : '');
    markAll.disabled = inbox.unreadCount === 0;
    more.hidden = inbox.nextCursor === null;
  };
  const run = (button: HTMLButtonElement, action: () => Promise<void>) => {
    button.disabled = true;
    replace(error);
    action().catch((e: unknown) => replace(error, describeError(e))).finally(() => {
      button.disabled = false;
      render();
    });
  };
  markAll.addEventListener('click', () => run(markAll, () => inbox.markRead()));
  more.addEventListener('click', () => run(more, () => inbox.loadMore()));
  const stop = inbox.onChange(render);
  render();
  const el = h('section', { class: 'notifications' },
    h('div', { class: 'title-row' }, h('h1', { id: 'notifications-title', tabindex: '-1' }, 'Notifications'), markAll),
    h('div', { class: 'card' }, status, error, list, more),
    h('div', { class: 'card' }, browserNotificationsControl()));
  return { title: 'Notifications', el, dispose: stop };
}
