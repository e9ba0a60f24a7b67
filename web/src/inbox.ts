import type { SocialClient } from '../../src/apps/social/client';
import type { Conversation, ConversationRead, Message, Notification } from '../../src/apps/social/schemas';
import { TandemClientError, type Follow, type RealtimeClient, type RealtimeMessage, type Snapshot } from '../../src/client';
import { announce } from './dom';
import { Listeners } from './listeners';

/** A message's preview in the conversations list, as the server cuts it (140 characters, then "…"). */
const PREVIEW_LENGTH = 140;

/** Newest activity first: the last message's time, or the opening's for a conversation without one. */
function byActivity(a: Conversation, b: Conversation): number {
  return (b.lastMessageAt ?? b.createdAt).localeCompare(a.lastMessageAt ?? a.createdAt) || b.id - a.id;
}

/** A message's preview, cut as the server cuts it. */
export function previewOf(body: string): string {
  const chars = Array.from(body);
  return chars.length <= PREVIEW_LENGTH ? body : `${chars.slice(0, PREVIEW_LENGTH).join('').trimEnd()}…`;
}

interface InboxSnapshot extends Snapshot {
  notifications: Notification[];
  unreadCount: number;
  nextCursor: string | null;
  conversations: Conversation[];
}

/**
 * The signed-in user's own channel (`user:<id>`): notifications with their unread count (the
 * bell) and the conversations list. Both lists report that channel's position; notifications are
 * read first, so following from their position replays anything the conversations list may also
 * hold, and conversation updates are idempotent.
 */
export class Inbox {
  notifications: Notification[] = [];
  unreadCount = 0;
  nextCursor: string | null = null;
  conversations: Conversation[] = [];
  loaded = false;
  readonly #api: SocialClient;
  readonly #follower: Follow;
  readonly #listeners = new Listeners();
  readonly #arrivals = new Listeners<[notification: Notification]>();
  readonly #messages = new Listeners<[message: Message]>();
  readonly #me: number;

