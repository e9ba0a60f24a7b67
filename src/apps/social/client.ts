import type { Static } from 'typebox';
import { RestClient, type CallOptions, type CreateOptions, type ListResult, type PageOptions, type RequestSpec, type Session, type WriteOptions } from 'tandem/client';
import type { ReactionName, ReactionTarget } from './reactions';
import type { Comment, Conversation, ConversationRead, MarkedRead, Message, MyReactions, Notification, Post, PresenceSnapshot, PublicUser, ReactionState, UserRef } from './schemas';

export type { PresenceSnapshot } from './schemas';

/** The social app's session: its user is a PublicUser. */
export type SocialSession = Session<Static<typeof PublicUser>>;

/**
 * The social app's typed REST client: the generic core (tokens, ETag cache, Idempotency-Keys,
 * retries, typed errors; `tandem/client`) plus one method per route. Hand-written, not generated:
 * each method is a one-liner over the core's public `request` and `list`, and its types come
 * straight from the TypeBox schemas the server validates and answers with (src/apps/social/schemas.ts,
 * imported as types only, so no schema code reaches a bundle). There is nothing to keep in sync:
 * change a schema and this client's types change with it.
 *
 * @example
 * const api = new SocialClient({ baseUrl: 'http://localhost:3000' });
 * await api.login({ username: 'alice', password: 'tandem-demo' });
 * const feed = await api.listPosts({ limit: 20 });
 * realtime.subscribe(feed.channel!, onPost, { since: feed.position });
 */
export class SocialClient extends RestClient<Static<typeof PublicUser>> {
  /** Creates an account (3-24 letters, digits or _; 8+ characters; an optional display name) and signs in. */
  override register(input: { username: string; password: string; displayName?: string }, options: CallOptions = {}): Promise<SocialSession> {
    return super.register(input, options);
  }

  // --- users ------------------------------------------------------------------------------

  getUser(username: string, options: CallOptions = {}): Promise<Static<typeof PublicUser>> {
    return this.#body({ method: 'GET', path: `/api/users/${encodeURIComponent(username)}`, auth: 'none', ...options });
  }

  me(options: CallOptions = {}): Promise<Static<typeof PublicUser>> {
    return this.#body({ method: 'GET', path: '/api/me', ...options });
  }

  updateMe(changes: { displayName?: string; bio?: string }, options: WriteOptions = {}): Promise<Static<typeof PublicUser>> {
    return this.#body({ method: 'PATCH', path: '/api/me', body: changes, ...options });
  }

  // --- identity: profiles and avatars ------------------------------------------------------

  /** A user's posts, newest first (their profile page); their channel is `feed`. */
  listUserPosts(username: string, page: PageOptions = {}): Promise<ListResult<Static<typeof Post>>> {
    return this.list(`/api/users/${encodeURIComponent(username)}/posts`, page, { auth: 'none' });
  }

  /** Uploads your avatar: a JPEG, PNG or WebP (at most 5 MiB), stored as a 256×256 WebP without metadata. */
  uploadAvatar(image: Blob | ArrayBuffer | Uint8Array<ArrayBuffer>, contentType: 'image/jpeg' | 'image/png' | 'image/webp', options: CallOptions = {}): Promise<Static<typeof PublicUser>> {
    return this.#body({ method: 'PUT', path: '/api/me/avatar', rawBody: { bytes: image, contentType }, ...options });
  }

  /** Removes your avatar: the generated initials are shown again. */
  removeAvatar(options: CallOptions = {}): Promise<Static<typeof PublicUser>> {
    return this.#body({ method: 'DELETE', path: '/api/me/avatar', ...options });
  }

  // --- posts and comments -------------------------------------------------------------------

  /** The feed, newest first; its channel is `feed`. */
  listPosts(page: PageOptions = {}): Promise<ListResult<Static<typeof Post>>> {
    return this.list('/api/posts', page, { auth: 'none' });
  }

  getPost(id: number, options: CallOptions = {}): Promise<Static<typeof Post>> {
    return this.#body({ method: 'GET', path: `/api/posts/${id}`, auth: 'none', ...options });
  }

  createPost(input: { body: string }, options: CreateOptions = {}): Promise<Static<typeof Post>> {
    return this.#body({ method: 'POST', path: '/api/posts', body: input, create: true, ...options });
  }

  updatePost(id: number, changes: { body: string }, options: WriteOptions = {}): Promise<Static<typeof Post>> {
    return this.#body({ method: 'PATCH', path: `/api/posts/${id}`, body: changes, ...options });
  }

  deletePost(id: number, options: WriteOptions = {}): Promise<void> {
    return this.#body({ method: 'DELETE', path: `/api/posts/${id}`, ...options });
  }

  /** A post's comments, oldest first; their channel is `post:<id>`. */
  listComments(postId: number, page: PageOptions = {}): Promise<ListResult<Static<typeof Comment>>> {
    return this.list(`/api/posts/${postId}/comments`, page, { auth: 'none' });
  }

  createComment(postId: number, input: { body: string; parentId?: number | null }, options: CreateOptions = {}): Promise<Static<typeof Comment>> {
    return this.#body({ method: 'POST', path: `/api/posts/${postId}/comments`, body: input, create: true, ...options });
  }

  deleteComment(id: number, options: WriteOptions = {}): Promise<void> {
    return this.#body({ method: 'DELETE', path: `/api/comments/${id}`, ...options });
  }

  // --- editing comments ---------------------------------------------------------------------

  /** One comment (`not_found` once deleted); `request` gives its ETag, which an edit's `ifMatch` names. */
  getComment(id: number, options: CallOptions = {}): Promise<Static<typeof Comment>> {
    return this.#body({ method: 'GET', path: `/api/comments/${id}`, auth: 'none', ...options });
  }

