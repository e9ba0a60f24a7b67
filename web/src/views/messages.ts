import type { Conversation, UserRef } from '../../../src/apps/social/schemas';
import { peoplePicker } from '../autocomplete';
import type { SessionContext, View } from '../context';
import { h, Keyed, replace, syncChildren, timeAgo } from '../dom';
import { errorLine, onSubmit } from '../forms';
import type { OnlineUsers } from '../online';
import { avatar, freshest } from '../people';

/**
 * A member's name with an online/offline dot; the state is also written out for screen readers.
 * `showName: false` keeps the name for screen readers only (a heading next to it already shows it).
 */
export function presenceBadge(user: UserRef, online: OnlineUsers, showName = true): HTMLElement {
  const isOnline = online.isOnline(user.id);
  const state = isOnline ? 'online' : 'offline';
  return h('span', { class: `presence ${state}`, 'data-user': user.username, 'data-user-id': user.id, 'data-presence': state },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', { class: showName ? 'name display-name' : 'name display-name visually-hidden' }, freshest(user).displayName || user.username),
    h('span', { class: 'presence-label' }, state));
}

/** "Alice Liddell, Bob Builder" from the members other than me. */
export function membersLabel(others: readonly UserRef[]): string {
  return others.map((u) => u.displayName || u.username).join(', ') || 'Just you';
}

/** "You: see you", "Bob: see you" (in a group), "see you" (from the one other person), or that there is none yet. */
function previewLine(c: Conversation, meId: number, group: boolean): string {
  const last = c.lastMessage;
  if (last === null) return 'No messages yet';
  if (last.author.id === meId) return `You: ${last.preview}`;
  return group ? `${(last.author.displayName || last.author.username).split(/\s+/)[0]}: ${last.preview}` : last.preview;
}

/**
 * One row of the conversations list, all of it one link: the other person's picture with a
 * presence dot, each other member's name once, the last message's preview and time, and the
 * unread count. The dot is filled when online and hollow when not (not colour alone), and the
 * state is written out for screen readers next to each name.
 */
function conversationRow(c: Conversation, others: readonly UserRef[], meId: number, online: OnlineUsers): HTMLLIElement {
  const anyOnline = others.some((u) => online.isOnline(u.id));
  const face = others[0];
  const names = others.flatMap((u, i) => {
    const state = online.isOnline(u.id) ? 'online' : 'offline';
    const name = h('span', { class: `presence ${state}`, 'data-user': u.username, 'data-user-id': u.id, 'data-presence': state },
      h('span', { class: 'name display-name' }, freshest(u).displayName || u.username), h('span', { class: 'visually-hidden' }, ` (${state})`));
    return i === 0 ? [name] : [', ', name];
  });
  const unread = c.unreadCount > 0
    ? h('span', { class: 'unread-count', 'data-testid': 'conversation-unread' }, String(c.unreadCount > 99 ? '99+' : c.unreadCount), h('span', { class: 'visually-hidden' }, ' unread'))
    : null;
  return h('li', { class: c.unreadCount > 0 ? 'conversation unread' : 'conversation', 'data-conversation-id': c.id, 'data-unread': c.unreadCount },
    h('a', { href: `/messages/${c.id}`, class: 'conversation-link' },
      h('span', { class: 'conversation-face' }, face === undefined ? null : avatar(face, 'medium'),
        h('span', { class: `presence-dot ${anyOnline ? 'online' : 'offline'}`, 'aria-hidden': 'true' })),
      h('span', { class: 'conversation-main' },
        h('span', { class: 'conversation-names' }, h('span', { class: 'visually-hidden' }, 'Conversation with '), ...names),
        h('span', { class: 'conversation-preview', 'data-testid': 'conversation-preview' }, previewLine(c, meId, others.length > 1))),
      h('span', { class: 'conversation-meta' }, c.lastMessage === null ? null : timeAgo(c.lastMessage.createdAt), unread)));
}

/** The conversations list with presence dots, and a form to start one. */
export function conversationsView(ctx: SessionContext): View {
  const { inbox, online } = ctx.session;
  const list = h('ul', { class: 'conversation-list', 'aria-labelledby': 'messages-title' });
  const status = h('p', { class: 'muted', role: 'status' });
  const stampOf = (c: Conversation) =>
    `${c.version}:${c.lastMessage?.id}:${c.unreadCount}:${c.members.map((u) => `${u.displayName}:${u.avatarUrl}`).join()}:${inbox.othersIn(c).map((u) => online.isOnline(u.id)).join()}`;
  const rows = new Keyed<Conversation>((c) => c.id, stampOf, (c) => conversationRow(c, inbox.othersIn(c), ctx.session.me.id, online));
  const render = () => {
    syncChildren(list, rows.elements(inbox.conversations));
    replace(status, !inbox.loaded ? 'Loading…' : inbox.conversations.length === 0 ? 'No conversations yet.' : '');
  };

  const who = peoplePicker({
    id: 'new-conversation-members', label: 'With', placeholder: 'Name or @username', hint: 'Pick one or more people: type, then choose with the arrow keys and Enter.',
    search: (prefix, signal) => ctx.api.searchPeople(prefix, { signal, limit: 8 }), exclude: (u) => u.id === ctx.session.me.id,
  });
  const error = errorLine();
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'new-conversation-title' },
    h('h2', { id: 'new-conversation-title' }, 'New conversation'),
    who.el,
    error.el,
    h('button', { type: 'submit', class: 'primary' }, 'Open'));
  onSubmit(form, error, async () => {
    const members = who.usernames();
    if (members.length === 0) throw new Error('Choose at least one person to talk to.');
    const conversation = await ctx.api.openConversation({ members });
    ctx.navigate(`/messages/${conversation.id}`);
  });

  const stops = [inbox.onChange(render), online.onChange(render)];
  render();
  const el = h('section', { class: 'messages' },
    h('h1', { id: 'messages-title', tabindex: '-1' }, 'Messages'),
    h('div', { class: 'card' }, status, list),
    h('div', { class: 'card' }, form));
  return { title: 'Messages', el, dispose: () => (stops.forEach((stop) => stop()), who.dispose()) };
}