  constructor(api: SocialClient, realtime: RealtimeClient, me: number) {
    this.#api = api;
    this.#me = me;
    this.#follower = realtime.follow({
      load: () => this.#load(),
      snapshot: (s) => this.#snapshot(s),
      message: (m) => this.#message(m),
    });
  }

  start(): Promise<boolean> {
    return this.#follower.start();
  }

  stop(): void {
    this.#follower.stop();
    this.#listeners.clear();
    this.#arrivals.clear();
    this.#messages.clear();
  }

  /** Calls `listener` with each message from someone else that arrives live (browser notifications); returns the remover. */
  onMessage(listener: (m: Message) => void): () => void {
    return this.#messages.add(listener);
  }

  /** Calls `listener` with each notification that arrives live, new or grouped (browser notifications); returns the remover. */
  onArrival(listener: (n: Notification) => void): () => void {
    return this.#arrivals.add(listener);
  }

  /** Unread messages over the loaded conversations: the Messages badge. */
  get unreadMessages(): number {
    return this.conversations.reduce((sum, c) => sum + c.unreadCount, 0);
  }

  /**
   * Marks a conversation read up to `messageId` (when that moves its position); the badge follows
   * the server's answer, and the other devices hear `conversation.read`.
   */
  async markConversationRead(conversationId: number, messageId: number): Promise<void> {
    const known = this.conversations.find((c) => c.id === conversationId);
    if (known !== undefined && (known.lastReadMessageId ?? 0) >= messageId) return;
    this.#readPosition(await this.#api.markConversationRead(conversationId, messageId));
  }

  /** Calls `listener` after every change; returns the remover. */
  onChange(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Marks the given notifications (or all) read; the bell follows the server's count. */
  async markRead(ids?: number[]): Promise<void> {
    const unread = this.notifications.filter((n) => !n.read && (ids === undefined || ids.includes(n.id))).map((n) => n.id);
    if (ids !== undefined && unread.length === 0) return;
    const answer = await this.#api.markNotificationsRead(ids);
    this.#markLocally(answer.read);
    this.unreadCount = answer.unreadCount;
    this.#changed();
  }

  /** Marks read the unread notifications that `match` (e.g. those of the conversation on screen). */
  markReadWhere(match: (n: Notification) => boolean): Promise<void> {
    const ids = this.notifications.filter((n) => !n.read && match(n)).map((n) => n.id);
    return ids.length === 0 ? Promise.resolve() : this.markRead(ids);
  }

  async loadMore(): Promise<void> {
    if (this.nextCursor === null) return;
    const page = await this.#api.listNotifications({ cursor: this.nextCursor });
    const known = new Set(this.notifications.map((n) => n.id));
    this.notifications = [...this.notifications, ...page.items.filter((n) => !known.has(n.id))];
    this.nextCursor = page.nextCursor;
    this.#changed();
  }

  /** A conversation by id: from the loaded list, else by paging through the rest. */
  async conversation(id: number): Promise<Conversation | undefined> {
    const known = this.conversations.find((c) => c.id === id);
    if (known !== undefined) return known;
    try {
      return await this.#api.getConversation(id);
    } catch (error) {
      if (error instanceof TandemClientError && error.code === 'not_found') return undefined;
      throw error;
    }
  }

  async #load(): Promise<InboxSnapshot> {
    const notifications = await this.#api.listNotifications({ limit: 30 });
    const conversations = await this.#api.listConversations({ limit: 50 });
    return {
      notifications: notifications.items,
      unreadCount: notifications.unreadCount,
      nextCursor: notifications.nextCursor,
      conversations: conversations.items,
      // Both lists are on `user:<me>`; following from the first one read replays what the second may hold.
      channel: notifications.channel,
      position: notifications.position,
    };
  }

  #snapshot(s: InboxSnapshot): void {
    // The first page is fresh; older pages loaded before stay below it.
    const oldest = Math.min(...s.notifications.map((n) => n.id));
    const older = s.notifications.length === 0 ? [] : this.notifications.filter((n) => n.id < oldest);
    this.notifications = [...s.notifications, ...older];
    this.unreadCount = s.unreadCount;
    this.nextCursor = older.length > 0 ? this.nextCursor : s.nextCursor;
    this.conversations = [...s.conversations].sort(byActivity);
    this.loaded = true;
    this.#changed();
  }

  #message(m: RealtimeMessage): void {
    switch (m.event) {
      case 'notification.created': {
        const notification = m.data as Notification;
        if (this.notifications.some((n) => n.id === notification.id)) return;
        this.notifications = [notification, ...this.notifications].sort((a, b) => b.id - a.id);
        if (!notification.read) this.unreadCount += 1;
        announce(`New notification: ${describeNotification(notification)}`);
        this.#arrivals.emit(notification);
        return this.#changed();
      }
      case 'notification.updated': {
        // A repeat grouped into an unread notification: it stays unread, so the count does not move.
        const notification = m.data as Notification;
        const known = this.notifications.find((n) => n.id === notification.id);
        if (known !== undefined && known.version >= notification.version) return;
        if (known === undefined) return this.#follower.reload();
        this.notifications = this.notifications.map((n) => (n.id === notification.id ? notification : n));
        announce(`Notification: ${describeNotification(notification)}`);
        this.#arrivals.emit(notification);
        return this.#changed();
      }
      case 'conversation.read':
        this.#readPosition(m.data as ConversationRead);
        return;
      case 'notifications.read':
        this.#markLocally((m.data as { ids: number[] }).ids);
        // Which of those were counted here is not known for pages not loaded: the count comes from REST.
        return this.#follower.reload();
      case 'notification.deleted':
        this.notifications = this.notifications.filter((n) => n.id !== (m.data as { id: number }).id);
        this.#changed();
        return this.#follower.reload();
      case 'conversation.created':
        this.#upsertConversation(m.data as Conversation);
        return this.#changed();
      case 'message.created':
        return this.#messageCreated(m.data as Message);
    }
  }

  #messageCreated(message: Message): void {
    const conversation = this.conversations.find((c) => c.id === message.conversationId);
    if (conversation === undefined) return this.#follower.reload();
    if (conversation.lastMessage !== null && conversation.lastMessage.id >= message.id) return;
    const mine = message.author.id === this.#me;
    this.#upsertConversation({
      ...conversation,
      lastMessageAt: message.createdAt,
      lastMessage: { id: message.id, author: message.author, preview: previewOf(message.body), createdAt: message.createdAt },
      // Writing moves one's own read position to the message (as the server does); others' count.
      unreadCount: mine ? 0 : conversation.unreadCount + 1,
      lastReadMessageId: mine ? message.id : conversation.lastReadMessageId,
    });
    if (!mine) {
      // Messages notify nobody on the bell: said here, unless the conversation is on screen (its log says it).
      if (location.pathname !== `/messages/${message.conversationId}`) announce(`New message from ${message.author.displayName}: ${previewOf(message.body)}`);
      this.#messages.emit(message);
    }
    this.#changed();
  }

  /**
   * A read position from this device's answer or the channel's event. Only a position further on
   * is taken: the same position again (the event after the answer, or the answer after the event
   * and a newer message) carries a count that may be older than what is shown.
   */
  #readPosition(read: ConversationRead): void {
    const conversation = this.conversations.find((c) => c.id === read.conversationId);
    if (conversation === undefined || (read.lastReadMessageId ?? 0) <= (conversation.lastReadMessageId ?? 0)) return;
    this.#upsertConversation({ ...conversation, lastReadMessageId: read.lastReadMessageId, unreadCount: read.unreadCount });
    this.#changed();
  }

  #upsertConversation(conversation: Conversation): void {
    const others = this.conversations.filter((c) => c.id !== conversation.id);
    this.conversations = [conversation, ...others].sort(byActivity);
  }

  #markLocally(ids: number[]): void {
    const read = new Set(ids);
    this.notifications = this.notifications.map((n) => (read.has(n.id) && !n.read ? { ...n, read: true } : n));
  }

  #changed(): void {
    this.#listeners.emit();
  }

  /** The other members of a conversation (everyone but the signed-in user). */
  othersIn(conversation: Conversation): Conversation['members'] {
    return conversation.members.filter((u) => u.id !== this.#me);
  }
}

