import type { Post } from '../../src/apps/social/schemas';
import type { ListResult, PageOptions } from '../../src/client';
import { describeError } from './api';
import { applyCommentCount } from './comment-counts';
import type { SessionContext } from './context';
import { h, Keyed, replace, syncChildren } from './dom';
import { postCard } from './post-card';
import { applyReactionEvent } from './reactions';

export interface LivePostListOptions {
  /** A page of posts, newest first: the first (no cursor), then older ones ("Load older posts"). */
  load(page: PageOptions): Promise<ListResult<Post>>;
  /** Whether a live `post.created` belongs in this list (default: every post). */
  accept?(post: Post): boolean;
  /** After a live new post was merged; `added` is false when it was shown already. */
  created?(post: Post, added: boolean): void;
  /** The status line when there are no posts. */
  empty(): string;
  /** What the status line says before the reason when the first load fails ("Could not load the feed"). */
  failed: string;
  /** The status line until the first page is shown. */
  loading?: string;
  /** The list's `aria-label`. */
  label?: string;
  /**
   * Where focus goes when the focused card is dropped and no post is left next to it. Without it,
   * focus is not moved when a card is dropped.
   */
  focusAfterDrop?: HTMLElement;
}

export interface LivePostList {
  /** The status line, the list and the "Load older posts" button, in that order. */
  readonly elements: readonly [HTMLElement, HTMLElement, HTMLElement];
  /** Adds or updates posts by id (the newer version wins), newest first; returns whether any was new. */
  merge(items: readonly Post[]): boolean;
  /** Loads the first page and follows the list's channel (`feed`). */
  start(): void;
  stop(): void;
}

/**
 * A live list of post cards: newest first over REST, kept live from the channel the list names
 * (`post.created`, `post.updated`, `post.deleted`, `post.comments` and reaction counts), older
 * pages on demand.
 */
export function livePostList(ctx: SessionContext, options: LivePostListOptions): LivePostList {
  let posts: Post[] = [];
  let nextCursor: string | null = null;
  const list = h('div', { class: 'post-list', 'aria-label': options.label, role: 'feed', 'aria-busy': 'true' });
  const status = h('p', { class: 'muted', role: 'status' }, options.loading);
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load older posts');
  const cards = new Keyed<Post>((p) => p.id, (p) => String(p.version), (p) => postCard(p, ctx, { link: true, onDeleted: () => drop(p.id), onEdited: (saved) => merge([saved]) }));

  const render = () => {
    syncChildren(list, cards.elements(posts));
    list.setAttribute('aria-busy', 'false');
    replace(status, posts.length === 0 ? options.empty() : '');
    more.hidden = nextCursor === null;
  };
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
  /** Removes a post; if focus was in its card, it moves to the next post (or the previous, or `focusAfterDrop`). */
  const drop = (id: number) => {
    const index = posts.findIndex((p) => p.id === id);
    if (index === -1) return;
    const hadFocus = document.getElementById(`post-${id}`)?.contains(document.activeElement) ?? false;
    posts = posts.filter((p) => p.id !== id);
    render();
    if (!hadFocus || options.focusAfterDrop === undefined) return;
    const next = posts[index] ?? posts[index - 1];
    ((next === undefined ? null : document.getElementById(`post-${next.id}`)) ?? options.focusAfterDrop).focus();
  };

  // The list names its channel (`feed`): the follower subscribes there, from the list's position.
  const follower = ctx.realtime.follow({
    load: () => options.load({ limit: 20 }),
    snapshot: (page) => {
      posts = page.items;
      nextCursor = page.nextCursor;
      render();
    },
    message: (m) => {
      if (applyReactionEvent(m.event, m.data)) return;
      if (m.event === 'post.created') {
        const post = m.data as Post;
        if (options.accept !== undefined && !options.accept(post)) return;
        const added = merge([post]);
        options.created?.(post, added);
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
    failed: (e) => replace(status, `${options.failed}: ${describeError(e)}`),
  });

  more.addEventListener('click', () => {
    if (nextCursor === null) return;
    more.disabled = true;
    options.load({ cursor: nextCursor, limit: 20 }).then(
      (page) => {
        nextCursor = page.nextCursor;
        merge(page.items);
      },
      (e: unknown) => replace(status, describeError(e)),
    ).finally(() => (more.disabled = false));
  });

  return {
    elements: [status, list, more],
    merge,
    start: () => void follower.start(),
    stop: () => follower.stop(),
  };
}
