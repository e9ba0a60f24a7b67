import type { SocialClient } from '../../../src/apps/social/client';
import type { Comment, Post } from '../../../src/apps/social/schemas';
import type { Snapshot } from '../../../src/client';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { actionButton, announce, h, replace, syncChildren } from '../dom';
import { composer, errorLine } from '../forms';
import { commentEditing, editable, editedMark } from '../editor';
import { byline } from '../people';
import { richBody } from '../rich-text';
import { applyReactionEvent, reactionBar } from '../reactions';
import { deleteWithUndo, isPendingDelete } from '../toast';
import { LIMITS } from '../../../src/apps/social/limits';
import { postCard } from '../post-card';

interface PostSnapshot extends Snapshot {
  post: Post;
  comments: Comment[];
}

/**
 * The comments first, then the post: the channel `post:<id>` carries both, and following from the
 * comments' position replays any edit made after it, so the post shown is never older than it.
 * Every page of comments is read (oldest first), so live ones belong at the end.
 */
async function loadPost(api: SocialClient, id: number): Promise<PostSnapshot> {
  const first = await api.listComments(id, { limit: 100 });
  const comments = [...first.items];
  let cursor = first.nextCursor;
  for (let page = 1; cursor !== null && page < 20; page += 1) {
    const next = await api.listComments(id, { cursor, limit: 100 });
    comments.push(...next.items);
    cursor = next.nextCursor;
  }
  const post = await api.getPost(id);
  return { post, comments, channel: first.channel, position: first.position };
}

/** A thread of comments: nested lists built from parentId, each comment's element kept until its version changes. */
class Thread {
  readonly el = h('ol', { class: 'comments', 'aria-label': 'Comments' });
  readonly #nodes = new Map<number, { version: number; li: HTMLLIElement; replies: HTMLOListElement }>();
  readonly #render: (comment: Comment, replies: HTMLOListElement) => HTMLLIElement;

  constructor(render: (comment: Comment, replies: HTMLOListElement) => HTMLLIElement) {
    this.#render = render;
  }