/** "Bob", "Bob and Carol", "Bob and 12 others": who did it, the newest first. */
export function actorsText(n: Pick<Notification, 'actor' | 'actors' | 'actorCount'>): string {
  const names = (n.actors.length > 0 ? n.actors : [n.actor]).map((u) => u.displayName || u.username);
  const count = Math.max(n.actorCount, names.length);
  if (count === 1) return names[0]!;
  if (count === 2 && names.length >= 2) return `${names[0]} and ${names[1]}`;
  return `${names[0]} and ${count - 1} ${count - 1 === 1 ? 'other' : 'others'}`;
}

const quoted = (text: string): string => `“${text.replace(/\s+/g, ' ').trim()}”`;

/** A post is named by its first words: up to 40 characters, cut at a word, with "…" when cut. */
const POST_TITLE_LENGTH = 40;

function postTitle(excerpt: string): string {
  const flat = excerpt.replace(/\s+/g, ' ').replace(/…$/, '').trim();
  const chars = Array.from(flat);
  if (chars.length <= POST_TITLE_LENGTH && !excerpt.endsWith('…')) return flat;
  const cut = chars.slice(0, POST_TITLE_LENGTH).join('');
  const atWord = cut.lastIndexOf(' ');
  return `${(atWord > POST_TITLE_LENGTH / 2 ? cut.slice(0, atWord) : cut).replace(/[\s,.;:!?]+$/, '')}…`;
}

/** `Bob commented on “Hello, Tandem!”: “nice…”`: what happened, with what it was about, as text. */
export function describeNotification(n: Notification): string {
  const who = actorsText(n);
  const post = n.postExcerpt === null ? 'your post' : quoted(postTitle(n.postExcerpt));
  const said = n.commentExcerpt === null ? '' : `: ${quoted(n.commentExcerpt)}`;
  switch (n.kind) {
    case 'comment':
      return `${who} commented on ${post}${said}`;
    case 'reply':
      return `${who} replied to your comment on ${post}${said}`;
    case 'message':
      return `${who} sent you a message`;
    case 'mention':
      return n.commentId === null ? `${who} mentioned you in ${post}` : `${who} mentioned you in a comment on ${post}${said}`;
    case 'reaction':
      return n.commentId === null ? `${who} reacted to your post ${post === 'your post' ? '' : post}`.trimEnd() : `${who} reacted to your comment${n.commentExcerpt === null ? '' : ` ${quoted(n.commentExcerpt)}`}`;
  }
}

/** Where a notification leads. */
export function notificationHref(n: Notification): string {
  if (n.conversationId !== null) return `/messages/${n.conversationId}`;
  if (n.postId !== null) return n.commentId === null ? `/posts/${n.postId}` : `/posts/${n.postId}#comment-${n.commentId}`;
  return '/notifications';
}
