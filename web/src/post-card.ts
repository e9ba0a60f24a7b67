import type { Post } from '../../src/apps/social/schemas';
import { describeError } from './api';
import type { SessionContext } from './context';
import { actionButton, h } from './dom';
import { errorLine } from './forms';
import { commentsLink } from './comment-counts';
import { editable, editedMark, postEditing } from './editor';
import { byline } from './people';
import { richBody } from './rich-text';
import { reactionBar } from './reactions';
import { deleteWithUndo, isPendingDelete } from './toast';

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
    deleteWithUndo(card, {
      key: `post:${post.id}`,
      message: 'Post deleted.',
      commit: async () => {
        await ctx.api.deletePost(post.id, { keepalive: true });
        if (card() !== null) options.onDeleted?.();
      },
      failed: (e) => error.show(describeError(e)),
    });
  };
  return h('article', { class: 'card post', id: `post-${post.id}`, 'data-post-id': post.id, tabindex: '-1', hidden: isPendingDelete(`post:${post.id}`) },
    byline(post.author, post.createdAt, edited ? editedMark(post.updatedAt) : null),
    editing?.slot ?? text(),
    reactionBar(ctx, 'post', post.id, post.reactions),
    h('footer', { class: 'actions' },
      options.link ? commentsLink(post) : null,
      editing?.button,
      mine ? actionButton('Delete', remove, { 'aria-label': 'Delete this post' }) : null),
    error.el,
  );
}
