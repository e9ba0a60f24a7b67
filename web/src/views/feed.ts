import { announce, h } from '../dom';
import { composer } from '../forms';
import { livePostList } from '../post-list';
import type { SessionContext, View } from '../context';
import { LIMITS } from '../../../src/apps/social/limits';

/** The feed: newest first over REST, new posts live from the `feed` channel, older pages on demand. */
export function feedView(ctx: SessionContext): View {
  const heading = h('h1', { tabindex: '-1' }, 'Feed');
  const posts = livePostList(ctx, {
    load: (page) => ctx.api.listPosts(page),
    created: (post, added) => {
      if (added && post.author.id !== ctx.session.me.id) announce(`New post from ${post.author.username}`);
    },
    empty: () => 'No posts yet. Write the first one!',
    failed: 'Could not load the feed',
    loading: 'Loading posts…',
    label: 'Posts',
    focusAfterDrop: heading,
  });
  const write = composer({
    id: 'new-post', label: 'New post', placeholder: `What's on your mind, ${ctx.session.me.displayName}?`, button: 'Post', maxLength: LIMITS.post,
    send: async (body, { idempotencyKey }) => void posts.merge([await ctx.api.createPost({ body }, { idempotencyKey })]),
  });
  posts.start();
  const el = h('section', { class: 'feed' },
    heading,
    h('div', { class: 'card' }, write.el),
    ...posts.elements);
  return { title: 'Feed', el, dispose: () => posts.stop() };
}
