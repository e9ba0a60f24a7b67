import type { SocialClient } from '../../src/apps/social/client';
import type { Conversation, Message, Notification } from '../../src/apps/social/schemas';
import { TandemClientError, type Follow, type RealtimeClient, type RealtimeMessage, type Snapshot } from '../../src/client';
import { announce } from './dom';

type Listener = () => void;

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
  readonly #listeners = new Set<{ listener: Listener }>();
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
  }

  /** Calls `listener` after every change; returns the remover. */
  onChange(listener: Listener): () => void {
    const entry = { listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
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
    this.conversations = s.conversations;
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
        return this.#changed();
      }
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
    if (conversation.lastMessageAt !== null && conversation.lastMessageAt >= message.createdAt) return;
    this.#upsertConversation({ ...conversation, lastMessageAt: message.createdAt });
    this.#changed();
  }

  #upsertConversation(conversation: Conversation): void {
    const others = this.conversations.filter((c) => c.id !== conversation.id);
    this.conversations = [conversation, ...others].sort((a, b) => (b.lastMessageAt ?? b.createdAt).localeCompare(a.lastMessageAt ?? a.createdAt));
  }

  #markLocally(ids: number[]): void {
    const read = new Set(ids);
    this.notifications = this.notifications.map((n) => (read.has(n.id) && !n.read ? { ...n, read: true } : n));
  }

  #changed(): void {
    for (const { listener } of [...this.#listeners]) listener();
  }

  /** The other members of a conversation (everyone but the signed-in user). */
  othersIn(conversation: Conversation): Conversation['members'] {
    return conversation.members.filter((u) => u.id !== this.#me);
  }
}

/** "bob commented on your post", as text. */
export function describeNotification(n: Notification): string {
  switch (n.kind) {
    case 'comment':
      return `${n.actor.username} commented on your post`;
    case 'reply':
      return `${n.actor.username} replied to your comment`;
    case 'message':
      return `${n.actor.username} sent you a message`;
    case 'mention':
      return `${n.actor.username} mentioned you`;
    case 'reaction':
      return `${n.actor.username} reacted to your ${n.commentId === null ? 'post' : 'comment'}`;
  }
}

/** Where a notification leads. */
export function notificationHref(n: Notification): string {
  if (n.conversationId !== null) return `/messages/${n.conversationId}`;
  if (n.postId !== null) return n.commentId === null ? `/posts/${n.postId}` : `/posts/${n.postId}#comment-${n.commentId}`;
  return '/notifications';
}