  /** Edits your comment; with `ifMatch`, a comment changed since that tag fails with precondition_failed. */
  updateComment(id: number, changes: { body: string }, options: WriteOptions = {}): Promise<Static<typeof Comment>> {
    return this.#body({ method: 'PATCH', path: `/api/comments/${id}`, body: changes, ...options });
  }

  // --- conversations ------------------------------------------------------------------------

  /** Opens a conversation with these usernames, or returns the one they already have. */
  openConversation(input: { members: string[] }, options: CreateOptions = {}): Promise<Static<typeof Conversation>> {
    return this.#body({ method: 'POST', path: '/api/conversations', body: input, create: true, ...options });
  }

  /** Your conversations, the most recently active first, with your unread counts; their channel is `user:<me>`. */
  listConversations(page: PageOptions = {}): Promise<ListResult<Static<typeof Conversation>>> {
    return this.list('/api/conversations', page);
  }

  /** One conversation you are in, with its members (`not_found` for others' conversations). */
  getConversation(id: number, options: CallOptions = {}): Promise<Static<typeof Conversation>> {
    return this.#body({ method: 'GET', path: `/api/conversations/${id}`, ...options });
  }

  /** A conversation's messages, newest first; their channel is `conversation:<id>`. */
  listMessages(conversationId: number, page: PageOptions = {}): Promise<ListResult<Static<typeof Message>>> {
    return this.list(`/api/conversations/${conversationId}/messages`, page);
  }

  sendMessage(conversationId: number, input: { body: string }, options: CreateOptions = {}): Promise<Static<typeof Message>> {
    return this.#body({ method: 'POST', path: `/api/conversations/${conversationId}/messages`, body: input, create: true, ...options });
  }

  // --- inbox: read positions ----------------------------------------------------------------

  /**
   * Marks a conversation read up to a message of it (a position never moves back). Your other
   * devices hear `conversation.read` on `user:<me>`. Safe to retry: the same position twice is once.
   */
  markConversationRead(conversationId: number, messageId: number, options: CallOptions = {}): Promise<ConversationRead> {
    return this.#body({ method: 'POST', path: `/api/conversations/${conversationId}/read`, body: { messageId }, idempotent: true, ...options });
  }

  // --- reactions ----------------------------------------------------------------------------

  /** Leaves a reaction on a post or comment (safe to repeat); answers its counts and yours. */
  react(target: ReactionTarget, id: number, reaction: ReactionName, options: CallOptions = {}): Promise<ReactionState> {
    return this.#body({ method: 'PUT', path: `/api/${target}s/${id}/reactions/${reaction}`, ...options });
  }

  /** Takes a reaction back (safe to repeat, and when there is none); answers the counts and yours. */
  unreact(target: ReactionTarget, id: number, reaction: ReactionName, options: CallOptions = {}): Promise<ReactionState> {
    return this.#body({ method: 'DELETE', path: `/api/${target}s/${id}/reactions/${reaction}`, ...options });
  }

  /** Which reactions you left on these posts and comments (at most 100 of each per call). */
  myReactions(ids: { posts?: readonly number[]; comments?: readonly number[] }, options: CallOptions = {}): Promise<MyReactions> {
    const query = { posts: ids.posts?.length ? ids.posts.join(',') : undefined, comments: ids.comments?.length ? ids.comments.join(',') : undefined };
    return this.#body({ method: 'GET', path: '/api/me/reactions', query, ...options });
  }

  // --- notifications and presence -----------------------------------------------------------

  /** Your notifications, newest first, with the unread count; their channel is `user:<me>`. */
  listNotifications(page: PageOptions = {}): Promise<ListResult<Static<typeof Notification>> & { unreadCount: number }> {
    return this.list('/api/notifications', page);
  }

  /** Marks the given notifications read, or all of them. Safe to retry: marking twice is marking once. */
  markNotificationsRead(ids?: number[], options: CallOptions = {}): Promise<MarkedRead> {
    return this.#body({ method: 'POST', path: '/api/notifications/read', body: ids === undefined ? {} : { ids }, idempotent: true, ...options });
  }

  online(options: CallOptions = {}): Promise<PresenceSnapshot> {
    return this.#body({ method: 'GET', path: '/api/online', ...options });
  }

  conversationPresence(conversationId: number, options: CallOptions = {}): Promise<PresenceSnapshot> {
    return this.#body({ method: 'GET', path: `/api/conversations/${conversationId}/presence`, ...options });
  }

  // --- search -------------------------------------------------------------------------------

  /**
   * People whose username or display name starts with `prefix` (case-insensitive; a leading @ is
   * ignored): the exact username first, then by username; at most `limit` (1-20, default 10).
   */
  async searchPeople(prefix: string, options: CallOptions & { limit?: number } = {}): Promise<UserRef[]> {
    const { limit, ...call } = options;
    const body = await this.#body<{ items: UserRef[] }>({ method: 'GET', path: '/api/users', query: { q: prefix, limit }, auth: 'none', ...call });
    return body.items;
  }

  /**
   * Posts that contain every word of `query` (the last one may be the start of a word), best match
   * first, then newest; 1-50 a page. Punctuation and operators are read as spaces.
   */
  searchPosts(query: string, page: PageOptions = {}): Promise<ListResult<Static<typeof Post>>> {
    return this.list('/api/search/posts', page, { auth: 'none', query: { q: query } });
  }

  async #body<T>(spec: RequestSpec): Promise<T> {
    return (await this.request<T>(spec)).body;
  }
}
