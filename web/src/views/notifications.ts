import type { Notification } from '../../../src/apps/social/schemas';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { h, Keyed, replace, syncChildren, timeAgo } from '../dom';
import { describeNotification, notificationHref } from '../inbox';

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
    return h('li', { class: n.read ? 'notification' : 'notification unread', 'data-notification-id': n.id },
      h('span', { class: 'unread-dot', 'aria-hidden': 'true' }), link, timeAgo(n.createdAt));
  }

  const render = () => {
    syncChildren(list, rows.elements(inbox.notifications));
    replace(status, !inbox.loaded ? 'Loading…' : inbox.notifications.length === 0 ? 'Nothing yet. Comments on your posts, replies and messages show up here.' : '');
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
    h('div', { class: 'card' }, status, error, list, more));
  return { title: 'Notifications', el, dispose: stop };
}
