import type { Post } from '../../../src/apps/social/schemas';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { actionButton, announce, h, Keyed, replace, syncChildren, timeAgo } from '../dom';
import { composer, errorLine } from '../forms';
import { applyCommentCount, commentsLink } from '../comment-counts';
import { editable, editedMark, postEditing } from '../editor';
import { userLink } from '../people';
import { richBody } from '../rich-text';
import { applyReactionEvent, reactionBar } from '../reactions';
import { deferDelete, isPendingDelete } from '../toast';
import { LIMITS } from '../../../src/apps/social/limits';

/** One post as a card; `link` adds the way to its page. */
export function postCard(post: Post, ctx: SessionContext, options: { link: boolean; onDeleted?: () => void; onEdited?: (post: Post) => void }): HTMLElement {
  const mine = post.author.id === ctx.session.me.id;
  const edited = post.updatedAt !== post.createdAt;
  // The text (links, mentions, folded when long) and, on your own post, its inline editor (web/src/editor.ts).
  const text = () => richBody(post.body, { 'data-testid': 'post-body' });
  const editing = mine ? editable(postEditing(ctx, post, (saved) => options.onEdited?.(saved)), text) : undefined;
  const error = errorLine();
  // Hidden at once, sent when the Undo toast expires (web/src/toast.ts); the element is looked up
  // by id then, since a live update may have redrawn the card meanwhile.
  const remove = () => {
    const card = () => document.getElementById(`post-${post.id}`);
    const hadFocus = card()?.contains(document.activeElement) ?? false;
    card()?.setAttribute('hidden', '');
    deferDelete({
      key: `post:${post.id}`,
      message: 'Post deleted.',
      commit: async () => {
        await ctx.api.deletePost(post.id, { keepalive: true });
        if (card() !== null) options.onDeleted?.();
      },
      restore: () => card()?.removeAttribute('hidden'),
      failed: (e) => {
        card()?.removeAttribute('hidden');
        error.show(describeError(e));
      },
    }, { focusUndo: hadFocus });
  };
  return h('article', { class: 'card post', id: `post-${post.id}`, 'data-post-id': post.id, tabindex: '-1', hidden: isPendingDelete(`post:${post.id}`) },
    h('header', { class: 'meta' },
      h('span', { class: 'author' }, userLink(post.author, { withAvatar: true })),
      h('span', { 'aria-hidden': 'true' }, ' · '),
      timeAgo(post.createdAt),
      edited ? editedMark(post.updatedAt) : null),
    editing?.slot ?? text(),
    reactionBar(ctx, 'post', post.id, post.reactions),
    h('footer', { class: 'actions' },
      options.link ? commentsLink(post) : null,
      editing?.button,
      mine ? actionButton('Delete', remove, { 'aria-label': 'Delete this post' }) : null),
    error.el,
  );
}

/** The feed: newest first over REST, new posts live from the `feed` channel, older pages on demand. */
export function feedView(ctx: SessionContext): View {
  let posts: Post[] = [];
  let nextCursor: string | null = null;
  const list = h('div', { class: 'post-list', 'aria-label': 'Posts', role: 'feed', 'aria-busy': 'true' });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading posts…');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load older posts');
  const heading = h('h1', { tabindex: '-1' }, 'Feed');
  const cards = new Keyed<Post>((p) => p.id, (p) => String(p.version), (p) => postCard(p, ctx, { link: true, onDeleted: () => drop(p.id), onEdited: (saved) => merge([saved]) }));

  const render = () => {
    syncChildren(list, cards.elements(posts));
    list.setAttribute('aria-busy', 'false');
    replace(status, posts.length === 0 ? 'No posts yet. Write the first one!' : '');
    more.hidden = nextCursor === null;
  };
  /** Adds or updates posts by id (the newer version wins), newest first; returns whether any was new. */
  const merge = (items: readonly Post[]) => {
    const byId = new Map(posts.map((p) => [p.id, p]));
    let added = false;
    for (const post of items) {
      const current = byId.get(post.id);
      if (current === undefined) added = true;
      if (current === undefined || post.version > current.version) byId.set(post.id, post);
    }
    posts = [...byId.values()].sort((a, b) => b.id - a.id);
    render();
    return added;
  };
  /** Removes a post; if focus was in its card, it moves to the next post (or the previous, or the heading). */
  const drop = (id: number) => {
    const index = posts.findIndex((p) => p.id === id);
    if (index === -1) return;
    const hadFocus = document.getElementById(`post-${id}`)?.contains(document.activeElement) ?? false;
    posts = posts.filter((p) => p.id !== id);
    render();
    if (!hadFocus) return;
    const next = posts[index] ?? posts[index - 1];
    ((next === undefined ? null : document.getElementById(`post-${next.id}`)) ?? heading).focus();
  };

  // The list names its channel (`feed`): the follower subscribes there, from the list's position.
  const follower = ctx.realtime.follow({
    load: () => ctx.api.listPosts({ limit: 20 }),
    snapshot: (page) => {
      posts = page.items;
      nextCursor = page.nextCursor;
      render();
    },
    message: (m) => {
      if (applyReactionEvent(m.event, m.data)) return;
      if (m.event === 'post.created') {
        const post = m.data as Post;
        if (merge([post]) && post.author.id !== ctx.session.me.id) announce(`New post from ${post.author.username}`);
      } else if (m.event === 'post.comments') {
        posts = applyCommentCount(posts, m.data);
      } else if (m.event === 'post.updated') {
        // An edit changes a post shown; one not loaded (older than the pages read) stays out of the list.
        const post = m.data as Post;
        if (posts.some((p) => p.id === post.id)) merge([post]);
      } else if (m.event === 'post.deleted') {
        drop((m.data as { id: number }).id);
      }
    },
    failed: (e) => replace(status, `Could not load the feed: ${describeError(e)}`),
  });

  more.addEventListener('click', () => {
    if (nextCursor === null) return;
    more.disabled = true;
    ctx.api.listPosts({ cursor: nextCursor, limit: 20 }).then(
      (page) => {
        nextCursor = page.nextCursor;
        merge(page.items);
      },
      (e: unknown) => replace(status, describeError(e)),
    ).finally(() => (more.disabled = false));
  });

  const write = composer({
    id: 'new-post', label: 'New post', placeholder: `What's on your mind, ${ctx.session.me.displayName}?`, button: 'Post', maxLength: LIMITS.post,
    send: async (body, { idempotencyKey }) => void merge([await ctx.api.createPost({ body }, { idempotencyKey })]),
  });
  void follower.start();
  const el = h('section', { class: 'feed' },
    heading,
    h('div', { class: 'card' }, write.el),
    status, list, more);
  return { title: 'Feed', el, dispose: () => follower.stop() };
}