  update(comments: readonly Comment[]): void {
    const children = new Map<number | null, Comment[]>();
    const ids = new Set(comments.map((c) => c.id));
    for (const comment of [...comments].sort((a, b) => a.id - b.id)) {
      // A reply whose parent is not loaded still shows, at the top level.
      const parent = comment.parentId !== null && ids.has(comment.parentId) ? comment.parentId : null;
      children.set(parent, [...(children.get(parent) ?? []), comment]);
    }
    const sync = (list: HTMLOListElement, parent: number | null) => {
      const items = children.get(parent) ?? [];
      syncChildren(list, items.map((c) => this.#node(c)));
      for (const c of items) sync(this.#nodes.get(c.id)!.replies, c.id);
    };
    sync(this.el, null);
    for (const id of [...this.#nodes.keys()]) if (!ids.has(id)) this.#nodes.delete(id);
  }

  #node(comment: Comment): HTMLLIElement {
    const known = this.#nodes.get(comment.id);
    if (known !== undefined && known.version === comment.version) return known.li;
    // Focus inside the old element (its Delete button, a reply being written) must not fall to <body>.
    const focused = known !== undefined && known.li.contains(document.activeElement) ? (document.activeElement as HTMLElement) : undefined;
    const replies = known?.replies ?? h('ol', { class: 'replies' });
    const li = this.#render(comment, replies);
    known?.li.replaceWith(li);
    this.#nodes.set(comment.id, { version: comment.version, li, replies });
    if (focused !== undefined) {
      // Still on the page (inside the kept replies): back to it; else the comment's new element (e.g. "This comment was deleted.").
      const target = focused.isConnected ? focused : li.querySelector('article')!;
      if (!focused.isConnected) target.tabIndex = -1;
      target.focus({ preventScroll: focused.isConnected });
    }
    return li;
  }
}

/** A post, its threaded comments (REST) updating live (`post:<id>`), and a reply box. */
export function postView(ctx: SessionContext, params: Record<string, string>): View {
  const id = Number(params.id);
  let post: Post | undefined;
  let comments: Comment[] = [];
  const postSlot = h('div', { class: 'post-slot' }, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  const count = h('h2', { id: 'comments-title' }, 'Comments');
  const status = h('p', { class: 'muted' });
  const { inbox } = ctx.session;
  const thread = new Thread((comment, replies) => commentItem(comment, replies));

  const render = () => {
    thread.update(comments);
    const live = comments.filter((c) => !c.deleted).length;
    replace(count, `Comments (${live})`);
    replace(status, comments.length === 0 ? 'No comments yet.' : '');
  };
  const upsert = (comment: Comment) => {
    const current = comments.find((c) => c.id === comment.id);
    if (current !== undefined && current.version >= comment.version) return false;
    comments = [...comments.filter((c) => c.id !== comment.id), comment];
    render();
    return current === undefined;
  };
  const showPost = (next: Post) => {
    post = next;
    replace(postSlot, postCard(next, ctx, {
      link: false,
      onDeleted: () => ctx.navigate('/'),
      onEdited: (saved) => {
        if (post === undefined || saved.version > post.version) showPost(saved);
      },
    }));
  };
  /** No post to comment on (not found, or deleted): a notice instead, and no comments card with its forms. */
  const gone = (notice: HTMLElement) => {
    const hadFocus = postSlot.contains(document.activeElement) || commentsCard.contains(document.activeElement);
    replace(postSlot, notice);
    commentsCard.hidden = true;
    if (hadFocus) notice.focus();
  };
  /** The bell does not count comments on the post being read: they are marked read while this tab is visible. */
  const markSeen = () => {
    if (document.visibilityState === 'visible') void inbox.markReadWhere((n) => n.postId === id).catch(() => {});
  };

  function commentItem(comment: Comment, replies: HTMLOListElement): HTMLLIElement {
    const mine = comment.author.id === ctx.session.me.id;
    const error = errorLine();
    const replySlot = h('div', { class: 'reply-slot' });
    const replyButton = actionButton('Reply', () => openReply(), { 'aria-label': `Reply to ${comment.author.username}`, 'aria-expanded': 'false', 'aria-controls': `reply-slot-${comment.id}` });
    replySlot.id = `reply-slot-${comment.id}`;
    /** Escape or Cancel closes the box (its draft kept for the next Reply) and focus goes back to the button. */
    const closeReply = () => {
      replace(replySlot);
      replyButton.setAttribute('aria-expanded', 'false');
      replyButton.focus();
    };
    let draft: ReturnType<typeof composer> | undefined;
    const openReply = () => {
      if (replySlot.firstChild !== null) return closeReply();
      const box = draft ??= composer({
        id: `reply-${comment.id}`, label: `Reply to ${comment.author.username}`, placeholder: `Reply to @${comment.author.username}`, button: 'Reply', maxLength: LIMITS.comment,
        onCancel: closeReply,
        send: async (body, { idempotencyKey }) => {
          upsert(await ctx.api.createComment(id, { body, parentId: comment.id }, { idempotencyKey }));
          // The draft is sent: the box closes, and focus goes back to the button that opened it (the new reply is right below it).
          draft = undefined;
          closeReply();
        },
      });
      replace(replySlot, box.el);
      replyButton.setAttribute('aria-expanded', 'true');
      box.textarea.focus();
    };
    // Hidden at once, sent when the Undo toast expires (web/src/toast.ts); its replies stay.
    const remove = () => deleteWithUndo(() => document.querySelector<HTMLElement>(`#comment-${comment.id} > article`), {
      key: `comment:${comment.id}`,
      message: 'Comment deleted.',
      commit: () => ctx.api.deleteComment(comment.id, { keepalive: true }),
      failed: (e) => error.show(describeError(e)),
    });
    const body = comment.deleted
      ? h('p', { class: 'body deleted' }, 'This comment was deleted.')
      : richBody(comment.body ?? '', { 'data-testid': 'comment-body' });
    // Your own comment's text can be edited in place (web/src/editor.ts); the saved version is drawn at once.
    const editing = mine && !comment.deleted ? editable(commentEditing(ctx, comment, (saved) => void upsert(saved)), () => body) : undefined;
    return h('li', { class: 'comment', id: `comment-${comment.id}`, 'data-comment-id': comment.id },
      h('article', { 'aria-label': `Comment by ${comment.author.username}`, hidden: !comment.deleted && isPendingDelete(`comment:${comment.id}`) },
        byline(comment.author, comment.createdAt, comment.deleted ? null : editedMark(comment.editedAt)),
        editing?.slot ?? body,
        comment.deleted ? null : reactionBar(ctx, 'comment', comment.id, comment.reactions),
        comment.deleted ? null : h('div', { class: 'actions' },
          replyButton,
          editing?.button,
          mine ? actionButton('Delete', remove, { 'aria-label': 'Delete your comment' }) : null),
        error.el, replySlot),
      replies);
  }

  let arrived = false;
  const follower = ctx.realtime.follow({
    load: () => loadPost(ctx.api, id),
    snapshot: (s) => {
      showPost(s.post);
      comments = s.comments;
      render();
      // The first snapshot only: a later one (a resync) must not take the reader somewhere else.
      if (!arrived) scrollToHash();
      arrived = true;
      markSeen();
    },
    message: (m) => {
      if (applyReactionEvent(m.event, m.data)) return;
      if (m.event === 'comment.created' || m.event === 'comment.deleted' || m.event === 'comment.updated') {
        const comment = m.data as Comment;
        if (upsert(comment) && comment.author.id !== ctx.session.me.id) announce(`New comment from ${comment.author.username}`);
      } else if (m.event === 'post.updated') {
        const next = m.data as Post;
        if (post === undefined || next.version > post.version) showPost(next);
      } else if (m.event === 'post.deleted') {
        gone(h('p', { class: 'card notice', role: 'status', tabindex: '-1' }, 'This post was deleted.'));
        comments = [];
        render();
      }
    },
    failed: (e) => gone(h('p', { class: 'card notice', role: 'alert', tabindex: '-1' }, `Could not load this post: ${describeError(e)}`)),
  });

  const write = composer({
    id: 'new-comment', label: 'Add a comment', placeholder: 'Write a comment…', button: 'Comment', maxLength: LIMITS.comment, visibleLabel: true,
    send: async (body, { idempotencyKey }) => void upsert(await ctx.api.createComment(id, { body }, { idempotencyKey })),
  });
  const commentsCard = h('section', { class: 'card', 'aria-labelledby': 'comments-title' }, count, status, thread.el, write.el);
  const el = h('section', { class: 'post-page' },
    h('p', { class: 'back' }, h('a', { href: '/' }, '← Feed')),
    h('h1', { class: 'visually-hidden', tabindex: '-1' }, 'Post'),
    postSlot,
    commentsCard);
  const stops = [inbox.onChange(markSeen)];
  document.addEventListener('visibilitychange', markSeen);
  void follower.start();
  return {
    title: 'Post',
    el,
    dispose: () => {
      follower.stop();
      stops.forEach((stop) => stop());
      document.removeEventListener('visibilitychange', markSeen);
    },
  };
}

/** The comment a link points at (a notification's): highlighted, scrolled to, and focused, so a keyboard or screen reader starts there. */
function scrollToHash(): void {
  const target = location.hash.length > 1 ? document.getElementById(location.hash.slice(1)) : null;
  if (target === null) return;
  target.classList.add('highlight');
  target.scrollIntoView({ block: 'center' });
  const article = target.querySelector<HTMLElement>(':scope > article') ?? target;
  article.tabIndex = -1;
  article.focus({ preventScroll: true });
}
