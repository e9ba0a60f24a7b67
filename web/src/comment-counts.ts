import type { Post } from '../../src/apps/social/schemas';
import { h } from './dom';

/** The `post.comments` event on `feed` (src/apps/social/repos/comment-counts.ts). */
interface PostComments {
  id: number;
  commentCount: number;
}

function label(count: number): string {
  return count === 0 ? 'Comment' : count === 1 ? '1 comment' : `${count} comments`;
}

/** A feed card's link to the post's page, naming how many comments it has ("3 comments"); kept live by `applyCommentCount`. */
export function commentsLink(post: Post): HTMLAnchorElement {
  return h('a', { href: `/posts/${post.id}`, class: 'comments-link', 'data-comment-count': post.commentCount },
    h('span', { class: 'count' }, label(post.commentCount)),
    h('span', { class: 'visually-hidden' }, ` on @${post.author.username}'s post`));
}

/**
 * Applies a `post.comments` event: the post in `posts` gets the new count (so a later redraw shows
 * it), and the card on the page is changed in place, not redrawn, so focus and an open editor in it
 * stay. Returns the posts (a new array when one changed); an unknown post is ignored.
 */
export function applyCommentCount(posts: Post[], data: unknown): Post[] {
  const { id, commentCount } = data as PostComments;
  if (!posts.some((p) => p.id === id)) return posts;
  const link = document.querySelector<HTMLElement>(`#post-${id} [data-comment-count]`);
  if (link !== null) {
    link.dataset.commentCount = String(commentCount);
    link.querySelector('.count')!.textContent = label(commentCount);
  }
  return posts.map((p) => (p.id === id ? { ...p, commentCount } : p));
}
