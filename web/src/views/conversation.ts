import type { Conversation, Message, UserRef } from '../../../src/apps/social/schemas';
import type { RealtimeClient } from '../../../src/client';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { h, Keyed, replace, syncChildren, timeAgo } from '../dom';
import { composer } from '../forms';
import { userLink } from '../people';
import { richText } from '../rich-text';
import { LIMITS } from '../../../src/apps/social/limits';
import { membersLabel, presenceBadge } from './messages';

const TYPING_REPEAT_MS = 2_500;
const TYPING_IDLE_MS = 4_000;
/** A "typing" not repeated for this long has stopped (its sender closed the tab mid-word). */
const TYPING_EXPIRES_MS = 6_000;

/** Sends `typing {on}` while the person types: repeated every few seconds, `off` once idle or sent. */
class TypingSender {
  #sentAt = 0;
  #idle: number | undefined;
  readonly #realtime: RealtimeClient;
  readonly #channel: string;

  constructor(realtime: RealtimeClient, channel: string) {
    this.#realtime = realtime;
    this.#channel = channel;
  }

  typed(text: string): void {
    if (text.trim() === '') return this.stop();
    const now = Date.now();
    if (now - this.#sentAt > TYPING_REPEAT_MS) {
      this.#sentAt = now;
      this.#send(true);
    }
    window.clearTimeout(this.#idle);
    this.#idle = window.setTimeout(() => this.stop(), TYPING_IDLE_MS);
  }

  stop(): void {
    window.clearTimeout(this.#idle);
    if (this.#sentAt === 0) return;
    this.#sentAt = 0;
    this.#send(false);
  }

  #send(on: boolean): void {
    // Best effort: typing is ephemeral, and not connected means nobody would see it anyway.
    this.#realtime.publish(this.#channel, 'typing', { on }).catch(() => {});
  }
}

/** Who else is typing, each forgotten after a while without a repeat. */
class TypingIndicator {
  readonly el = h('p', { class: 'typing', 'aria-live': 'polite', 'data-testid': 'typing' });
  readonly #typers = new Map<number, { name: string; timer: number }>();

  set(user: { id: number; n: string }, on: boolean): void {
    window.clearTimeout(this.#typers.get(user.id)?.timer);
    if (on) this.#typers.set(user.id, { name: user.n, timer: window.setTimeout(() => this.set(user, false), TYPING_EXPIRES_MS) });
    else this.#typers.delete(user.id);
    const names = [...this.#typers.values()].map((t) => t.name);
    replace(this.el, names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`);
  }

  clear(): void {
    for (const { timer } of this.#typers.values()) window.clearTimeout(timer);
    this.#typers.clear();
  }

  /** Typing ends when its user goes offline (they closed the tab mid-word): no "bob is typing…" beside "bob offline". */
  dropOffline(isOnline: (userId: number) => boolean): void {
    for (const [id, { name }] of [...this.#typers]) if (!isOnline(id)) this.set({ id, n: name }, false);
  }
}

/** One conversation: messages over REST, new ones live, typing, and the other members' presence. */
export function conversationView(ctx: SessionContext, params: Record<string, string>): View {
  const id = Number(params.id);
  const channel = `conversation:${id}`;
  const { inbox, online, me } = ctx.session;
  let messages: Message[] = [];
  let nextCursor: string | null = null;
  let others: UserRef[] = [];
  const title = h('h1', { id: 'conversation-title', tabindex: '-1' }, 'Conversation');
  const members = h('div', { class: 'members', 'aria-label': 'Members' });
  const list = h('ol', { class: 'message-list', 'aria-label': 'Messages' });
  const scroller = h('div', { class: 'message-scroller', tabindex: '0', role: 'log', 'aria-labelledby': 'conversation-title' }, list);
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const earlier = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Load earlier messages');
  const typing = new TypingIndicator();
  const sender = new TypingSender(ctx.realtime, channel);
  const bubbles = new Keyed<Message>((m) => m.id, () => '', (m) => h('li', { class: m.author.id === me.id ? 'message mine' : 'message', 'data-message-id': m.id },
    h('span', { class: 'meta' }, h('span', { class: 'author' }, userLink(m.author, { withAvatar: true })), ' ', timeAgo(m.createdAt)),
    h('p', { class: 'body', 'data-testid': 'message-body' }, ...richText(m.body))));

  // With one other person the title names them: their badge shows the state only.
  const renderMembers = () => replace(members, ...others.map((u) => presenceBadge(u, online, others.length > 1)));
  const render = (stick: boolean) => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    syncChildren(list, bubbles.elements(messages));
    replace(status, messages.length === 0 ? 'No messages yet. Say hello!' : '');
    earlier.hidden = nextCursor === null;
    if (stick || atBottom) scroller.scrollTop = scroller.scrollHeight;
  };
  const add = (message: Message) => {
    if (messages.some((m) => m.id === message.id)) return false;
    messages = [...messages, message].sort((a, b) => a.id - b.id);
    render(message.author.id === me.id);
    markSeen();
    return true;
  };
  /** Seen while the tab is visible: read up to the newest message shown (the badge and the other devices follow). */
  const markSeen = () => {
    if (document.visibilityState !== 'visible') return;
    void inbox.markReadWhere((n) => n.conversationId === id).catch(() => {});
    const newest = messages.at(-1);
    if (newest !== undefined) void inbox.markConversationRead(id, newest.id).catch(() => {});
  };

  // Named here, not taken from the list: typing goes out on it even before the first load answers.
  const follower = ctx.realtime.follow({
    channel,
    load: () => ctx.api.listMessages(id, { limit: 50 }),
    snapshot: (page) => {
      messages = [...page.items].reverse();
      nextCursor = page.nextCursor;
      render(true);
      markSeen();
    },
    message: (m) => {
      if (m.event === 'typing') {
        const data = m.data as { on: boolean; by: { id: number; n: string } };
        if (data.by.id !== me.id) typing.set(data.by, data.on);
      } else if (m.event === 'message.created') {
        const message = m.data as Message;
        typing.set({ id: message.author.id, n: message.author.username }, false);
        // The list is a role=log live region: the new message is read from there, once.
        add(message);
      }
    },
    failed: (e) => replace(status, `Could not load this conversation: ${describeError(e)}`),
  });

  earlier.addEventListener('click', () => {
    if (nextCursor === null) return;
    earlier.disabled = true;
    const height = scroller.scrollHeight;
    ctx.api.listMessages(id, { cursor: nextCursor, limit: 50 }).then((page) => {
      const known = new Set(messages.map((m) => m.id));
      messages = [...page.items.filter((m) => !known.has(m.id)).reverse(), ...messages];
      nextCursor = page.nextCursor;
      render(false);
      scroller.scrollTop += scroller.scrollHeight - height; // keep the reader's place
    }, (e: unknown) => replace(status, describeError(e))).finally(() => (earlier.disabled = false));
  });

  const write = composer({
    id: 'new-message', label: 'Message', placeholder: 'Write a message…', button: 'Send', maxLength: LIMITS.message,
    send: async (body, { idempotencyKey }) => {
      sender.stop();
      add(await ctx.api.sendMessage(id, { body }, { idempotencyKey }));
    },
  });
  write.textarea.rows = 2;
  write.textarea.addEventListener('input', () => sender.typed(write.textarea.value));
  write.textarea.addEventListener('blur', () => sender.stop());
  write.textarea.addEventListener('keydown', (event) => {
    // Enter sends, Shift+Enter is a new line (as in most chat apps).
    if (event.key === 'Enter' && !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      event.preventDefault();
      write.el.requestSubmit();
    }
  });
  const hint = write.el.querySelector('.hint');
  if (hint !== null) hint.textContent = 'Enter to send, Shift+Enter for a new line';

  let disposed = false;
  inbox.conversation(id).then((conversation: Conversation | undefined) => {
    if (disposed) return; // another page is showing now, with its own title
    if (conversation === undefined) return replace(status, 'This conversation does not exist, or you are not in it.');
    others = inbox.othersIn(conversation);
    replace(title, `Conversation with ${membersLabel(others)}`);
    document.title = `${membersLabel(others)} · Tandem`;
    renderMembers();
  }, (e: unknown) => replace(status, describeError(e)));
  const stops = [
    online.onChange(() => {
      renderMembers();
      typing.dropOffline((userId) => online.isOnline(userId));
    }),
    inbox.onChange(markSeen),
  ];
  document.addEventListener('visibilitychange', markSeen);
  void follower.start();

  const el = h('section', { class: 'conversation-page' },
    h('p', { class: 'back' }, h('a', { href: '/messages' }, '← Messages')),
    h('div', { class: 'title-row' }, title, members),
    h('div', { class: 'card chat' }, earlier, status, scroller, typing.el, write.el));
  return {
    title: 'Conversation',
    el,
    dispose: () => {
      disposed = true;
      sender.stop();
      typing.clear();
      follower.stop();
      stops.forEach((stop) => stop());
      document.removeEventListener('visibilitychange', markSeen);
    },
  };
}
