import type { Post, PublicUser } from '../../../src/apps/social/schemas';
import { TandemClientError } from '../../../src/client';
import { applyCommentCount } from '../comment-counts';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { announce, h, Keyed, replace, syncChildren } from '../dom';
import { errorLine } from '../forms';
import { avatar } from '../people';
import { applyReactionEvent } from '../reactions';
import { postCard } from './feed';

/** "March 2026": when someone joined. */
function joined(iso: string): HTMLTimeElement {
  return h('time', { datetime: iso }, new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'long' }));
}

/** The profile's head: picture, name, @handle, bio, join date, and what you can do (message them, or edit yours). */
function profileHead(user: PublicUser, ctx: SessionContext): HTMLElement {
  const mine = user.id === ctx.session.me.id;
  const error = errorLine();
  const message = async (button: HTMLButtonElement) => {
    button.disabled = true;
    error.show(undefined);
    try {
      const conversation = await ctx.api.openConversation({ members: [user.username] });
      ctx.navigate(`/messages/${conversation.id}`);
    } catch (e) {
      error.show(describeError(e));
      button.disabled = false;
    }
  };
  const messageButton: HTMLButtonElement = h('button', { type: 'button', class: 'primary', on: { click: () => void message(messageButton) } }, 'Message');
  return h('header', { class: 'card profile-head', 'data-user-id': user.id },
    avatar(user, 'large'),
    h('div', { class: 'profile-names' },
      h('h1', { tabindex: '-1' }, h('span', { class: 'display-name' }, user.displayName)),
      h('p', { class: 'handle' }, `@${user.username}`),
      user.bio.trim() === '' ? null : h('p', { class: 'bio' }, user.bio),
      h('p', { class: 'muted joined' }, 'Joined ', joined(user.createdAt))),
    h('div', { class: 'profile-actions' },
      mine ? h('a', { href: '/profile', class: 'button secondary' }, 'Edit your profile') : messageButton,
      error.el));
}

function nobodyHere(username: string): View {
  return {
    title: 'No such person',
    el: h('section', { class: 'card narrow not-found' },
      h('h1', { tabindex: '-1' }, 'No such person'),
      h('p', {}, `Nobody here goes by @${username}. The name may be misspelt, or the account is gone.`),
      h('p', {}, h('a', { href: '/' }, 'Back to the feed'))),
  };
}

/**
 * A public profile (/u/:username): the person over REST (GET /api/users/:username), their posts
 * (GET /api/users/:username/posts, newest first) kept live from the `feed` channel the list names,
 * and their name and picture from `profile.updated` on `people`.
 */
export function userView(ctx: SessionContext, params: Record<string, string>): View {
  const username = params.username ?? '';
  const el = h('section', { class: 'user-page' }, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  const view: View = { title: `@${username}`, el };
  let user: PublicUser | undefined;
  let posts: Post[] = [];
  let nextCursor: string | null = null;
  const list = h('div', { class: 'post-list', role: 'feed', 'aria-busy': 'true' });
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load older posts');
  const head = h('div', { class: 'profile-head-slot' });
  const cards = new Keyed<Post>((p) => p.id, (p) => String(p.version), (p) => postCard(p, ctx, { link: true, onDeleted: () => drop(p.id), onEdited: (saved) => merge([saved]) }));

  const render = () => {
    syncChildren(list, cards.elements(posts));
    list.setAttribute('aria-busy', 'false');
    replace(status, posts.length === 0 ? `${user?.displayName ?? username} has not posted yet.` : '');
    more.hidden = nextCursor === null;
  };
  const merge = (items: readonly Post[]) => {
    const byId = new Map(posts.map((p) => [p.id, p]));
    for (const post of items) {
      const current = byId.get(post.id);
      if (current === undefined || post.version > current.version) byId.set(post.id, post);
    }
    posts = [...byId.values()].sort((a, b) => b.id - a.id);
    render();
  };
  const drop = (id: number) => {
    posts = posts.filter((p) => p.id !== id);
    render();
  };
  const showHead = (person: PublicUser) => {
    user = person;
    view.title = `${person.displayName} (@${person.username})`;
    document.title = `${view.title} · Tandem`;
    replace(head, profileHead(person, ctx));
  };

  const follower = ctx.realtime.follow({
    load: () => ctx.api.listUserPosts(username, { limit: 20 }),
    snapshot: (page) => {
      posts = page.items;
      nextCursor = page.nextCursor;
      render();
    },
    message: (m) => {
      if (applyReactionEvent(m.event, m.data)) return;
      if (m.event === 'post.created') {
        const post = m.data as Post;
        if (post.author.id !== user?.id) return;
        merge([post]);
        if (post.author.id !== ctx.session.me.id) announce(`New post from ${post.author.displayName}`);
      } else if (m.event === 'post.comments') {
        posts = applyCommentCount(posts, m.data);
      } else if (m.event === 'post.updated') {
        const post = m.data as Post;
        if (posts.some((p) => p.id === post.id)) merge([post]);
      } else if (m.event === 'post.deleted') {
        drop((m.data as { id: number }).id);
      }
    },
    failed: (e) => replace(status, `Could not load the posts: ${describeError(e)}`),
  });

  more.addEventListener('click', () => {
    if (nextCursor === null) return;
    more.disabled = true;
    ctx.api.listUserPosts(username, { cursor: nextCursor, limit: 20 }).then(
      (page) => {
        nextCursor = page.nextCursor;
        merge(page.items);
      },
      (e: unknown) => replace(status, describeError(e)),
    ).finally(() => (more.disabled = false));
  });

  let disposed = false;
  const stopPeople = ctx.session.people.onChange((person) => {
    if (person.id === user?.id && person.version >= user.version) showHead(person);
  });
  ctx.api.getUser(username).then(
    (person) => {
      if (disposed) return;
      showHead(ctx.session.people.newest(person));
      replace(el, head, h('h2', { class: 'section-title' }, 'Posts'), status, list, more);
      void follower.start();
    },
    (e: unknown) => {
      if (disposed) return;
      if (e instanceof TandemClientError && e.status === 404) {
        const missing = nobodyHere(username);
        document.title = `${missing.title} · Tandem`;
        replace(el, missing.el);
        missing.el.querySelector('h1')?.focus();
        return;
      }
      replace(el, h('p', { class: 'form-error', role: 'alert' }, `Could not load this profile: ${describeError(e)}`));
    },
  );
  view.dispose = () => {
    disposed = true;
    stopPeople();
    follower.stop();
  };
  return view;
}
