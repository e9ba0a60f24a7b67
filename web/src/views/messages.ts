import type { Conversation, UserRef } from '../../../src/apps/social/schemas';
import type { SessionContext, View } from '../context';
import { h, Keyed, replace, syncChildren, timeAgo } from '../dom';
import { errorLine, field, onSubmit } from '../forms';
import type { OnlineUsers } from '../online';

/** A member's name with an online/offline dot; the state is also written out for screen readers. */
export function presenceBadge(user: UserRef, online: OnlineUsers): HTMLElement {
  const isOnline = online.isOnline(user.id);
  const state = isOnline ? 'online' : 'offline';
  return h('span', { class: `presence ${state}`, 'data-user': user.username, 'data-presence': state },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', { class: 'name' }, user.username),
    h('span', { class: 'presence-label' }, state));
}

/** "alice, bob" from the members other than me. */
export function membersLabel(others: readonly UserRef[]): string {
  return others.map((u) => u.username).join(', ') || 'Just you';
}

/** The conversations list with presence dots, and a form to start one. */
export function conversationsView(ctx: SessionContext): View {
  const { inbox, online } = ctx.session;
  const list = h('ul', { class: 'conversation-list', 'aria-labelledby': 'messages-title' });
  const status = h('p', { class: 'muted', role: 'status' });
  const stampOf = (c: Conversation) => `${c.version}:${c.lastMessageAt}:${inbox.othersIn(c).map((u) => online.isOnline(u.id)).join()}`;
  const rows = new Keyed<Conversation>((c) => c.id, stampOf, (c) => {
    const others = inbox.othersIn(c);
    return h('li', { class: 'conversation', 'data-conversation-id': c.id },
      h('a', { href: `/messages/${c.id}`, class: 'conversation-link' }, h('span', { class: 'visually-hidden' }, 'Conversation with '), membersLabel(others)),
      h('span', { class: 'members' }, ...others.map((u) => presenceBadge(u, online))),
      h('span', { class: 'muted small' }, c.lastMessageAt === null ? 'no messages yet' : timeAgo(c.lastMessageAt)));
  });
  const render = () => {
    syncChildren(list, rows.elements(inbox.conversations));
    replace(status, !inbox.loaded ? 'Loading…' : inbox.conversations.length === 0 ? 'No conversations yet.' : '');
  };

  const who = h('input', { name: 'members', required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: 'bob, carol' });
  const error = errorLine();
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'new-conversation-title' },
    h('h2', { id: 'new-conversation-title' }, 'New conversation'),
    field('new-conversation-members', 'With (usernames, separated by commas)', who),
    error.el,
    h('button', { type: 'submit', class: 'primary' }, 'Open'));
  onSubmit(form, error, async () => {
    const members = who.value.split(/[\s,]+/).map((s) => s.trim().replace(/^@/, '')).filter((s) => s !== '');
    const conversation = await ctx.api.openConversation({ members });
    ctx.navigate(`/messages/${conversation.id}`);
  });

  const stops = [inbox.onChange(render), online.onChange(render)];
  render();
  const el = h('section', { class: 'messages' },
    h('h1', { id: 'messages-title', tabindex: '-1' }, 'Messages'),
    h('div', { class: 'card' }, status, list),
    h('div', { class: 'card' }, form));
  return { title: 'Messages', el, dispose: () => stops.forEach((stop) => stop()) };
}
